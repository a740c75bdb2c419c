#!/usr/bin/env bash
#
# Snapshots larger than snapshot.chunk_bytes go out as chunks and come
# back whole; damaged ones are refused and an older good one is used.
#
# The learner runs with 1 KiB chunks, so each Elec2 snapshot (about
# 2.7 KB) is three chunks and a manifest. After 20,000 events two damaged
# copies of the newest snapshot are appended to the model topic, as a
# crash or a bad disk could leave them: one with a byte flipped inside a
# chunk, and a newer one with its last chunk cut short. The restarted
# learner must warn about both, restore the good snapshot before them,
# and finish with every prediction exactly once and the weights of an
# uninterrupted run.
source "$(dirname "$0")/lib.sh"

readonly EVENTS=45312
readonly FIRST_RUN=20000

chunked_snapshots "$FIRST_RUN"
chunks=$(grep -c "/chunk/" "$WORK/models.tsv" || true)
((chunks >= 6)) || fail "expected two snapshots in chunks, found $chunks chunk messages"

# publish_copy NEW_ID: the chunks in $WORK/copy*, then their manifest.
publish_copy()
{
    local i
    for ((i = 0; i < count; i++)); do publish_chunk "$WORK/copy$i" "$i" "$1"; done
    publish_manifest "$1" "damaged copy"
}

# One byte flipped in the middle of chunk 1.
for ((i = 0; i < count; i++)); do cp "$WORK/chunk$i" "$WORK/copy$i"; done
python3 - "$WORK/copy1" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x40
open(p, "wb").write(b)
PY
publish_copy "$id-flipped"

# The last chunk cut short by 100 bytes.
for ((i = 0; i < count; i++)); do cp "$WORK/chunk$i" "$WORK/copy$i"; done
last=$((count - 1))
head -c "$(($(stat -c %s "$WORK/chunk$last") - 100))" "$WORK/chunk$last" >"$WORK/copy$last"
publish_copy "$id-truncated"

run_riffle learn -c "$cfg" --idle-exit 3 >"$WORK/learn2.json" 2>"$WORK/learn2.log" ||
    fail "second run failed: $(grep -m3 error "$WORK/learn2.log")"
grep -q "snapshot $id-truncated: expected $count chunks of $bytes bytes in all.*truncated" \
    "$WORK/learn2.log" ||
    fail "the truncated chunk was not reported: $(grep -m5 warn "$WORK/learn2.log")"
grep -q "skipping snapshot 2 of model elec2: .*checksum" "$WORK/learn2.log" ||
    fail "the flipped byte was not reported: $(grep -m5 warn "$WORK/learn2.log")"
grep -q "restored model elec2 version $FIRST_RUN" "$WORK/learn2.log" ||
    fail "the good snapshot was not restored: $(grep -m5 learn: "$WORK/learn2.log")"
grep warn "$WORK/learn2.log" | grep -v drift | cut -c 25-220 | sed "s/^/    /"
note "$(grep -c warn "$WORK/learn2.log") warnings, then:" \
    "$(grep -o 'restored model [^:]*' "$WORK/learn2.log")"

run_riffle watch -c "$cfg" predictions --idle-exit 2 >"$WORK/pred.jsonl" 2>/dev/null
assert_eq "$(wc -l <"$WORK/pred.jsonl")" "$EVENTS" "predictions over both runs"
assert_ids_once "$WORK/pred.jsonl" "every event id exactly once"
assert_same_weights "$WORK/learn2.json" \
    "weights after restoring past the damaged snapshots vs an uninterrupted run"

# The reassembled snapshots read back whole with watch, too.
run_riffle watch -c "$cfg" models --idle-exit 2 >"$WORK/models.jsonl" 2>/dev/null
assert_eq "$(riffle_json "$WORK/models.jsonl" \
    '[r.get("version", "error") for r in rows][:2]')" "[10000, 20000]" \
    "the first two snapshots as watch shows them"
echo "PASS $TEST_NAME"
