#!/usr/bin/env bash
#
# A snapshot's input offsets that no longer fit the topic. Before the fix
# librdkafka reset them silently to the start of the partition:
#   - past the end (the input topic deleted and created again): the
#     default snapshot.on_offset_past_end = "stop" refuses to go on,
#     naming topic, partition, the snapshot's offset and the partition's
#     start and end; "latest" skips to the end and a snapshot records it,
#     so that a later run does not skip the events that came meanwhile;
#     "earliest" learns the recreated partition from its start;
#   - before the start (records deleted as retention would): a warning
#     with the number of events lost, counted, and learning goes on from
#     the start.
# Every case is counted in the learn summary. Last, the group's committed
# offset alone past the end (as a broker that lost records leaves it):
# exactly once, the events from the end on are new and must be
# published, not taken for replays of what the offset covered. One
# partition, exactly once (the default mode); then the past-the-end
# cases again at least once.
source "$(dirname "$0")/lib.sh"

readonly FIRST=3000 RECREATED=1000 LATER=200 MORE=300 FAR=4000 NEW=100
CLASSPATH_JARS=$(scripts/kafka classpath)

# a short session: the group empties soon after a run, so that the test
# can commit into it
cfg=$(make_config config/elec2.cfg)
sed -i 's/^kafka = {/kafka = {\n  session_timeout_ms = 6000;/' "$cfg"
group=$(sed -n 's/^ *group_id = "\([^"]*\)".*/\1/p' "$cfg")
topic=$(cfg_topic "$cfg" input)
# the same pipeline with another action for an offset past the end
with_action()
{
    sed "s/^snapshot = {/snapshot = {\n  on_offset_past_end = \"$1\";/" "$cfg" \
        >"$WORK/$1.cfg"
    echo "$WORK/$1.cfg"
}
latest=$(with_action latest)
earliest=$(with_action earliest)

# topic_records ARGS...: TopicRecords.java (its Java logging kept apart)
topic_records()
{
    java -cp "$CLASSPATH_JARS" tests/integration/TopicRecords.java "$BROKERS" "$@" \
        2>"$WORK/topic_records.err" || { tail -3 "$WORK/topic_records.err" >&2; return 1; }
}
recreate_input()
{
    topic_records delete "$topic" || fail "cannot delete $topic"
    run_riffle topics create -c "$cfg" >/dev/null
    run_riffle produce -c "$cfg" --no-progress --limit "$1" >/dev/null 2>&1
}
# learn NAME CFG: one run until idle, its summary in NAME.json, its log in
# NAME.log, its exit status in $rc
learn()
{
    rc=0
    run_riffle learn -c "$2" --idle-exit 2 >"$WORK/$1.json" 2>"$WORK/$1.log" || rc=$?
}
summary() { riffle_json "$WORK/$1.json" "rows[0]['$2']"; }

run_riffle topics create -c "$cfg" >/dev/null
run_riffle produce -c "$cfg" --no-progress --limit "$FIRST" >/dev/null 2>&1
learn first "$cfg"
assert_eq "$rc" 0 "exit status of the first run"
assert_eq "$(summary first processed)" "$FIRST" "events learned by the first run"
end=$(topic_end "$topic" 1)
note "snapshot at offset $end of $topic [0]"

# --- past the end, default: stop ---------------------------------------
recreate_input "$RECREATED"
short_end=$(topic_end "$topic" 1)
((short_end < end)) || fail "the recreated topic ends at $short_end, not below $end"
learn stopped "$cfg"
[[ $rc != 0 ]] ||
    fail "learn went on from an offset past the end: $(grep -m2 consumer "$WORK/stopped.log")"
grep -q "$topic \[0\]: snapshot offset $end is past the partition's end $short_end (start 0)" \
    "$WORK/stopped.log" ||
    fail "no warning naming the offsets: $(grep -m3 -i 'offset' "$WORK/stopped.log")"
grep -q 'snapshot.on_offset_past_end is "stop"' "$WORK/stopped.log" ||
    fail "the error does not name the setting: $(tail -2 "$WORK/stopped.log")"
[[ ! -s "$WORK/stopped.json" ]] ||
    assert_eq "$(summary stopped processed)" 0 "events learned by the stopped run"

# --- past the end, "latest": skip to the end, and remember it -----------
learn latest "$latest"
assert_eq "$rc" 0 "exit status with on_offset_past_end = latest"
assert_eq "$(summary latest processed)" 0 "events learned after skipping to the end"
assert_eq "$(summary latest offsets_past_end)" 1 "offsets past the end counted (latest)"
grep -q "$topic \[0\]: going on from offset $short_end" "$WORK/latest.log" ||
    fail "no word of where latest goes on: $(grep -m3 consumer "$WORK/latest.log")"

run_riffle produce -c "$cfg" --no-progress --limit "$LATER" >/dev/null 2>&1
learn after_latest "$cfg"
assert_eq "$rc" 0 "exit status after latest (its snapshot holds the end it skipped to)"
assert_eq "$(summary after_latest processed)" "$LATER" "events that came after the skip"
assert_eq "$(summary after_latest offsets_past_end)" 0 "offsets past the end after latest"

# --- before the start: retention deleted events the model never saw -----
snap=$(topic_end "$topic" 1)
run_riffle produce -c "$cfg" --no-progress --limit "$MORE" >/dev/null 2>&1
low=$(topic_records truncate "$topic" 0 $((snap + 100))) || fail "cannot delete records of $topic"
assert_eq "$low" $((snap + 100)) "log start after deleting records"
new_end=$(topic_end "$topic" 1)
learn retention "$cfg"
assert_eq "$rc" 0 "exit status after retention"
assert_eq "$(summary retention offsets_before_start)" 1 "offsets before the start counted"
assert_eq "$(summary retention lost_to_retention)" 100 "events lost to retention counted"
assert_eq "$(summary retention processed)" $((new_end - low)) "events learned after the loss"
lost="before the partition's start $low (end $new_end): 100 event(s) were deleted by retention"
grep -q "$topic \[0\]: snapshot offset $snap is $lost" "$WORK/retention.log" ||
    fail "no warning of the loss: $(grep -m3 consumer "$WORK/retention.log")"

# --- past the end, "earliest": learn the recreated partition ------------
recreate_input "$RECREATED"
learn earliest "$earliest"
assert_eq "$rc" 0 "exit status with on_offset_past_end = earliest"
assert_eq "$(summary earliest offsets_past_end)" 1 "offsets past the end counted (earliest)"
assert_eq "$(summary earliest processed)" "$(topic_end "$topic" 1)" \
    "events of the recreated partition learned from its start"

# --- the group's committed offset past the end ---------------------------
end=$(topic_end "$topic" 1)
commit_far()
{
    java -cp "$CLASSPATH_JARS" tests/integration/GroupOffsets.java "$BROKERS" "$group" \
        "$topic" 0 $((end + FAR)) >/dev/null 2>&1
}
WAIT_S=60 wait_until "a commit into the emptied group $group" commit_far
# the new events come once the learner has its partition: those the
# partition held before can only be told apart by their offsets
trap 'stop_started; cleanup_work' EXIT
"$RIFFLE" learn -c "$cfg" --brokers "$BROKERS" --idle-exit 3 \
    >"$WORK/far.json" 2>"$WORK/far.log" &
started+=($!)
wait_for "assigned, starting at offset" 1 "$WORK/far.log"
run_riffle produce -c "$cfg" --no-progress --limit "$NEW" >/dev/null 2>&1
rc=0
wait "${started[0]}" || rc=$?
started=()
assert_eq "$rc" 0 "exit status with the committed offset past the end"
assert_eq "$(summary far processed)" "$NEW" "events learned after the lost records"
assert_eq "$(summary far replayed)" 0 "new events taken for replays"
assert_eq "$(summary far predicted)" "$NEW" "predictions published for the new events"
far="the group's committed offset $((end + FAR)) is past the partition's end $end"
grep -q "$topic \[0\]: $far" "$WORK/far.log" ||
    fail "no warning of the committed offset: $(grep -m3 consumer "$WORK/far.log")"

# --- at least once: the same stop, skip and memory of the skip ----------
cfg=$(make_config config/elec2.cfg)
printf 'delivery = { mode = "at_least_once"; };\n' >>"$cfg"
topic=$(cfg_topic "$cfg" input)
latest=$(with_action latest)
run_riffle topics create -c "$cfg" >/dev/null
run_riffle produce -c "$cfg" --no-progress --limit "$FIRST" >/dev/null 2>&1
learn alo_first "$cfg"
assert_eq "$(summary alo_first processed)" "$FIRST" "at least once: events of the first run"
end=$(topic_end "$topic" 1)
recreate_input "$RECREATED"
short_end=$(topic_end "$topic" 1)
learn alo_stopped "$cfg"
[[ $rc != 0 ]] || fail "at least once: learn went on from an offset past the end"
grep -q "$topic \[0\]: snapshot offset $end is past the partition's end $short_end (start 0)" \
    "$WORK/alo_stopped.log" || fail "at least once: no warning naming the offsets"
learn alo_latest "$latest"
assert_eq "$rc" 0 "at least once: exit status with on_offset_past_end = latest"
assert_eq "$(summary alo_latest processed)" 0 "at least once: events after skipping to the end"
assert_eq "$(summary alo_latest offsets_past_end)" 1 "at least once: offsets past the end"
run_riffle produce -c "$cfg" --no-progress --limit "$LATER" >/dev/null 2>&1
learn alo_after "$cfg"
assert_eq "$rc" 0 "at least once: exit status after latest"
assert_eq "$(summary alo_after processed)" "$LATER" "at least once: events after the skip"
echo "PASS $TEST_NAME"
