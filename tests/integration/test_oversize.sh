#!/usr/bin/env bash
#
# Oversized input cannot block the learner: an event id far above the
# 1 KiB limit is dead-lettered (invalid_value) with its id cut to 1 KiB,
# and a 2 MiB message that is no riffle message is dead-lettered without
# its payload (over the 1 MiB cap) - both small enough for the broker, and
# the valid events around them are predicted as usual.
source "$(dirname "$0")/lib.sh"

cfg=$(make_config config/elec2.cfg)
input=$(cfg_topic "$cfg" input)
run_riffle topics create -c "$cfg" >/dev/null
run_riffle produce -c "$cfg" --file tests/fixtures/elec2_bad_rows.csv --limit 10 \
    --no-progress >/dev/null 2>&1

fingerprint=$("$RIFFLE" check -c "$cfg" | sed -n 's/.*fingerprint \([0-9a-f]*\).*/\1/p')
python3 - "$WORK" "$fingerprint" <<'PY'
import struct, sys
work, fp = sys.argv[1], int(sys.argv[2], 16)
def zz(n):  # Avro long: zig-zag varint
    n = (n << 1) ^ (n >> 63); out = b""
    while True:
        b = n & 0x7f; n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n: return out
def string(s): return zz(len(s)) + s
def double(x): return zz(1) + struct.pack("<d", x)  # union branch 1
body = (string(b"x" * 5000) + double(0.0) + zz(1) + zz(2) + double(0.5) +
        double(0.05) + double(0.4) + double(0.003) + double(0.42) +
        double(0.41) + zz(1) + string(b"UP"))
open(f"{work}/longid.bin", "wb").write(b"\xc3\x01" + struct.pack("<Q", fp) + body)
open(f"{work}/huge.bin", "wb").write(b"z" * (2 << 20))
PY
for f in longid huge; do
    kcat -b "$BROKERS" -t "$input" -P -X message.max.bytes=4000000 "$WORK/$f.bin"
done
run_riffle produce -c "$cfg" --file tests/fixtures/elec2_bad_rows.csv --limit 10 \
    --no-progress >/dev/null 2>&1

run_riffle learn -c "$cfg" --idle-exit 3 >"$WORK/learn.json" 2>"$WORK/learn.log" ||
    fail "learn stopped: $(tail -3 "$WORK/learn.log")"
run_riffle watch -c "$cfg" dead-letters --idle-exit 2 >"$WORK/dlq.jsonl" 2>/dev/null
assert_eq "$(riffle_json "$WORK/learn.json" 'rows[0]["predicted"]')" 20 "valid events predicted"
assert_eq "$(riffle_json "$WORK/dlq.jsonl" '[r["reason"] for r in rows]')" \
    "['invalid_value', 'decode_error']" "dead-letter reasons"
assert_eq "$(riffle_json "$WORK/dlq.jsonl" 'len(rows[0]["event_id"])')" 1024 "event id cut to 1 KiB"
assert_eq "$(riffle_json "$WORK/dlq.jsonl" \
    'rows[0]["payload"]["bytes"] > 5000 and rows[1]["payload"] is None')" \
    True "payload kept when small, left out over 1 MiB"
echo "PASS $TEST_NAME"
