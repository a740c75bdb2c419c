#!/usr/bin/env bash
#
# Exactly once with delayed labels through crashes: 20,000 Elec2 events
# arrive without their label while their labels follow on the labels
# topic, shuffled (some overtaking their event), 500 of them twice, 100
# for events that never come, and 1,000 events never labelled. `learn` is
# killed with SIGKILL at four random moments while both streams are being
# produced, with labels pending, and restarted each time.
#
# Afterwards, read with read_committed: every event has exactly one
# prediction; every label is learned once (the model made exactly one
# update per joined label), dead-lettered once as a duplicate, or still
# waiting for its event: the counts equal those the data dictate, not
# those of one interleaving of the two topics.
#
# Bounded: both streams at 2,500 messages/s (8 s), each learner lives 2
# to 4 s, the final run exits 3 s after catching up.
source "$(dirname "$0")/lib.sh"

readonly EVENTS=20000
readonly KILLS=4
readonly RATE=2500

mkdir -p "$WORK/src"
sed 's/every_events = 10000;/every_events = 2000;/' config/elec2.cfg >"$WORK/src/elec2.cfg"
cat >>"$WORK/src/elec2.cfg" <<'EOF'
labels = {
  topic = "riffle.elec2.labels";
  ttl = 86400.0;
  max_pending = 100000;
};
EOF
cfg=$(make_config "$WORK/src/elec2.cfg")
run_riffle topics create -c "$cfg" >/dev/null

python3 - "$WORK" "$EVENTS" <<'PY'
import gzip, random, sys
work, events = sys.argv[1], int(sys.argv[2])
lines = gzip.open("data/elec2/electricity.csv.gz", "rt").read().splitlines()
header, rows = lines[0], lines[1:]
label_col = header.split(",").index("class")
rng = random.Random(66)
with open(f"{work}/events.csv", "w") as out:
    out.write(header + "\n")
    for i in range(events):
        f = rows[i % len(rows)].split(","); f[label_col] = ""
        out.write(",".join(f) + "\n")
truth = {i + 1: rows[i % len(rows)].split(",")[label_col] for i in range(events)}
never = set(rng.sample(range(1, events + 1), 1000))
labelled = [i for i in range(1, events + 1) if i not in never]
# each label about 300 messages behind its event, give or take 400: some
# overtake it
order = sorted(labelled, key=lambda i: i + 300 + rng.uniform(-400, 400))
labels = [f"elec2-{i},{truth[i]}" for i in order]
for i in rng.sample(labelled, 500):
    labels.insert(rng.randrange(len(labels) // 2, len(labels)), f"elec2-{i},{truth[i]}")
for k in range(100):
    labels.insert(rng.randrange(len(labels)), f"elec2-{events + 1 + k},UP")
open(f"{work}/labels.csv", "w").write("\n".join(labels) + "\n")
PY
labels_total=$(wc -l <"$WORK/labels.csv")

run_riffle produce -c "$cfg" --file "$WORK/events.csv" --without-labels --rate "$RATE" \
    --no-progress >"$WORK/produce.json" 2>"$WORK/produce.log" &
events_producer=$!
sleep 0.5
run_riffle produce -c "$cfg" --labels "$WORK/labels.csv" --rate "$RATE" \
    --no-progress >"$WORK/produce-labels.json" 2>"$WORK/produce-labels.log" &
labels_producer=$!

for ((k = 1; k <= KILLS; k++)); do
    # riffle itself in the background: $! must be the learner's own pid
    "$RIFFLE" learn -c "$cfg" --brokers "$BROKERS" >"$WORK/learn$k.json" 2>"$WORK/learn$k.log" &
    learner=$!
    pause=$(python3 -c 'import random; print(round(random.uniform(2.0, 4.0), 2))')
    sleep "$pause"
    kill_hard "$learner" "learner $k"
    restored=$(grep -o 'restored model [^:]*' "$WORK/learn$k.log" || echo 'no snapshot yet')
    note "kill $k after ${pause}s: $restored"
done
wait "$events_producer" || fail "produce failed: $(tail -3 "$WORK/produce.log")"
wait "$labels_producer" || fail "produce --labels failed: $(tail -3 "$WORK/produce-labels.log")"

run_riffle learn -c "$cfg" --idle-exit 3 >"$WORK/final.json" 2>"$WORK/final.log" ||
    fail "final learn failed: $(grep -m3 error "$WORK/final.log")"
note "final run: $(cat "$WORK/final.json")"
summary=$WORK/final.json

run_riffle watch -c "$cfg" predictions --idle-exit 3 >"$WORK/pred.jsonl" 2>/dev/null
run_riffle watch -c "$cfg" dead-letters --idle-exit 3 >"$WORK/dlq.jsonl" 2>/dev/null

assert_eq "$(riffle_json "$WORK/pred.jsonl" \
    "sorted(int(r['event_id'].split('-')[1]) for r in rows) == list(range(1, $EVENTS + 1))")" \
    True "each event has exactly one prediction"
assert_eq "$(riffle_json "$WORK/dlq.jsonl" \
    "sorted(set(r['reason'] for r in rows))")" "['label_duplicate']" "dead-letter reasons"
assert_eq "$(riffle_json "$WORK/dlq.jsonl" "len(set(r['source_offset'] for r in rows))")" 500 \
    "labels dead-lettered, each once, as duplicates"
assert_eq "$(wc -l <"$WORK/dlq.jsonl")" 500 "dead letters"
assert_eq "$(riffle_json "$summary" 'rows[0]["labels"]["joined"]')" $((EVENTS - 1000)) \
    "labels joined: one per labelled event"
assert_eq "$(riffle_json "$summary" 'rows[0]["model_version"]')" $((EVENTS - 1000)) \
    "model updates: each joined event learned once"
assert_eq "$(riffle_json "$summary" 'rows[0]["labels"]["waiting"]')" 100 \
    "labels still waiting for an event that never came"
assert_eq "$(riffle_json "$summary" 'rows[0]["labels"]["pending"]')" 1000 \
    "events still waiting for a label that never came"
accounted=$(riffle_json "$summary" \
    'rows[0]["labels"]["joined"] + rows[0]["labels"]["duplicate"] + rows[0]["labels"]["waiting"]')
assert_eq "$accounted" "$labels_total" "labels = learned + dead-lettered + waiting"
echo "PASS $TEST_NAME"
