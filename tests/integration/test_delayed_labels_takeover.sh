#!/usr/bin/env bash
#
# Delayed labels when an instance dies: instances a and b share the 2
# events and 2 labels partitions; 400 unlabelled Elec2 events and half of
# their shuffled labels come, a is killed with SIGKILL (between two of its
# transactions, after its last snapshot), and b takes a's partition over:
# it must take the waiting events of that partition from a's last
# delayed-label record (<model>#labels/<p>, written with a's snapshot) and
# relearn, without publishing, the messages a committed after it (the
# snapshot every 97 messages falls before a's last commit). The other
# labels follow; then a comes back alone and takes both partitions, with
# their waiting events, from b's clean exit.
#
# Snapshots and records go out in 1 KiB chunks. Checked: every event has
# exactly one prediction; b took a's records (in chunks) over and
# relearned the gap; the model updates equal the joins; and the
# label counts are exactly what the data make: 370 joins (a's snapshot
# and b together), the 20 repeated labels duplicates, none unknown,
# waiting or expired, and the 30 events never labelled still waiting in
# a at the end: no join is lost to the crash and none is counted twice.
#
# Bounded: 400 events at 400/s, a session timeout of 6 s for the
# takeover, b exits 20 s after catching up, a on its return 4 s.
source "$(dirname "$0")/lib.sh"

readonly EVENTS=400
readonly RATE=400
readonly WAIT_S=90
readonly SNAPSHOT_EVERY=97 # messages; a prime, so a's last commit lies past it

trap 'stop_started; cleanup_work' EXIT

cfg=$(labels_config 2)
sed -i 's/^kafka = {/kafka = {\n  session_timeout_ms = 6000;/' "$cfg"
sed -i "s/^  every_events = 10000;/  every_events = $SNAPSHOT_EVERY;/" "$cfg"
grep -q "session_timeout_ms = 6000;" "$cfg" || fail "could not set the session timeout"
grep -q "every_events = $SNAPSHOT_EVERY;" "$cfg" || fail "could not set the snapshot cadence"
# 1 KiB chunks: the records (tens of KB) go out in chunks, as large ones do
sed -i "s/^  every_events = $SNAPSHOT_EVERY;/&\n  chunk_bytes = 1024;/" "$cfg"
grep -q "chunk_bytes = 1024;" "$cfg" || fail "could not set snapshot.chunk_bytes"
run_riffle topics create -c "$cfg" >/dev/null

# 370 of the 400 events labelled, shuffled, 20 labels twice; the first
# 200 labels before the kill, the rest after.
unlabelled_events "$EVENTS"
python3 - "$WORK" "$EVENTS" <<'PY'
import random, sys
work, events = sys.argv[1], int(sys.argv[2])
in_order = open(f"{work}/labels.csv").read().splitlines()  # elec2-1 first
rng = random.Random(6161)
labelled = sorted(rng.sample(range(1, events + 1), events - 30))
labels = [in_order[i - 1] for i in labelled]
rng.shuffle(labels)
labels += rng.sample(labels, 20)
open(f"{work}/labels-early.csv", "w").write("\n".join(labels[:200]) + "\n")
open(f"{work}/labels-late.csv", "w").write("\n".join(labels[200:]) + "\n")
PY
labels_total=$(cat "$WORK"/labels-*.csv | wc -l)

produce()
{
    local name=$1
    shift
    run_riffle produce -c "$cfg" --rate "$RATE" --no-progress "$@" >/dev/null \
        2>"$WORK/$name.log" || fail "produce $name failed: $(tail -3 "$WORK/$name.log")"
}

# a alone first (4 partitions), then b: each ends with one of each topic
start_learner "$cfg" a a1 0
learner_a=$last
wait_for "assigned, starting" 4 "$WORK/a1.log"
start_learner "$cfg" b b 20
learner_b=$last
wait_for "assigned, starting" 2 "$WORK/b.log"
wait_for "assigned, starting" 6 "$WORK/a1.log"
produce events --file "$WORK/events.csv" --without-labels
produce labels-early --labels "$WORK/labels-early.csv"
wait_until "the first predictions" predicted "$cfg" "$EVENTS"
sleep 3 # a commits its last batch of labels, then idles: the kill falls between transactions
kill_hard "$learner_a" a
a_part=$(sed -n "s/.*$(cfg_topic "$cfg" input) \[\([0-9]*\)\]: assigned.*/\1/p" "$WORK/a1.log" |
    tail -1)
[[ -n $a_part ]] || fail "a's input partition is not in its log"
grep -q "snapshot of model elec2@a version" "$WORK/a1.log" ||
    fail "a wrote no snapshot before the kill"

produce labels-late --labels "$WORK/labels-late.csv"
wait "$learner_b" || fail "learner b failed: $(grep -m3 error "$WORK/b.log")"
grep -q "taking over from instance elec2@a.*relearning" "$WORK/b.log" ||
    fail "b did not take a's partition over with its gap: $(grep -m3 taking "$WORK/b.log")"
grep -q "took over [1-9][0-9]* delayed-label record(s) of partition $a_part" "$WORK/b.log" ||
    fail "b did not take a's waiting events over: $(grep -m3 labels "$WORK/b.log")"
(($(riffle_json "$WORK/b.json" 'rows[0]["replayed"]') > 0)) || fail "b relearned nothing"
replayed=$(riffle_json "$WORK/b.json" 'rows[0]["replayed"]')
took=$(grep -m1 -o "took over [0-9]* delayed-label record(s) of partition $a_part" "$WORK/b.log")
note "b: relearned $replayed message(s) of a's gap; $took"

chunks=$(kcat -b "$BROKERS" -C -t "$(cfg_topic "$cfg" models)" -e -q -f '%k\n' |
    grep -c "^elec2#labels/$a_part/chunk/" || true)
((chunks > 0)) || fail "no chunk of a's delayed-label records on the model topic"

# a comes back alone: its snapshot, then both partitions with b's records
start_learner "$cfg" a a2 4
wait "$last" || fail "learner a failed on its return: $(grep -m3 error "$WORK/a2.log")"
assert_eq "$(riffle_json "$WORK/a2.json" 'rows[0]["replayed"]')" 0 \
    "messages a relearned on its return"

run_riffle watch -c "$cfg" predictions --idle-exit 3 >"$WORK/pred.jsonl" 2>/dev/null
assert_eq "$(riffle_json "$WORK/pred.jsonl" 'len(rows), len({r["event_id"] for r in rows})')" \
    "($EVENTS, $EVENTS)" "predictions, distinct events predicted"

both() { riffle_json_sum "$1" "$WORK/a2.json" "$WORK/b.json"; }
l='rows[0]["labels"]'
assert_eq "$(both 'rows[0]["learned"]')" "$(both "$l[\"joined\"]")" \
    "model updates: one per joined label"
assert_eq "$(both "$l['joined']")" $((EVENTS - 30)) "labels joined: one per labelled event"
assert_eq "$(both "$l['duplicate']")" 20 "labels counted as duplicates: the 20 sent twice"
assert_eq "$(both "$l['unknown'] + $l['waiting'] + $l['expired']")" 0 \
    "labels unknown, waiting or expired"
assert_eq "$(( $(both "$l['joined'] + $l['duplicate']") ))" "$labels_total" "labels counted"
# the waiting events are a's now, which holds both partitions' records
assert_eq "$(riffle_json "$WORK/a2.json" "$l['pending']")" 30 "events still waiting in a"
echo "PASS $TEST_NAME"
