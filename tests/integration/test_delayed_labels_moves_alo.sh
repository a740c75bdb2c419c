#!/usr/bin/env bash
#
# Delayed labels when partitions move, at least once, on the real broker:
# test_delayed_labels_moves.sh with delivery.mode = "at_least_once".
# Instance a starts alone on the 4 events and 4 labels partitions, takes
# a snapshot every 100 events (each publishing the delayed-label records
# of its partitions before its offsets are committed), and reads a first
# batch of 400 unlabelled Elec2 events and half of their shuffled labels;
# then instance b joins and half of the partitions move from a to b while
# events wait in each. a commits its last snapshot's offsets as it lets
# them go; b starts the moved partitions there, takes over the records
# that stand there (learn_labels_take_over_alo()), and relearns what a
# had read since, at least once. A second batch and the rest of the
# labels follow.
#
# Checked: every event has a prediction (some twice, at least once);
# every label is accounted for and none is lost: none unknown, waiting
# or expired, every labelled event joined at least once; the 60 events
# never labelled wait in exactly one store; b took over the records of
# each moved partition and a handed each over. Before the records moved
# at least once, the labels of the events a kept counted as unknown at b.
#
# Bounded: 800 events and their labels at 400 messages/s, learners
# exiting 15 s after catching up.
source "$(dirname "$0")/lib.sh"

readonly EVENTS=800
readonly RATE=400
readonly PARTITIONS=4
readonly MOVED=$((PARTITIONS / 2))

trap 'stop_started; cleanup_work' EXIT

cfg=$(labels_config "$PARTITIONS")
sed -i '/^snapshot = {/,/^};/s/^  every_events = [0-9]*;/  every_events = 100;/' "$cfg"
printf 'delivery = { mode = "at_least_once"; };\n' >>"$cfg"
grep -q '^  every_events = 100;' "$cfg" || fail "could not set the snapshot cadence in $cfg"
labels_moves_run "$cfg" "$EVENTS" "$PARTITIONS"

run_riffle watch -c "$cfg" predictions --idle-exit 3 >"$WORK/pred.jsonl" 2>/dev/null
assert_eq "$(riffle_json "$WORK/pred.jsonl" 'len({r["event_id"] for r in rows})')" \
    "$EVENTS" "distinct events predicted"
note "predictions: $(wc -l <"$WORK/pred.jsonl") for $EVENTS events"

both() { riffle_json_sum "$1" "$WORK/a.json" "$WORK/b.json"; }
l='rows[0]["labels"]'
assert_eq "$(both "$l['unknown'] + $l['waiting'] + $l['expired']")" 0 \
    "labels unknown, waiting or expired: none lost"
assert_eq "$(both "$l['pending']")" 60 "events still waiting: the 60 never labelled, once"
joined=$(both "$l['joined']")
((joined >= EVENTS - 60)) ||
    fail "labels joined: $joined, expected at least one per labelled event ($((EVENTS - 60)))"
note "labels joined: $joined for $((EVENTS - 60)) labelled events (at least once)"

assert_eq "$(grep -c "took over [1-9][0-9]* delayed-label record(s) of partition" "$WORK/b.log")" \
    "$MOVED" "moved partitions whose waiting events b took over"
assert_eq "$(grep -c "moved to another instance with its [1-9][0-9]* delayed-label record(s)" \
    "$WORK/a.log")" "$MOVED" "partitions a handed over with waiting events"
echo "PASS $TEST_NAME"
