#!/usr/bin/env bash
#
# Delayed labels with two learner instances on the real broker. The
# events and labels topics have 2 partitions each and both are keyed by
# event id (riffle produce and produce --labels), so a label lands in the
# partition of its event and the instance that owns events partition p
# also reads labels partition p (the range assignor of one group).
# 600 Elec2 events come without their label while their labels follow,
# shuffled (some overtaking their event), 40 of them twice, 15 for events
# that never come; 60 events are never labelled.
#
# Checked, over both instances: every event has exactly one prediction;
# every label is learned once by the instance that kept its event, dead-
# lettered once as a duplicate, or still waiting (the counts add up to
# the data's, none is unknown for lack of co-location); each instance's
# progressive accuracy is that of the predictions it published before the
# labels were known. Also: a labels topic with another partition count
# than the events topic stops `learn --instance` at start-up with an error
# naming both topics, and an unlabelled event not keyed by its id is
# dead-lettered, saying why, while the instance goes on.
#
# Bounded: 600 events and 595 labels, two learners exiting 15 s after
# catching up (they start idle, before the streams, and must not leave
# before both are in the group and the streams have begun).
source "$(dirname "$0")/lib.sh"

readonly EVENTS=600
readonly NEVER=60
readonly TWICE=40
readonly UNKNOWN=15
readonly WAIT_S=60

trap 'stop_started; cleanup_work' EXIT

cfg=$(labels_config 2 '  on_duplicate = "dead_letter";')
run_riffle topics create -c "$cfg" >/dev/null

# A labels topic made with 1 partition for an events topic of 2.
one=$WORK/one-partition.cfg
sed -e 's/^  partitions = 2;/  partitions = 1;/' -e 's/\.labels"/.labels1"/' \
    -e 's/\.events"/.events1"/' "$cfg" >"$one"
run_riffle topics create -c "$one" >/dev/null
sed 's/\.labels1"/.labels"/' "$one" >"$WORK/mismatch.cfg"
sed -i 's/\.events1"/.events"/; s/\.labels"/.labels1"/' "$WORK/mismatch.cfg"
rc=0
run_riffle learn -c "$WORK/mismatch.cfg" --instance x --idle-exit 2 >/dev/null \
    2>"$WORK/mismatch.log" || rc=$?
[[ $rc -ne 0 ]] || fail "learn --instance ran with a labels topic of another partition count"
events_topic=$(cfg_topic "$cfg" input)
refusal="labels.topic: ${events_topic%.events}.labels1 has 1 partition(s)"
refusal+=" and the events topic $events_topic has 2"
grep -q "$refusal" "$WORK/mismatch.log" ||
    fail "no clear partition-count error: $(tail -2 "$WORK/mismatch.log")"
note "refused: $(grep -m1 -o 'labels.topic: .* has 2' "$WORK/mismatch.log")"

python3 - "$WORK" "$EVENTS" "$NEVER" "$TWICE" "$UNKNOWN" <<'PY'
import gzip, random, sys
work, events, never_n, twice, unknown = sys.argv[1], *map(int, sys.argv[2:])
lines = gzip.open("data/elec2/electricity.csv.gz", "rt").read().splitlines()
header, rows = lines[0], lines[1:events + 1]
col = header.split(",").index("class")
truth = {i + 1: r.split(",")[col] for i, r in enumerate(rows)}
with open(f"{work}/events.csv", "w") as out:
    out.write(header + "\n")
    for r in rows:
        f = r.split(","); f[col] = ""; out.write(",".join(f) + "\n")
rng = random.Random(606)
never = set(rng.sample(range(1, events + 1), never_n))
labelled = [i for i in range(1, events + 1) if i not in never]
order = sorted(labelled, key=lambda i: i + 30 + rng.uniform(-60, 60))
labels = [f"elec2-{i},{truth[i]}" for i in order]
for i in rng.sample(labelled, twice):
    labels.insert(rng.randrange(len(labels) // 2, len(labels)), f"elec2-{i},{truth[i]}")
for k in range(unknown):
    labels.insert(rng.randrange(len(labels)), f"elec2-{events + 1 + k},UP")
open(f"{work}/labels.csv", "w").write("\n".join(labels) + "\n")
with open(f"{work}/truth.csv", "w") as out:
    for i in labelled:
        out.write(f"elec2-{i},{truth[i]}\n")
PY
labels_total=$(wc -l <"$WORK/labels.csv")

for i in a b; do
    start_learner "$cfg" "$i" "$i" 15
    declare "learner_$i=$last"
done
# Both in the group: since each one's last revocation, the two hold the
# 2 events and 2 labels partitions between them.
settled()
{
    python3 - "$WORK/a.log" "$WORK/b.log" <<'PY'
import sys
held = []
for path in sys.argv[1:]:
    lines = open(path).read().splitlines()
    last = max([k for k, l in enumerate(lines) if "revoked" in l], default=-1)
    held.append(sum("assigned, starting" in l for l in lines[last + 1:]))
sys.exit(0 if sum(held) == 4 and min(held) > 0 else 1)
PY
}
wait_until "the two instances sharing the partitions" settled

run_riffle produce -c "$cfg" --file "$WORK/events.csv" --without-labels --rate 1000 \
    --no-progress >"$WORK/produce.json" 2>"$WORK/produce.log" &
producer=$!
run_riffle produce -c "$cfg" --labels "$WORK/labels.csv" --rate 1000 --no-progress \
    >"$WORK/produce-labels.json" 2>"$WORK/produce-labels.log" ||
    fail "produce --labels failed: $(tail -3 "$WORK/produce-labels.log")"
wait "$producer" || fail "produce failed: $(tail -3 "$WORK/produce.log")"
wait "$learner_a" || fail "learner a failed: $(grep -m3 error "$WORK/a.log")"
wait "$learner_b" || fail "learner b failed: $(grep -m3 error "$WORK/b.log")"
note "a: $(cut -c1-300 "$WORK/a.json")"
note "b: $(cut -c1-300 "$WORK/b.json")"

run_riffle watch -c "$cfg" predictions --idle-exit 3 >"$WORK/pred.jsonl" 2>/dev/null
run_riffle watch -c "$cfg" dead-letters --idle-exit 3 >"$WORK/dlq.jsonl" 2>/dev/null

both() { riffle_json_sum "$1" "$WORK/a.json" "$WORK/b.json"; }
for i in a b; do
    (($(riffle_json "$WORK/$i.json" 'rows[0]["labels"]["joined"]') > 0)) ||
        fail "instance $i joined no label: the partitions were not shared"
done
assert_eq "$(riffle_json "$WORK/pred.jsonl" \
    "sorted(int(r['event_id'].split('-')[1]) for r in rows) == list(range(1, $EVENTS + 1))")" \
    True "each event has exactly one prediction"
assert_eq "$(both 'rows[0]["labels"]["joined"]')" $((EVENTS - NEVER)) \
    "labels joined by the two instances: one per labelled event"
assert_eq "$(both 'rows[0]["learned"]')" $((EVENTS - NEVER)) \
    "events learned by the two instances: each joined event once"
assert_eq "$(both 'rows[0]["labels"]["duplicate"]')" "$TWICE" "labels sent twice"
assert_eq "$(both 'rows[0]["labels"]["unknown"]')" 0 "labels given up as unknown"
assert_eq "$(both 'rows[0]["labels"]["waiting"]')" "$UNKNOWN" \
    "labels still waiting for an event that never came"
assert_eq "$(both 'rows[0]["labels"]["pending"]')" "$NEVER" \
    "events still waiting for a label that never came"
assert_eq "$(riffle_json "$WORK/dlq.jsonl" \
    "sorted(set(r['reason'] for r in rows)), len(rows)")" "(['label_duplicate'], $TWICE)" \
    "dead letters: the second labels, each once"
accounted=$(both '(rows[0]["labels"]["joined"] + rows[0]["labels"]["duplicate"]
    + rows[0]["labels"]["waiting"])')
assert_eq "$accounted" "$labels_total" "labels = learned + dead-lettered + waiting"

# Each instance's accuracy comes from the predictions it published on
# arrival: its events are those of the input partition it was assigned.
python3 - "$WORK" "$events_topic" <<'PY' ||
import json, re, sys
work, topic = sys.argv[1], sys.argv[2]
truth = dict(l.strip().split(",") for l in open(f"{work}/truth.csv"))
pred = {}
for line in open(f"{work}/pred.jsonl"):
    r = json.loads(line)
    pred[r["event_id"]] = (r["source_partition"], r["predicted_label"])
for inst in "ab":
    s = json.loads(open(f"{work}/{inst}.json").read().splitlines()[0])
    lines = open(f"{work}/{inst}.log").read().splitlines()
    # the last assignment: after the revocation before it (one more
    # comes when the instance leaves the group)
    end = max(k for k, l in enumerate(lines) if "assigned, starting" in l)
    last = max([k for k, l in enumerate(lines[:end]) if "revoked" in l], default=-1)
    owned = {int(m.group(1)) for l in lines[last + 1:end + 1]
             for m in [re.search(re.escape(topic) + r" \[(\d+)\]: assigned", l)] if m}
    mine = [i for i in truth if pred[i][0] in owned]
    want = sum(pred[i][1] == truth[i] for i in mine) / len(mine)
    if len(mine) != s["learned"] or abs(s["accuracy"] - want) > 1e-12:
        sys.exit(f"{inst} (partitions {owned}): learned {s['learned']}, accuracy "
                 f"{s['accuracy']}; its published predictions: {len(mine)}, {want}")
    print(f"instance {inst}: partitions {sorted(owned)}, {len(mine)} joined, accuracy {want:.4f}")
PY
    fail "accuracy does not come from the pre-label predictions"
# An event kept for its label but keyed by something else than its id
# (its label would land in another partition) is dead-lettered, naming
# the id field and why, and the instance goes on: it used to stop at
# that message, and again at every restart. Topics and a group of their
# own.
wrong=$WORK/wrong-key.cfg
sed -e 's/\.events"/.events3"/' -e 's/\.labels"/.labels3"/' -e 's/-group"/-group3"/' \
    "$cfg" >"$wrong"
run_riffle topics create -c "$wrong" >/dev/null
kcat -b "$BROKERS" -C -t "$events_topic" -p 0 -o beginning -c 1 -e -q -f '%s' >"$WORK/event.bin"
kcat -b "$BROKERS" -C -t "$events_topic" -p 0 -o 1 -c 1 -e -q -f '%k' >"$WORK/second.key"
kcat -b "$BROKERS" -C -t "$events_topic" -p 0 -o 1 -c 1 -e -q -f '%s' >"$WORK/second.bin"
kcat -b "$BROKERS" -P -t "${events_topic}3" -p 0 -k "not-its-id" "$WORK/event.bin"
kcat -b "$BROKERS" -P -t "${events_topic}3" -p 0 -k "$(cat "$WORK/second.key")" \
    "$WORK/second.bin"
run_riffle learn -c "$wrong" --instance x --idle-exit 3 >"$WORK/wrong.json" \
    2>"$WORK/wrong.log" || fail "learn --instance stopped at a wrongly keyed event: \
$(grep -m1 error "$WORK/wrong.log")"
assert_eq "$(riffle_json "$WORK/wrong.json" '(rows[0]["predicted"], rows[0]["dead_letters"])')" \
    "(1, 1)" "a wrongly keyed event dead-lettered, the next one predicted"
run_riffle watch -c "$wrong" dead-letters --idle-exit 2 >"$WORK/wrong-dlq.jsonl" 2>/dev/null
expected="[('invalid_value', 'event_id', 'the event waits for its label, but its message"
expected+=" is keyed by something else than its id')]"
assert_eq "$(riffle_json "$WORK/wrong-dlq.jsonl" \
    '[(r["reason"], r["field"], r["detail"].split(":")[0]) for r in rows
      if r["source_topic"].endswith(".events3")]')" \
    "$expected" "the dead letter of a wrongly keyed event"
note "refused: $(riffle_json "$WORK/wrong-dlq.jsonl" \
    '[r["detail"] for r in rows if r["source_topic"].endswith(".events3")][0]')"
echo "PASS $TEST_NAME"
