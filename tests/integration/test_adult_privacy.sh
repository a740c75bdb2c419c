#!/usr/bin/env bash
#
# UCI Adult through the whole pipeline: no raw value of a field that
# config/adult.cfg marks personal (marital status, relationship, race,
# sex, native country: dropped or pseudonymized) appears in any output
# topic or in the learner's debug log. The scan is checked to be able to
# find those values: it finds them in the input topic, where the raw
# records are. Age is coarsened into bands before features are built; it
# is not scanned for, since ages are short numbers that occur in ids and
# timestamps, but no output schema carries an input field's value.
# Then labels of format "event" (whole events) wait for their events in
# snapshots: sealed, none of their raw values is in the models topic.
source "$(dirname "$0")/lib.sh"

readonly ROWS=32561
readonly PERSONAL_COLUMNS="6 8 9 10 14" # marital, relationship, race, sex, country

cfg=$(make_config config/adult.cfg)
topic() { cfg_topic "$cfg" "$1"; }
run_riffle topics create -c "$cfg" >/dev/null
run_riffle produce -c "$cfg" --no-progress >"$WORK/produce.json" 2>/dev/null
assert_eq "$(riffle_json "$WORK/produce.json" 'rows[0]["produced"]')" "$ROWS" "rows produced"

RIFFLE_LOG_LEVEL=debug run_riffle learn -c "$cfg" --idle-exit 3 \
    >"$WORK/learn.json" 2>"$WORK/learn.log"
assert_eq "$(riffle_json "$WORK/learn.json" 'rows[0]["predicted"]')" "$ROWS" "predictions"

# Every output, raw bytes and decoded JSON, plus the learner's debug log.
for t in predictions dead_letters models metrics alerts; do
    kcat -b "$BROKERS" -C -t "$(topic "$t")" -o beginning -e -q \
        -f 'key=%k headers=%h value=%s\n' >"$WORK/out-$t.raw" 2>/dev/null
done
for t in predictions dead-letters models metrics alerts; do
    run_riffle watch -c "$cfg" "$t" --idle-exit 2 >"$WORK/out-$t.jsonl" 2>/dev/null
done
cp "$WORK/learn.log" "$WORK/out-learn.log"
kcat -b "$BROKERS" -C -t "$(topic input)" -o beginning -e -q -c 1000 \
    -f '%s\n' >"$WORK/input.raw" 2>/dev/null

python3 - "$WORK" data/adult/adult.data.gz "$PERSONAL_COLUMNS" <<'PY'
import glob, gzip, sys
work, data, cols = sys.argv[1], sys.argv[2], [int(c) - 1 for c in sys.argv[3].split()]
values = set()
for line in gzip.open(data, "rt"):
    parts = [p.strip() for p in line.split(",")]
    if len(parts) == 15:
        values.update(parts[c] for c in cols if parts[c] != "?")
outputs = {p: open(p, "rb").read() for p in glob.glob(f"{work}/out-*")}
hits = [(v, p) for v in sorted(values) for p, b in outputs.items() if v.encode() in b]
found_in_input = sum(v.encode() in open(f"{work}/input.raw", "rb").read() for v in values)
print(f"  scanned {len(outputs)} outputs ({sum(map(len, outputs.values()))} bytes) "
      f"for {len(values)} raw personal values; {found_in_input} of them appear in the input")
if found_in_input < 20:
    sys.exit("FAIL: the scan does not find raw values even in the input topic")
if hits:
    sys.exit(f"FAIL: raw personal values in outputs: {hits[:10]}")
PY

# Pseudonyms are what the model saw instead: keyed tokens, not values.
grep -q '"weights"' "$WORK/out-models.jsonl" || fail "no snapshot was published"

# Delayed labels of format "event": each label message is a whole input
# event, personal fields and all, and a label that came before its event
# waits for it in every snapshot. 200 labels, 20 events: 180 wait when the
# snapshot is taken; the models topic holds none of their raw values.
lcfg=$(make_config_with config/adult.cfg \
    'labels = { topic = "riffle.adult.labels"; format = "event"; ttl = 3600.0; };')
ltopic=$(sed -n 's/^labels = { topic = "\([^"]*\)".*/\1/p' "$lcfg")
sed -e "s/^\( *input = \)\"[^\"]*\"/\1\"$ltopic\"/" -e '/^labels = /d' "$lcfg" \
    >"$WORK/label-producer.cfg"
gzip -dc data/adult/adult.data.gz | sed -n 1,200p >"$WORK/rows200.csv"
run_riffle topics create -c "$lcfg" >/dev/null
run_riffle produce -c "$WORK/label-producer.cfg" --file "$WORK/rows200.csv" --no-progress \
    >/dev/null 2>&1
run_riffle produce -c "$lcfg" --file "$WORK/rows200.csv" --limit 20 --without-labels \
    --no-progress >/dev/null 2>&1
run_riffle learn -c "$lcfg" --idle-exit 3 >"$WORK/learn-labels.json" 2>"$WORK/learn-labels.log"
assert_eq "$(riffle_json "$WORK/learn-labels.json" \
    '(rows[0]["labels"]["joined"], rows[0]["labels"]["waiting"])')" "(20, 180)" \
    "labels of format event: (joined, waiting)"
kcat -b "$BROKERS" -C -t "$(cfg_topic "$lcfg" models)" -o beginning -e -q \
    -f 'key=%k value=%s\n' >"$WORK/label-models.raw" 2>/dev/null
kcat -b "$BROKERS" -C -t "$ltopic" -o beginning -e -q -f '%s\n' \
    >"$WORK/labels.raw" 2>/dev/null
python3 - "$WORK" "$PERSONAL_COLUMNS" <<'PY'
import sys
work, cols = sys.argv[1], [int(c) - 1 for c in sys.argv[2].split()]
rows = [[p.strip() for p in l.split(",")] for l in open(f"{work}/rows200.csv")][20:]
values = {r[c] for r in rows for c in cols if r[c] != "?"}
models, labels = (open(f"{work}/{n}", "rb").read() for n in ("label-models.raw", "labels.raw"))
if len(models) < 1000:
    sys.exit("FAIL: no snapshot in the models topic")
if [v for v in values if v.encode() not in labels]:
    sys.exit("FAIL: the scan does not find the raw values even in the labels topic")
hits = [v for v in sorted(values) if v.encode() in models]
print(f"  {len(values)} raw values of 180 waiting label messages; {len(hits)} in snapshots")
if hits:
    sys.exit(f"FAIL: raw personal values of waiting labels in snapshots: {hits[:10]}")
PY
echo "PASS $TEST_NAME"
