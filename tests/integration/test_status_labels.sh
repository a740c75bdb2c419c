#!/usr/bin/env bash
#
# `riffle status` of a pipeline with delayed labels lists the labels
# topic and the learner group's lag on it, as on the input: a learner
# behind on labels learns late, and the screen showed only the input.
source "$(dirname "$0")/lib.sh"

readonly EVENTS=300
readonly LABELS=200 # of the first events; the rest wait

cfg=$(make_config config/elec2_delayed.cfg)
labels=$(sed -n 's/^ *topic = "\([^"]*labels\)";.*/\1/p' "$cfg")
[[ -n $labels ]] || fail "no labels topic in $cfg"
run_riffle topics create -c "$cfg" >/dev/null

seq 1 "$LABELS" | awk '{ print "elec2-" $1 ",UP" }' >"$WORK/labels.csv"
run_riffle produce -c "$cfg" --without-labels --limit "$EVENTS" --no-progress \
    >/dev/null 2>&1 || fail "produce the events"
run_riffle produce -c "$cfg" --labels "$WORK/labels.csv" --no-progress \
    >/dev/null 2>&1 || fail "produce the labels"

run_riffle status -c "$cfg" >"$WORK/before.txt" 2>"$WORK/before.err" ||
    fail "status: $(tail -3 "$WORK/before.err")"
sed 's/^/    /' "$WORK/before.txt"
grep -Eq "^  labels +$labels +1 +$LABELS\$" "$WORK/before.txt" ||
    fail "labels topic line"
grep -q "^learner group .*, labels $labels:\$" "$WORK/before.txt" ||
    fail "no lag block for the labels topic"
grep -Eq "^  partition 0 +nothing committed yet, lag $LABELS\$" "$WORK/before.txt" ||
    fail "labels lag before the learner"

run_riffle learn -c "$cfg" --idle-exit 3 >"$WORK/learn.json" 2>"$WORK/learn.log" ||
    fail "learn: $(tail -3 "$WORK/learn.log")"
run_riffle status -c "$cfg" >"$WORK/after.txt" 2>"$WORK/after.err" ||
    fail "status: $(tail -3 "$WORK/after.err")"
sed 's/^/    /' "$WORK/after.txt"
# Committed offsets count transaction markers: the lag is what matters.
assert_eq "$(grep -c '^  total lag 0$' "$WORK/after.txt")" 2 \
    "input and labels caught up"
echo "PASS $TEST_NAME"
