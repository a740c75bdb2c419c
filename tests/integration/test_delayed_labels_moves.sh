#!/usr/bin/env bash
#
# Delayed labels when several partitions move at once, on the real
# broker. Instance a starts alone on the 8 events and 8 labels partitions
# and reads a first batch of 400 unlabelled Elec2 events and half of
# their shuffled labels; then instance b joins, and the group moves half
# of the partitions of each topic (4 input partitions) from a to b in one
# rebalance while events wait in every one of them. b finds the records
# of the 4 partitions in one read of the model topic
# (learn_labels_take_over()) and takes each over; a second batch and the
# rest of the labels follow.
#
# Checked: every event has exactly one prediction; the model updates of
# the two instances equal their joins; every label is counted exactly as
# the data make it (each labelled event joined once, the 40 repeated
# labels duplicates, none unknown, waiting or expired) and every event
# once (740 learned, the 60 never labelled still waiting); b took over
# the 4 partitions' records in one read, each holding waiting events,
# and a handed the same 4 over.
#
# Bounded: 800 events and their labels at 400 messages/s, learners
# exiting 15 s after catching up. LABELS_MOVES_PARTITIONS (default 8)
# changes the partition count, half of which move: a way to time larger
# take-overs (docs/SCALING.md).
source "$(dirname "$0")/lib.sh"

readonly EVENTS=800
readonly RATE=400
readonly PARTITIONS=${LABELS_MOVES_PARTITIONS:-8}
readonly MOVED=$((PARTITIONS / 2))

trap 'stop_started; cleanup_work' EXIT

cfg=$(labels_config "$PARTITIONS")
labels_moves_run "$cfg" "$EVENTS" "$PARTITIONS"

assert_labels_balance "$cfg" "$EVENTS" "$labels_total" "$WORK/a.json" "$WORK/b.json"

both() { riffle_json_sum "$1" "$WORK/a.json" "$WORK/b.json"; }
l='rows[0]["labels"]'
assert_eq "$(both "$l['joined']")" $((EVENTS - 60)) \
    "labels joined: one per labelled event, none lost"
assert_eq "$(both "$l['duplicate']")" 40 "labels counted as duplicates: the 40 sent twice"
assert_eq "$(both "$l['unknown'] + $l['waiting'] + $l['expired']")" 0 \
    "labels unknown, waiting or expired"
assert_eq "$(both "$l['pending']")" 60 "events still waiting: the 60 never labelled"

assert_eq "$(grep -c "took over the delayed-label records of $MOVED partition(s) in" \
    "$WORK/b.log")" 1 "b's reads of the model topic for the moved partitions"
assert_eq "$(grep -c "took over [1-9][0-9]* delayed-label record(s) of partition" "$WORK/b.log")" \
    "$MOVED" "moved partitions whose waiting events b took over"
assert_eq "$(grep -c "moved to another instance with its [1-9][0-9]* delayed-label record(s)" \
    "$WORK/a.log")" "$MOVED" "partitions a handed over with waiting events"
note "b: $(grep -m1 -o "took over the delayed-label records of .*" "$WORK/b.log")"
echo "PASS $TEST_NAME"
