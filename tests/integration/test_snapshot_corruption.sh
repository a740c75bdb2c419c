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

cfg=$(make_config config/elec2.cfg)
sed -i 's/^  every_events = 10000;/  every_events = 10000;\n  chunk_bytes = 1024;/' "$cfg"
grep -q "chunk_bytes = 1024" "$cfg" || fail "could not set snapshot.chunk_bytes in $cfg"
models=$(cfg_topic "$cfg" models)

run_riffle topics create -c "$cfg" >/dev/null
run_riffle produce -c "$cfg" --no-progress >/dev/null 2>&1
"$RIFFLE" train -c "$cfg" >"$WORK/train.json"

run_riffle learn -c "$cfg" --max-events "$FIRST_RUN" >"$WORK/learn1.json" 2>"$WORK/learn1.log"

# The newest snapshot's chunks: offset, key and headers of each message.
kcat -b "$BROKERS" -C -t "$models" -o beginning -e -q -f '%o\t%k\t%h\n' >"$WORK/models.tsv"
chunks=$(grep -c "/chunk/" "$WORK/models.tsv" || true)
((chunks >= 6)) || fail "expected two snapshots in chunks, found $chunks chunk messages"
id=$(tail -1 "$WORK/models.tsv" | sed -n 's/.*riffle.snapshot.id=\([^,]*\).*/\1/p')
count=$(tail -1 "$WORK/models.tsv" | sed -n 's/.*riffle.snapshot.chunks=\([0-9]*\).*/\1/p')
bytes=$(tail -1 "$WORK/models.tsv" | sed -n 's/.*riffle.snapshot.bytes=\([0-9]*\).*/\1/p')
[[ -n $id && -n $count && -n $bytes ]] || fail "no manifest at the end of $models"

for ((i = 0; i < count; i++)); do
    offset=$(awk -F'\t' -v k="elec2/chunk/$i" -v id="riffle.snapshot.id=$id," \
        '$2 == k && index($3, id) {print $1}' "$WORK/models.tsv")
    kcat -b "$BROKERS" -C -t "$models" -p 0 -o "$offset" -c 1 -e -q -f '%s' >"$WORK/chunk$i"
done

# publish_copy NEW_ID: the chunks in $WORK/copy*, then their manifest.
publish_copy()
{
    local new_id=$1 i
    for ((i = 0; i < count; i++)); do
        kcat -b "$BROKERS" -P -t "$models" -k "elec2/chunk/$i" \
            -H "riffle.snapshot.id=$new_id" -H "riffle.snapshot.chunk=$i" \
            -H "riffle.snapshot.chunks=$count" -H "riffle.snapshot.bytes=$bytes" \
            "$WORK/copy$i"
    done
    printf 'damaged copy' >"$WORK/manifest"
    kcat -b "$BROKERS" -P -t "$models" -k elec2 \
        -H "riffle.snapshot.id=$new_id" -H "riffle.snapshot.chunks=$count" \
        -H "riffle.snapshot.bytes=$bytes" "$WORK/manifest"
}

# One byte flipped in the middle of chunk 1.
for ((i = 0; i < count; i++)); do cp "$WORK/chunk$i" "$WORK/copy$i"; done
python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 0x40; open(p, "wb").write(b)' "$WORK/copy1"
publish_copy "$id-flipped"

# The last chunk cut short by 100 bytes.
for ((i = 0; i < count; i++)); do cp "$WORK/chunk$i" "$WORK/copy$i"; done
last=$((count - 1))
head -c "$(($(stat -c %s "$WORK/chunk$last") - 100))" "$WORK/chunk$last" >"$WORK/copy$last"
publish_copy "$id-truncated"

run_riffle learn -c "$cfg" --idle-exit 3 >"$WORK/learn2.json" 2>"$WORK/learn2.log" ||
    fail "second run failed: $(grep -m3 error "$WORK/learn2.log")"
grep -q "snapshot $id-truncated: expected $count chunks of $bytes bytes in all.*truncated" "$WORK/learn2.log" ||
    fail "the truncated chunk was not reported: $(grep -m5 warn "$WORK/learn2.log")"
grep -q "skipping snapshot 2 of model elec2: .*checksum" "$WORK/learn2.log" ||
    fail "the flipped byte was not reported: $(grep -m5 warn "$WORK/learn2.log")"
grep -q "restored model elec2 version $FIRST_RUN" "$WORK/learn2.log" ||
    fail "the good snapshot was not restored: $(grep -m5 learn: "$WORK/learn2.log")"
grep warn "$WORK/learn2.log" | grep -v drift | cut -c 25-220 | sed "s/^/    /"
note "$(grep -c warn "$WORK/learn2.log") warnings, then: $(grep -o 'restored model [^:]*' "$WORK/learn2.log")"

run_riffle watch -c "$cfg" predictions --idle-exit 2 >"$WORK/pred.jsonl" 2>/dev/null
assert_eq "$(wc -l <"$WORK/pred.jsonl")" "$EVENTS" "predictions over both runs"
assert_eq "$(riffle_json "$WORK/pred.jsonl" \
    'sorted(int(r["event_id"].split("-")[1]) for r in rows) == list(range(1, len(rows) + 1))')" \
    True "every event id exactly once"
assert_eq "$(riffle_json "$WORK/learn2.json" 'rows[0]["weights_digest"]')" \
    "$(riffle_json "$WORK/train.json" 'rows[0]["weights_digest"]')" \
    "weights after restoring past the damaged snapshots vs an uninterrupted run"

# The reassembled snapshots read back whole with watch, too.
run_riffle watch -c "$cfg" models --idle-exit 2 >"$WORK/models.jsonl" 2>/dev/null
assert_eq "$(riffle_json "$WORK/models.jsonl" \
    '[r.get("version", "error") for r in rows][:2]')" "[10000, 20000]" \
    "the first two snapshots as watch shows them"
echo "PASS $TEST_NAME"
