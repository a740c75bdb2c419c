#!/usr/bin/env bash
#
# `riffle dlq replay` replays a dead letter an older riffle wrote, under
# the dead-letter schema of before sealed payloads (its version is kept
# in schemas/history/, without payload_encryption): its payload is read
# as it was written, in clear, and the event goes back to its topic.
source "$(dirname "$0")/lib.sh"

readonly OLD_FINGERPRINT=0xa91e49eefb20996a # dead_letter.avsc before 33cb6d0

cfg=$(make_config config/elec2.cfg)
input=$(cfg_topic "$cfg" input)
run_riffle topics create -c "$cfg" >/dev/null
run_riffle produce -c "$cfg" --limit 1 --no-progress >/dev/null 2>&1
kcat -b "$BROKERS" -C -t "$input" -o 0 -c 1 -e -q -f '%s' >"$WORK/event.bin" 2>/dev/null
[[ -s $WORK/event.bin ]] || fail "no event to dead-letter"

# The dead letter, field by field in Avro's binary encoding: reason,
# field (union), detail, event_id (union), source topic, partition,
# offset, timestamp, payload (union), dead_lettered_at_ms.
python3 - "$WORK/event.bin" "$input" "$OLD_FINGERPRINT" >"$WORK/old.bin" <<'PY'
import struct, sys
def long(n):
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n > 0x7f:
        out.append((n & 0x7f) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)
def string(s):
    b = s.encode() if isinstance(s, str) else s
    return long(len(b)) + b
event = open(sys.argv[1], "rb").read()
body = (string("out_of_range") + long(1) + string("nswprice") +
        string("nswprice above its max") + long(1) + string("elec2-1") +
        string(sys.argv[2]) + long(0) + long(0) + long(1764950000000) +
        long(1) + string(event) + long(1764950000500))
sys.stdout.buffer.write(b"\xc3\x01" + struct.pack("<Q", int(sys.argv[3], 16)) + body)
PY
kcat -b "$BROKERS" -P -t "$(cfg_topic "$cfg" dead_letters)" -k elec2-1 "$WORK/old.bin" ||
    fail "cannot produce the old dead letter"

run_riffle dlq replay -c "$cfg" --no-progress >"$WORK/replay.json" 2>"$WORK/replay.log" ||
    fail "replay: $(tail -3 "$WORK/replay.log")"
cat "$WORK/replay.json"
assert_eq "$(riffle_json "$WORK/replay.json" '(rows[0]["read"], rows[0]["replayed"],
    rows[0]["unreadable"])')" "(1, 1, 0)" "(read, replayed, unreadable)"
kcat -b "$BROKERS" -C -t "$input" -o 1 -c 1 -e -q -f '%s' >"$WORK/back.bin" 2>/dev/null
cmp -s "$WORK/event.bin" "$WORK/back.bin" || fail "the replayed event differs"
echo "PASS $TEST_NAME"
