#!/usr/bin/env bash
#
# A dead letter's Kafka key is a keyed pseudonym of the refused message's
# key, not a fresh envelope: every dead letter of one key lands in one
# partition of the dead-letter topic, in order, while no raw key appears
# anywhere in the topic. A replay restores the key from its envelope, so
# a dead letter written again keeps the pseudonym and the partition.
source "$(dirname "$0")/lib.sh"

readonly KEYS="ana.one@example.test bo.two@example.test cy.three@example.test"
readonly PER_KEY=4

cfg=$(make_config config/adult.cfg)
sed -i 's/partitions = 1;/partitions = 4;/' "$cfg"
topic() { cfg_topic "$cfg" "$1"; }
run_riffle topics create -c "$cfg" >/dev/null

# Bytes no schema decodes, keyed round-robin by three personal keys.
for i in $(seq 1 "$PER_KEY"); do
    for k in $KEYS; do
        printf 'not avro %s' "$i" | kcat -b "$BROKERS" -P -t "$(topic input)" -p 0 -k "$k"
    done
done
run_riffle learn -c "$cfg" --idle-exit 3 >"$WORK/learn.json" 2>"$WORK/learn.log"
assert_eq "$(riffle_json "$WORK/learn.json" 'rows[0]["dead_letters"]')" \
    "$((3 * PER_KEY))" "dead letters"

# check N: N dead letters per key, each key's under its pseudonym (the
# example dead-letter key is public, so the test can compute them) and
# in one partition; no raw key in the topic's keys, headers or values.
check()
{
    kcat -b "$BROKERS" -C -t "$(topic dead_letters)" -o beginning -e -q \
        -f '%p %k\n' >"$WORK/keys.txt" 2>/dev/null
    kcat -b "$BROKERS" -C -t "$(topic dead_letters)" -o beginning -e -q \
        -f '%k %h %s\n' >"$WORK/dlq.raw" 2>/dev/null
    python3 - "$WORK" "$1" $KEYS <<'PY'
import hashlib, hmac, sys
work, per_key, keys = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
secret = bytes.fromhex(open("config/secrets/dead_letter.key.example").read().strip())
sub = hmac.new(secret, b"riffle.dead_letter.key.pseudonym", hashlib.sha256).digest()
# (a binary key may hold a newline: such a line is no key of ours)
rows = [l.split(" ", 1) for l in open(f"{work}/keys.txt", errors="replace").read().splitlines()
        if " " in l]
raw = open(f"{work}/dlq.raw", "rb").read()
for k in keys:
    pseudonym = "example-dlq-1:" + hmac.new(sub, k.encode(), hashlib.sha256).hexdigest()[:32]
    parts = [p for p, key in rows if key == pseudonym]
    if len(parts) != per_key or len(set(parts)) != 1:
        sys.exit(f"FAIL: {per_key} dead letters of one key in one partition: "
                 f"got partitions {parts} under {pseudonym}")
    if k.encode() in raw or k.split("@")[0].encode() in raw:
        sys.exit(f"FAIL: a raw key is in the dead-letter topic")
if len(rows) != per_key * len(keys):
    sys.exit(f"FAIL: {len(rows)} dead letters, expected {per_key * len(keys)}")
print(f"  {len(keys)} keys, {per_key} dead letters each, each key in one partition")
PY
}
check "$PER_KEY"

# Replayed, the events are refused again: the new dead letters, written
# under the key opened from the old ones, join them.
run_riffle dlq replay -c "$cfg" --no-progress >"$WORK/replay.json" 2>"$WORK/replay.log"
assert_eq "$(riffle_json "$WORK/replay.json" \
    '(rows[0]["read"], rows[0]["still_failing"])')" \
    "($((3 * PER_KEY)), $((3 * PER_KEY)))" "replay: (read, still failing)"
check "$((2 * PER_KEY))"
echo "PASS $TEST_NAME"
