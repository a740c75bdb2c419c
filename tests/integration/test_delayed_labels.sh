#!/usr/bin/env bash
#
# Delayed labels on the real broker: 500 Elec2 events arrive without
# their label in two batches, each batch followed by a labels stream
# (riffle produce --labels) that is shuffled, repeats 30 labels, names 10
# events never seen, carries 3 labels the label rules refuse, and ends
# with 30 labels stamped beyond labels.ttl; 100 events never get a valid
# label. A learner runs after each step and stops when idle, so the
# pending events also cross three restarts through the snapshot.
#
# Checked: every event has exactly one prediction, made on arrival with
# the model version of that moment; every label is learned, dead-lettered
# with its reason, or counted as a duplicate (ignored, as configured);
# the progressive accuracy equals the one recomputed from the published
# pre-label predictions; and the weights are bit-identical to riffle
# train on the joined rows in the order their labels came.
#
# Bounded: 500 events, 473 labels, four short learner runs.
source "$(dirname "$0")/lib.sh"

readonly TTL_S=300

mkdir -p "$WORK/src"
cp config/elec2.cfg "$WORK/src/elec2.cfg"
cat >>"$WORK/src/elec2.cfg" <<EOF
labels = {
  topic = "riffle.elec2.labels";
  ttl = $TTL_S.0;
  max_pending = 1000;
  on_duplicate = "ignore";
};
EOF
cfg=$(make_config "$WORK/src/elec2.cfg")
run_riffle topics create -c "$cfg" >/dev/null
# riffle produce numbers the events of each file from 1: the second
# batch gets ids of its own (elec2b-1 is row 301).
sed 's/id_prefix = "elec2"/id_prefix = "elec2b"/' "$cfg" >"$WORK/batch-b.cfg"

# events-a.csv (rows 1-300) and events-b.csv (rows 301-500) without their
# label; the labels files; and train.csv, the joined rows in label order.
python3 - "$WORK" "$TTL_S" <<'PY'
import gzip, random, sys, time
work, ttl_s = sys.argv[1], int(sys.argv[2])
lines = gzip.open("data/elec2/electricity.csv.gz", "rt").read().splitlines()
header, rows = lines[0], lines[1:501]
label_col = header.split(",").index("class")
truth = {i + 1: r.split(",")[label_col] for i, r in enumerate(rows)}
def eid(i):
    return f"elec2-{i}" if i <= 300 else f"elec2b-{i - 300}"
def unlabel(r):
    f = r.split(","); f[label_col] = ""; return ",".join(f)
for name, lo, hi in (("events-a.csv", 1, 300), ("events-b.csv", 301, 500)):
    with open(f"{work}/{name}", "w") as out:
        out.write(header + "\n")
        for i in range(lo, hi + 1):
            out.write(unlabel(rows[i - 1]) + "\n")
rng = random.Random(6)
joined_a = list(range(1, 251)); rng.shuffle(joined_a)
joined_b = list(range(301, 451)); rng.shuffle(joined_b)
labels_a = [f"{eid(i)},{truth[i]}" for i in joined_a]
labels_a += [f"{eid(i)},{truth[i]}" for i in rng.sample(joined_a, 30)]
labels_a += [f"elec2-{9000 + k},UP" for k in range(10)]
labels_a += [f"{eid(i)},FLAT" for i in (251, 252, 253)]
late_ms = int(time.time() * 1000) + (ttl_s + 600) * 1000
labels_b = [f"{eid(i)},{truth[i]}" for i in joined_b]
labels_b += [f"{eid(i)},{truth[i]},{late_ms}" for i in range(251, 281)]
open(f"{work}/labels-a.csv", "w").write("\n".join(labels_a) + "\n")
open(f"{work}/labels-b.csv", "w").write("\n".join(labels_b) + "\n")
with open(f"{work}/train.csv", "w") as out:
    out.write(header + "\n")
    for i in joined_a + joined_b:
        out.write(rows[i - 1] + "\n")
with open(f"{work}/truth.csv", "w") as out:
    for i in joined_a + joined_b:
        out.write(f"{eid(i)},{truth[i]}\n")
PY

learn_until_idle()
{
    run_riffle learn -c "$cfg" --idle-exit 2 >"$WORK/learn$1.json" 2>"$WORK/learn$1.log" ||
        fail "learn $1 failed: $(grep -m3 error "$WORK/learn$1.log")"
}
produce()
{
    local c=$cfg
    [[ $1 == --batch-b ]] && c=$WORK/batch-b.cfg && shift
    run_riffle produce -c "$c" --no-progress "$@" >>"$WORK/produce.json" 2>>"$WORK/produce.log" ||
        fail "produce $* failed: $(tail -3 "$WORK/produce.log")"
}

produce --file "$WORK/events-a.csv" --without-labels
learn_until_idle 1
assert_eq "$(riffle_json "$WORK/learn1.json" 'rows[0]["labels"]["pending"]')" 300 \
    "events waiting for their label after batch a"
produce --labels "$WORK/labels-a.csv"
learn_until_idle 2
# Labels are no events: run 2 read labels only, and says so.
assert_eq "$(riffle_json "$WORK/learn2.json" \
    '(rows[0]["events"], rows[0]["label_messages"], rows[0]["processed"])')" \
    "(0, 293, 293)" "run 2's events, label messages and messages"
grep -q "learn: 0 events and 293 labels (0 predicted," "$WORK/learn2.log" ||
    fail "run 2's progress line does not count labels apart: \
$(grep -m1 'learn: [0-9]* events' "$WORK/learn2.log")"
produce --batch-b --file "$WORK/events-b.csv" --without-labels
learn_until_idle 3
produce --labels "$WORK/labels-b.csv"
learn_until_idle 4
note "last run: $(cat "$WORK/learn4.json")"

summary=$WORK/learn4.json
expect_label()
{
    assert_eq "$(riffle_json "$summary" "rows[0]['labels']['$1']")" "$2" "labels: $1"
}
expect_label joined 400
expect_label duplicate 30
expect_label unknown 10
expect_label expired 30
expect_label pending 0
expect_label events_expired 100
assert_eq "$(riffle_json "$WORK/learn2.json" 'rows[0]["labels"]["invalid"]')" 3 \
    "labels the label rules refuse"
assert_eq "$(riffle_json "$summary" 'rows[0]["model_version"]')" 400 \
    "updates: one per joined label"
# The metrics topic carries the same counters: the report published with
# the last run's final snapshot is the summary's.
run_riffle watch -c "$cfg" metrics --idle-exit 3 >"$WORK/metrics.jsonl" 2>/dev/null
names="['joined', 'unknown', 'expired', 'duplicate', 'invalid', 'pending', 'waiting',
        'events_expired', 'events_evicted']"
assert_eq "$(riffle_json "$WORK/metrics.jsonl" "[rows[-1]['labels'][k] for k in $names]")" \
    "$(riffle_json "$summary" "[rows[0]['labels'][k] for k in $names]")" \
    "the last metrics report's labels vs the summary's"
assert_eq "$(riffle_json "$WORK/metrics.jsonl" "rows[-1]['labels']['joined']")" 400 \
    "joined labels in the last metrics report"

run_riffle watch -c "$cfg" predictions --idle-exit 3 >"$WORK/pred.jsonl" 2>/dev/null
run_riffle watch -c "$cfg" dead-letters --idle-exit 3 >"$WORK/dlq.jsonl" 2>/dev/null

events="[f'elec2-{i}' for i in range(1, 301)] + [f'elec2b-{i}' for i in range(1, 201)]"
assert_eq "$(riffle_json "$WORK/pred.jsonl" \
    "sorted(r['event_id'] for r in rows) == sorted($events)")" \
    True "each event has exactly one prediction"
assert_eq "$(riffle_json "$WORK/pred.jsonl" \
    "sorted(set(r['model_version'] for r in rows))")" "[0, 250]" \
    "model versions of the predictions: batch a before any label, b after a's"
assert_eq "$(riffle_json "$WORK/pred.jsonl" \
    "sum(1 for r in rows if r['label'] is None)")" 500 "predictions without a label"
expected="[('label_unknown', '.labels')] * 10 + [('label_expired', '.labels')] * 30"
expected+=" + [('invalid_label', '.labels')] * 3"
assert_eq "$(riffle_json "$WORK/dlq.jsonl" \
    "sorted((r['reason'], r['source_topic'][-7:]) for r in rows) == sorted($expected)")" \
    True "dead letters: unknown, expired and refused labels, each once"
dead=$(wc -l <"$WORK/dlq.jsonl")
assert_eq $((400 + dead + 30)) 473 "labels = learned + dead-lettered + duplicates"

# The progressive accuracy comes from the predictions made on arrival.
recomputed=$(python3 - "$WORK/pred.jsonl" "$WORK/truth.csv" <<'PY'
import json, sys
pred = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    pred[r["event_id"]] = r["predicted_label"]
truth = dict(line.strip().split(",") for line in open(sys.argv[2]))
print(sum(pred[i] == t for i, t in truth.items()) / len(truth))
PY
)
reported=$(riffle_json "$summary" 'rows[0]["accuracy"]')
assert_eq "$(python3 -c "print(abs($reported - $recomputed) < 1e-12)")" True \
    "accuracy $reported vs $recomputed recomputed from the pre-label predictions"

"$RIFFLE" train -c "$cfg" --file "$WORK/train.csv" >"$WORK/train.json"
assert_same_weights "$summary" "weights vs riffle train on the joined rows in label order"
at_once=$(riffle_json "$WORK/train.json" 'rows[0]["accuracy"]')
note "accuracy $reported over 400 joined events (riffle train, learning each at once: $at_once)"
echo "PASS $TEST_NAME"
