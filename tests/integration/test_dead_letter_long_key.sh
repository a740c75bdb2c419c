#!/usr/bin/env bash
#
# A refused message whose key is over the dead letters' size cap (1024
# bytes): its dead letters keep no copy of the key, but still go under
# its pseudonym, so they share one partition like any key's, and say in
# header riffle.key.dropped how long the key was. `riffle dlq replay`
# skips them (no_key) instead of re-injecting the event without its key,
# which once happened silently, on whatever partition a keyless message
# lands. No raw key reaches the topic.
source "$(dirname "$0")/lib.sh"

readonly PER_KEY=4
LONG_KEY="long.secret@example.test-$(printf 'x%.0s' $(seq 1 1100))"
readonly LONG_KEY

cfg=$(make_config config/adult.cfg)
sed -i 's/partitions = 1;/partitions = 4;/' "$cfg"
topic() { cfg_topic "$cfg" "$1"; }
run_riffle topics create -c "$cfg" >/dev/null

# Bytes no schema decodes: four under the long key, one under a short one.
for i in $(seq 1 "$PER_KEY"); do
    printf 'not avro %s' "$i" |
        kcat -b "$BROKERS" -P -t "$(topic input)" -p 0 -k "$LONG_KEY"
done
printf 'not avro short' |
    kcat -b "$BROKERS" -P -t "$(topic input)" -p 0 -k 'short.secret@example.test'
run_riffle learn -c "$cfg" --idle-exit 3 >"$WORK/learn.json" 2>"$WORK/learn.log"
assert_eq "$(riffle_json "$WORK/learn.json" 'rows[0]["dead_letters"]')" \
    "$((PER_KEY + 1))" "dead letters"

kcat -b "$BROKERS" -C -t "$(topic dead_letters)" -o beginning -e -q \
    -f '%p\t%k\t%h\n' >"$WORK/letters.tsv" 2>/dev/null
kcat -b "$BROKERS" -C -t "$(topic dead_letters)" -o beginning -e -q \
    -f '%k %h %s\n' >"$WORK/dlq.raw" 2>/dev/null
python3 - "$WORK" "$PER_KEY" "$LONG_KEY" <<'PY'
import hashlib, hmac, sys
work, per_key, long_key = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
secret = bytes.fromhex(open("config/secrets/dead_letter.key.example").read().strip())
sub = hmac.new(secret, b"riffle.dead_letter.key.pseudonym", hashlib.sha256).digest()
pseudonym = "example-dlq-1:" + hmac.new(sub, long_key, hashlib.sha256).hexdigest()[:32]
rows = [l.split("\t") for l in open(f"{work}/letters.tsv", errors="replace").read().splitlines()
        if l.count("\t") == 2]
longs = [(p, h) for p, k, h in rows if k == pseudonym]
if len(longs) != per_key or len({p for p, _ in longs}) != 1:
    sys.exit(f"FAIL: {per_key} dead letters of the long key in one partition under "
             f"{pseudonym}: got {[p for p, _ in longs]} of keys {[k[:50] for _, k, _ in rows]}")
want = f"riffle.key.dropped={len(long_key)}"
if any(want not in h.split(",") or "riffle.key.sealed=" in h for _, h in longs):
    sys.exit(f"FAIL: headers of a dropped key: got {longs[0][1][:300]}, expected {want}")
raw = open(f"{work}/dlq.raw", "rb").read()
if b"secret@example" in raw:
    sys.exit("FAIL: a raw key is in the dead-letter topic")
print(f"  {per_key} dead letters of a {len(long_key)}-byte key under one pseudonym")
PY

# Replayed: the short key's event is refused again; the long key's are
# skipped, for want of their key.
run_riffle dlq replay -c "$cfg" --no-progress >"$WORK/replay.json" 2>"$WORK/replay.log"
assert_eq "$(riffle_json "$WORK/replay.json" \
    '(rows[0]["read"], rows[0]["still_failing"], rows[0]["no_key"], rows[0]["replayed"])')" \
    "($((PER_KEY + 1)), 1, $PER_KEY, 0)" "replay: (read, still failing, no key, replayed)"
grep -q "not replayed: the original key was over the size cap" "$WORK/replay.log" ||
    fail "replay log: $(grep -v rdkafka "$WORK/replay.log" | tail -3)"
if grep -aq "secret@example" "$WORK/learn.log" "$WORK/replay.log"; then
    fail "a raw key is in a log"
fi
echo "PASS $TEST_NAME"
