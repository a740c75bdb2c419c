#!/usr/bin/env bash
#
# Faulty input goes to the dead-letter topic, each record with its reason,
# and only faulty input: rows the producer cannot type are reported and
# skipped there, rows that break a cleaning rule and raw bytes that are no
# riffle message at all are dead-lettered by the learner; every valid row
# gets exactly one prediction. See tests/fixtures/README.md.
source "$(dirname "$0")/lib.sh"

readonly GOOD_ROWS=200

cfg=$(make_config config/elec2.cfg)
input=$(cfg_topic "$cfg" input)
run_riffle topics create -c "$cfg" >/dev/null

run_riffle produce -c "$cfg" --file tests/fixtures/elec2_bad_rows.csv \
    --no-progress >"$WORK/produce.json" 2>"$WORK/produce.log"
assert_eq "$(riffle_json "$WORK/produce.json" 'rows[0]["bad_rows"]')" 2 "rows skipped by produce"
assert_eq "$(riffle_json "$WORK/produce.json" 'rows[0]["produced"]')" 205 "rows produced"
grep -q "elec2_bad_rows.csv:128: column 6, field 'vicprice': found text, expected a number" "$WORK/produce.log" ||
    fail "produce did not report line 128"
grep -q "elec2_bad_rows.csv:149: expected 9 fields, found 7" "$WORK/produce.log" ||
    fail "produce did not report line 149"

# Raw bytes straight onto the input topic: not Avro; the right marker and
# a fingerprint of no known schema; and a real message cut short.
fingerprint=$("$RIFFLE" check -c "$cfg" | sed -n 's/.*fingerprint \([0-9a-f]*\).*/\1/p')
python3 - "$WORK" "$fingerprint" <<'PY'
import struct, sys
work, fp = sys.argv[1], int(sys.argv[2], 16)
open(f"{work}/garbage.bin", "wb").write(b"this is not an avro message")
unknown_fp = struct.pack("<Q", 0x1234567890abcdef)
open(f"{work}/unknown.bin", "wb").write(b"\xc3\x01" + unknown_fp + b"\x02")
# event_id "x" then the union branch of `date` announcing a double, cut off.
known_fp = struct.pack("<Q", fp)
open(f"{work}/truncated.bin", "wb").write(b"\xc3\x01" + known_fp + b"\x02x\x02\x00\x00")
PY
for f in garbage unknown truncated; do
    kcat -b "$BROKERS" -t "$input" -P "$WORK/$f.bin"
done

run_riffle learn -c "$cfg" --idle-exit 3 >"$WORK/learn.json" 2>"$WORK/learn.log"
run_riffle watch -c "$cfg" predictions --idle-exit 2 >"$WORK/pred.jsonl" 2>/dev/null
run_riffle watch -c "$cfg" dead-letters --idle-exit 2 >"$WORK/dlq.jsonl" 2>/dev/null

assert_eq "$(wc -l <"$WORK/pred.jsonl")" "$GOOD_ROWS" "predictions"
assert_eq "$(riffle_json "$WORK/pred.jsonl" \
    'sorted({int(r["event_id"].split("-")[1]) for r in rows} & {22,43,64,85,106,127,148})')" \
    "[]" "faulty rows among predictions"
expected="[('elec2-22', 'out_of_range', 'nswprice'), ('elec2-43', 'missing_required', 'class'),"
expected+=" ('elec2-64', 'invalid_label', 'class'), ('elec2-85', 'missing_required', 'day'),"
expected+=" ('elec2-106', 'out_of_range', 'nswdemand'), (None, 'decode_error', None),"
expected+=" (None, 'decode_error', None), (None, 'decode_error', None)]"
assert_eq "$(riffle_json "$WORK/dlq.jsonl" \
    '[(r["event_id"], r["reason"], r["field"]) for r in rows]')" \
    "$expected" "dead letters (event id, reason, field)"
assert_eq "$(riffle_json "$WORK/dlq.jsonl" \
    '([r["source_offset"] for r in rows[-3:]] == [205, 206, 207]
        and all(r["payload"]["bytes"] > 0 for r in rows))')" \
    True "dead letters point at their source offsets and keep the payload"
riffle_json "$WORK/dlq.jsonl" '"\n".join(r["detail"] for r in rows)' | sed 's/^/    /'

# The headers carry the same facts for tools that do not decode Avro.
kcat -b "$BROKERS" -C -t "$(cfg_topic "$cfg" dead_letters)" -o beginning -e -c 1 \
    -f '%h\n' 2>/dev/null >"$WORK/headers.txt"
grep -q "riffle.reason=out_of_range" "$WORK/headers.txt" ||
    fail "reason header missing: $(cat "$WORK/headers.txt")"
grep -q "riffle.source.offset=21" "$WORK/headers.txt" ||
    fail "offset header missing: $(cat "$WORK/headers.txt")"

# A dead letter written by hand, naming the model topic as its source
# and holding a valid event: `riffle dlq replay` wrote the event there,
# keyed by the model's name. It must refuse it, and write nothing there.
dead=$(cfg_topic "$cfg" dead_letters)
models=$(cfg_topic "$cfg" models)
kcat -b "$BROKERS" -C -t "$dead" -o beginning -c 1 -e -q -f '%s' >"$WORK/real_dl.bin"
kcat -b "$BROKERS" -C -t "$input" -o beginning -c 1 -e -q -f '%s' >"$WORK/event.bin"
python3 - "$WORK" "$models" <<'PY'
import sys
work, models = sys.argv[1], sys.argv[2]

def zigzag(n):
    n, out = (n << 1) ^ (n >> 63), bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    return bytes(out + bytes([n]))

def text(b):
    b = b.encode() if isinstance(b, str) else b
    return zigzag(len(b)) + b

header = open(f"{work}/real_dl.bin", "rb").read()[:10]  # marker, fingerprint
event = open(f"{work}/event.bin", "rb").read()
body = (text("out_of_range") + zigzag(1) + text("nswprice") + text("forged")
        + zigzag(1) + text("forged-1") + text(models) + zigzag(0) + zigzag(7)
        + zigzag(0) + zigzag(1) + text(event) + zigzag(0) + zigzag(0))
open(f"{work}/forged_dl.bin", "wb").write(header + body)
PY
# The model topic's newest record under the model's name is no snapshot
# either (the replay judged without a duplicate window when it was not):
# the replay must go back to the learner's snapshot, as learn does.
kcat -b "$BROKERS" -t "$models" -P -k elec2 "$WORK/event.bin"
models_end=$(topic_end "$models" 1)
kcat -b "$BROKERS" -t "$dead" -P -k elec2 "$WORK/forged_dl.bin"
run_riffle dlq replay -c "$cfg" >"$WORK/replay.json" 2>"$WORK/replay.log" ||
    fail "dlq replay failed: $(grep -m1 error "$WORK/replay.log")"
assert_eq "$(riffle_json "$WORK/replay.json" 'rows[0]["unreadable"]')" 1 \
    "dead letters naming a topic that is no input"
assert_eq "$(riffle_json "$WORK/replay.json" 'rows[0]["snapshot_version"]')" \
    "$(riffle_json "$WORK/learn.json" 'rows[0]["model_version"]')" \
    "the snapshot the replay judges duplicates with"
assert_eq "$(topic_end "$models" 1)" "$models_end" "records written to the model topic"
grep -q "not replayed: its source topic is none of this pipeline's inputs" \
    "$WORK/replay.log" ||
    fail "no reason for the refused dead letter: $(tail -2 "$WORK/replay.log")"
echo "PASS $TEST_NAME"
