#!/usr/bin/env bash
#
# Two pipelines given one consumer group (two configurations with one
# name share riffle-<name>, and with it the learner's static member id):
# the broker hands a returning static member the partitions it held, so
# the second pipeline's learner was assigned the first one's input and
# learned its events into its own model. It must stop instead, naming the
# group and the stranger topic, and read nothing.
source "$(dirname "$0")/lib.sh"

# make_config names its copy after the file it copies: the first moves
# aside before the second is made.
cfg_a=$WORK/a.cfg
mv "$(make_config config/elec2.cfg)" "$cfg_a"
cfg_b=$(make_config config/elec2.cfg)
group_a=$(sed -n 's/.*group_id = "\([^"]*\)".*/\1/p' "$cfg_a")
sed -i "s/group_id = \"[^\"]*\"/group_id = \"$group_a\"/" "$cfg_b"
topic_a=$(cfg_topic "$cfg_a" input)
preds_b=$(cfg_topic "$cfg_b" predictions)

run_riffle topics create -c "$cfg_a" >/dev/null
run_riffle topics create -c "$cfg_b" >/dev/null
run_riffle produce -c "$cfg_a" --limit 300 --no-progress >/dev/null 2>&1
run_riffle learn -c "$cfg_a" --idle-exit 2 >/dev/null 2>"$WORK/learn_a.log" ||
    fail "the first pipeline's learner failed: $(tail -3 "$WORK/learn_a.log")"

# Events the first pipeline has not learned yet, and some of the second's.
run_riffle produce -c "$cfg_a" --limit 200 --no-progress >/dev/null 2>&1
run_riffle produce -c "$cfg_b" --limit 100 --no-progress >/dev/null 2>&1

rc=0
run_riffle learn -c "$cfg_b" --idle-exit 3 >/dev/null 2>"$WORK/learn_b.log" || rc=$?
[[ $rc -ne 0 ]] || fail "the second learner ran on a shared group: $(grep -m3 'assigned' \
    "$WORK/learn_b.log")"
grep -q "the group $group_a assigned $topic_a \[0\], a topic this learner does not read" \
    "$WORK/learn_b.log" ||
    fail "no error naming the group and the topic: $(grep -m3 error "$WORK/learn_b.log")"
grep -q "give each pipeline its own name or kafka.group_id" "$WORK/learn_b.log" ||
    fail "the error does not say what to do: $(grep -m1 error "$WORK/learn_b.log")"
assert_eq "$(topic_end "$preds_b" 1)" 0 "predictions published by the refused learner"
echo "PASS $TEST_NAME"
