#!/usr/bin/env bash
#
# Delayed labels across a rebalance and a SIGKILL of an instance, on the
# real broker. Instance a starts alone on the 2 events and 2 labels
# partitions and reads a first batch of 400 unlabelled Elec2 events and
# half of their shuffled labels; then instance b joins (the group moves
# one partition of each topic from a to b while events wait there), a
# second batch and the rest of the labels follow, and b is killed with
# SIGKILL in the middle and restarted under the same name. The revocation
# comes between two of a's batches: a must still commit a snapshot then,
# or b relearns events a's model holds (their labels were counted twice
# before a's revoke hook did).
#
# The events waiting in a partition move with it (docs/SCALING.md, "when
# a partition moves"): b takes over the moved partition's delayed-label
# records from a's revoke commit, and after the SIGKILL (once b has
# committed part of the second batch, before any snapshot of its own) the
# restarted b takes them over again from the newest record and relearns
# what it had committed on top of them. Checked: every event has
# exactly one prediction; the model updates of the two instances equal
# their joins; every label is counted exactly as the data make it (each
# labelled event joined once, the 40 repeated labels duplicates, none
# unknown, waiting or expired) and every event once (740 learned, the 60
# never labelled still waiting): no join is lost to the move or the kill.
#
# Bounded: 800 events and their labels at 400 messages/s, learners
# exiting 15 s after catching up.
source "$(dirname "$0")/lib.sh"

readonly EVENTS=800
readonly RATE=400
readonly WAIT_S=90

trap 'stop_started; cleanup_work' EXIT

cfg=$(labels_config 2)
run_riffle topics create -c "$cfg" >/dev/null
sed 's/id_prefix = "elec2"/id_prefix = "second"/' "$cfg" >"$WORK/second.cfg"

labels_two_batches "$EVENTS" 6060
labels_total=$(cat "$WORK"/labels-*.csv | wc -l)

start_learner "$cfg" a a 15
learner_a=$last
wait_for "assigned, starting" 4 "$WORK/a.log"
produce_at_rate "$cfg" events-one --file "$WORK/events-one.csv" --without-labels
# half of the first batch's labels now, the rest after the move
head -n 200 "$WORK/labels-one.csv" >"$WORK/labels-one-early.csv"
tail -n +201 "$WORK/labels-one.csv" >"$WORK/labels-one-late.csv"
produce_at_rate "$cfg" labels-one --labels "$WORK/labels-one-early.csv"
wait_until "a's first predictions" predicted "$cfg" $((EVENTS / 2))

# b joins while events wait in a: a rebalance in the middle.
start_learner "$cfg" b b1 15
learner_b=$last
wait_for "assigned, starting" 2 "$WORK/b1.log"
produce_at_rate "$WORK/second.cfg" events-two --file "$WORK/events-two.csv" --without-labels &
events_two=$!
# b has committed part of the second batch (some of its partition's
# predictions are out) but has no snapshot of its own: after the kill it
# must take a's record over and relearn what it committed on top of it.
b_part=$(sed -n "s/.*$(cfg_topic "$cfg" input) \[\([0-9]*\)\]: assigned.*/\1/p" "$WORK/b1.log" |
    head -1)
[[ -n $b_part ]] || fail "b's input partition is not in its log"
b_committed()
{
    run_riffle watch -c "$cfg" predictions --idle-exit 1 2>/dev/null >"$WORK/pred-b.jsonl"
    [[ $(riffle_json "$WORK/pred-b.jsonl" \
        "sum(1 for r in rows if r['event_id'].startswith('second-')
            and r['source_partition'] == $b_part)") -ge 10 ]]
}
wait_until "b's first commit" b_committed
kill_hard "$learner_b" b
start_learner "$cfg" b b2 15
learner_b=$last
wait "$events_two" || fail "the second batch of events was not produced"
produce_at_rate "$cfg" labels-one-late --labels "$WORK/labels-one-late.csv"
produce_at_rate "$cfg" labels-two --labels "$WORK/labels-two.csv"
wait "$learner_a" || fail "learner a failed: $(grep -m3 error "$WORK/a.log")"
wait "$learner_b" || fail "learner b failed: $(grep -m3 error "$WORK/b2.log")"
note "a: $(cut -c1-200 "$WORK/a.json")"
note "b: $(cut -c1-200 "$WORK/b2.json")"

assert_labels_balance "$cfg" "$EVENTS" "$labels_total" "$WORK/a.json" "$WORK/b2.json"

both() { riffle_json_sum "$1" "$WORK/a.json" "$WORK/b2.json"; }
l='rows[0]["labels"]'
labelled=$((EVENTS - 60))
assert_eq "$(both "$l['joined']")" "$labelled" "labels joined: one per labelled event, none lost"
assert_eq "$(both "$l['duplicate']")" 40 "labels counted as duplicates: the 40 sent twice"
assert_eq "$(both "$l['unknown'] + $l['waiting'] + $l['expired']")" 0 \
    "labels unknown, waiting or expired"
assert_eq "$(both "$l['pending']")" 60 "events still waiting: the 60 never labelled"
grep -q "took over [1-9][0-9]* delayed-label record(s) of partition" "$WORK/b1.log" ||
    fail "b did not take over the moved partition's waiting events:" \
        "$(grep -m3 labels "$WORK/b1.log")"
grep -q "moved to another instance with its [1-9][0-9]* delayed-label record(s)" "$WORK/a.log" ||
    fail "a did not hand over the moved partition's records"
# (b's first own snapshot is due 30 s after its start: should a slow
# machine let it come before the kill, b restarts from it instead)
grep -q "restored model elec2@b" "$WORK/b2.log" ||
    (($(riffle_json "$WORK/b2.json" 'rows[0]["replayed"]') > 0)) ||
    fail "b relearned nothing after the kill: the gap on top of the record was not exercised"
grep -q "restored model elec2@b" "$WORK/b2.log" ||
    grep -q "took over [0-9]* delayed-label record(s) of partition $b_part" "$WORK/b2.log" ||
    fail "b did not take its partition's records over again after the kill"
replayed=$(riffle_json "$WORK/b2.json" 'rows[0]["replayed"]')
took=$(grep -m1 -o "took over [0-9]* delayed-label record(s)" "$WORK/b2.log" ||
    echo "restored its own snapshot")
note "b after the kill: relearned $replayed message(s); $took"
echo "PASS $TEST_NAME"
