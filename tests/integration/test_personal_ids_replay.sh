#!/usr/bin/env bash
#
# `riffle dlq replay` of labels under a personal event id (personal =
# "pseudonym" on the id field), on the real broker. 10 labels, keyed by
# the raw ids elec2-1..10, come before their events; a label stamped past
# labels.ttl moves the store's clock, so the 10 are given up as unknown
# and dead-lettered (their raw key sealed, the Kafka key its dead-letter
# pseudonym). Their events then come and wait; the replay reinjects the
# 10 labels under their raw keys (opened from the seal), and the learner,
# which pseudonymizes a label's key on arrival, joins each once: the
# label is neither lost nor pseudonymized twice.
#
# Checked: the counts at each step (10 unknown, 10 pending, 10 replayed,
# 10 joined); and no raw id in any output topic (keys, headers, values),
# in riffle watch's dead letters, in the replay's summary, nor in the
# debug logs of the learners and the replay. The scan is checked to find
# the raw ids in the labels topic.
#
# Bounded: 10 events, 11 labels, three short learner runs and a replay.
source "$(dirname "$0")/lib.sh"

readonly EVENTS=10
readonly TTL_S=300

trap 'cleanup_work' EXIT
export RIFFLE_LOG_LEVEL=debug

cfg=$(labels_config 1)
sed -i "s/ttl = 86400.0;/ttl = $TTL_S.0;/" "$cfg"
sed -i 's/{ name = "event_id";  kind = "id"; }/{ name = "event_id";  kind = "id"; personal = "pseudonym"; }/' \
    "$cfg"
grep -q "ttl = $TTL_S.0;" "$cfg" || fail "could not set labels.ttl"
grep -q 'kind = "id"; personal = "pseudonym"' "$cfg" ||
    fail "config/elec2.cfg's id field changed: the test cannot mark it personal"
cat >>"$cfg" <<EOF
privacy = {
  key_file = "config/secrets/pseudonym.key.example";
  key_id = "ex1";
  dead_letter_key_file = "config/secrets/dead_letter.key.example";
};
EOF
run_riffle topics create -c "$cfg" >/dev/null

python3 - "$WORK" "$EVENTS" "$TTL_S" <<'PY'
import gzip, sys, time
work, events, ttl_s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lines = gzip.open("data/elec2/electricity.csv.gz", "rt").read().splitlines()
header, rows = lines[0], lines[1:events + 1]
col = header.split(",").index("class")
with open(f"{work}/events.csv", "w") as out:
    out.write(header + "\n")
    for r in rows:
        f = r.split(","); f[col] = ""; out.write(",".join(f) + "\n")
late_ms = int(time.time() * 1000) + (ttl_s + 600) * 1000
labels = [f"elec2-{i},{r.split(',')[col]}" for i, r in enumerate(rows, 1)]
labels.append(f"elec2-9999,UP,{late_ms}")
open(f"{work}/labels.csv", "w").write("\n".join(labels) + "\n")
PY

# learn_once RUN: one learner run until idle ($WORK/RUN.json, out-RUN.log)
learn_once()
{
    run_riffle learn -c "$cfg" --idle-exit 2 >"$WORK/$1.json" 2>"$WORK/out-$1.log" ||
        fail "learn $1 failed: $(grep -m3 error "$WORK/out-$1.log")"
}
labels_of() { riffle_json "$WORK/$1.json" "tuple(rows[0]['labels'][k] for k in $2)"; }

run_riffle produce -c "$cfg" --labels "$WORK/labels.csv" >/dev/null 2>"$WORK/produce.log" ||
    fail "produce --labels failed: $(tail -3 "$WORK/produce.log")"
learn_once l1
assert_eq "$(labels_of l1 '("unknown", "dead_lettered")')" "($EVENTS, $EVENTS)" \
    "labels given up before their events (unknown, dead-lettered)"

run_riffle produce -c "$cfg" --no-progress --file "$WORK/events.csv" --without-labels \
    >/dev/null 2>>"$WORK/produce.log" || fail "produce failed: $(tail -3 "$WORK/produce.log")"
learn_once l2
assert_eq "$(labels_of l2 '("pending", "joined")')" "($EVENTS, 0)" "events waiting (pending, joined)"

run_riffle dlq replay -c "$cfg" --no-progress >"$WORK/out-replay.json" 2>"$WORK/out-replay.log" ||
    fail "dlq replay failed: $(tail -3 "$WORK/out-replay.log")"
assert_eq "$(riffle_json "$WORK/out-replay.json" '(rows[0]["replayed"], rows[0]["still_failing"])')" \
    "($EVENTS, 0)" "labels replayed, still failing"
learn_once l3
assert_eq "$(labels_of l3 '("joined", "pending")')" "($EVENTS, 0)" \
    "replayed labels joined their events (joined, pending)"

for t in predictions dead_letters models metrics alerts; do
    kcat -b "$BROKERS" -C -t "$(cfg_topic "$cfg" "$t")" -o beginning -e -q \
        -f 'key=%k headers=%h value=%s\n' >"$WORK/out-$t.raw" 2>/dev/null
done
run_riffle watch -c "$cfg" dead-letters --idle-exit 2 >"$WORK/out-dead-letters.jsonl" 2>/dev/null
labels_topic=$(sed -n 's/^ *topic = "\([^"]*\.labels\)".*/\1/p' "$cfg")
kcat -b "$BROKERS" -C -t "$labels_topic" -o beginning -e -q -f 'key=%k value=%s\n' \
    >"$WORK/labels.raw" 2>/dev/null

python3 - "$WORK" "$EVENTS" <<'PY'
import glob, sys
work, events = sys.argv[1], int(sys.argv[2])
prefix = b"elec2-"
# The labels topic holds the raw ids twice: as produced and as replayed.
if open(f"{work}/labels.raw", "rb").read().count(prefix) < 2 * events:
    sys.exit("FAIL: the scan does not find the raw ids even in the labels topic")
outputs = {p: open(p, "rb").read() for p in glob.glob(f"{work}/out-*")}
if len(outputs) != 11 or len(outputs[f"{work}/out-dead_letters.raw"]) < 100:
    sys.exit(f"FAIL: outputs missing: {sorted(outputs)}")
hits = [p for p, b in outputs.items() if prefix in b]
if hits:
    sys.exit(f"FAIL: raw ids in {hits}")
print(f"  scanned {len(outputs)} outputs ({sum(map(len, outputs.values()))} bytes): no raw id")
PY
echo "PASS $TEST_NAME"
