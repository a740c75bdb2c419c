#!/usr/bin/env bash
#
# A predictions topic keeps the predictions an older riffle wrote, under
# the prediction schema of before carried fields (its version is kept in
# schemas/history/, without `fields`): `riffle watch predictions` prints
# one as it was written, and `riffle decrypt`, which stopped at the
# first, prints it with no fields and goes on to the next.
source "$(dirname "$0")/lib.sh"

readonly OLD_FINGERPRINT=0xd4b28b874516826b # prediction.avsc before 7ecfe7e

cfg=$(make_config config/adult_pii.cfg)
predictions=$(cfg_topic "$cfg" predictions)
run_riffle topics create -c "$cfg" >/dev/null

# The prediction, field by field in Avro's binary encoding: event id,
# model name, version, probability (union), value, predicted class,
# predicted label, label (union), source topic, partition, offset,
# event and prediction timestamps.
python3 - "$OLD_FINGERPRINT" >"$WORK/old.bin" <<'PY'
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
    return long(len(s.encode())) + s.encode()
body = (string("adult-1") + string("adult") + long(41) + long(1) +
        struct.pack("<d", 0.25) + struct.pack("<d", 0.25) + long(0) +
        string("<=50K") + long(1) + string(">50K") + string("riffle.old.events") +
        long(0) + long(0) + long(1764950000000) + long(1764950000100))
sys.stdout.buffer.write(b"\xc3\x01" + struct.pack("<Q", int(sys.argv[1], 16)) + body)
PY
kcat -b "$BROKERS" -P -t "$predictions" -k adult-1 "$WORK/old.bin" ||
    fail "cannot produce the old prediction"
kcat -b "$BROKERS" -P -t "$predictions" -k adult-1 "$WORK/old.bin" ||
    fail "cannot produce the old prediction again"

run_riffle watch -c "$cfg" --idle-exit 2 --limit 2 predictions \
    >"$WORK/watch.json" 2>"$WORK/watch.err" || fail "watch: $(tail -3 "$WORK/watch.err")"
sed 's/^/    /' "$WORK/watch.json"
assert_eq "$(riffle_json "$WORK/watch.json" '[(r["event_id"], r["model_version"],
    r["probability"], r["predicted_label"], r["label"], "fields" in r) for r in rows]')" \
    "[('adult-1', 41, 0.25, '<=50K', '>50K', False), ('adult-1', 41, 0.25, '<=50K', '>50K', False)]" \
    "the old predictions as written"

run_riffle decrypt -c "$cfg" >"$WORK/decrypted.json" 2>"$WORK/decrypt.err" ||
    fail "decrypt: $(tail -3 "$WORK/decrypt.err")"
cat "$WORK/decrypted.json"
assert_eq "$(cat "$WORK/decrypted.json")" \
    '{"event_id":"adult-1","partition":0,"offset":0,"fields":{}}
{"event_id":"adult-1","partition":0,"offset":1,"fields":{}}' "decrypt's lines"
echo "PASS $TEST_NAME"
