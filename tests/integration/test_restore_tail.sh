#!/usr/bin/env bash
#
# Start-up reads the model topic from its end, not from its beginning:
# the time to restore follows the size of the newest snapshot, not the
# history of the topic.
#
# The learner writes Elec2 snapshots in 1 KiB chunks for 20,000 events.
# Then 1,500 messages of another model are appended as history, and a
# copy of the newest snapshot whose first chunk lies 600 messages before
# its manifest, so that the first look (the last 256 messages) sees the
# manifest without its first chunk and must look further back instead of
# calling the snapshot broken. The restarted learner must restore that
# copy without a warning, having read far fewer messages than the topic
# holds, and end with the weights of an uninterrupted run.
source "$(dirname "$0")/lib.sh"

readonly EVENTS=45312
readonly FIRST_RUN=20000
readonly HISTORY=1500
readonly GAP=600

cfg=$(make_config config/elec2.cfg)
sed -i 's/^  every_events = 10000;/  every_events = 10000;\n  chunk_bytes = 1024;/' "$cfg"
grep -q "chunk_bytes = 1024" "$cfg" || fail "could not set snapshot.chunk_bytes in $cfg"
models=$(cfg_topic "$cfg" models)

run_riffle topics create -c "$cfg" >/dev/null
run_riffle produce -c "$cfg" --no-progress >/dev/null 2>&1
"$RIFFLE" train -c "$cfg" >"$WORK/train.json"
run_riffle learn -c "$cfg" --max-events "$FIRST_RUN" >"$WORK/learn1.json" 2>"$WORK/learn1.log"

kcat -b "$BROKERS" -C -t "$models" -o beginning -e -q -f '%o\t%k\t%h\n' >"$WORK/models.tsv"
id=$(tail -1 "$WORK/models.tsv" | sed -n 's/.*riffle.snapshot.id=\([^,]*\).*/\1/p')
count=$(tail -1 "$WORK/models.tsv" | sed -n 's/.*riffle.snapshot.chunks=\([0-9]*\).*/\1/p')
bytes=$(tail -1 "$WORK/models.tsv" | sed -n 's/.*riffle.snapshot.bytes=\([0-9]*\).*/\1/p')
[[ -n $id && -n $count && -n $bytes ]] || fail "no chunked snapshot at the end of $models"
for ((i = 0; i < count; i++)); do
    offset=$(awk -F'\t' -v k="elec2/chunk/$i" -v id="riffle.snapshot.id=$id," \
        '$2 == k && index($3, id) {print $1}' "$WORK/models.tsv")
    kcat -b "$BROKERS" -C -t "$models" -p 0 -o "$offset" -c 1 -e -q -f '%s' >"$WORK/chunk$i"
done

# filler N: N messages of another model, which every reader of elec2 skips.
filler()
{
    seq "$1" | sed 's/^/other\tfiller /' >"$WORK/filler"
    kcat -b "$BROKERS" -P -t "$models" -K $'\t' -l "$WORK/filler"
}
publish_chunk()
{
    kcat -b "$BROKERS" -P -t "$models" -k "elec2/chunk/$1" \
        -H "riffle.snapshot.id=$id-copy" -H "riffle.snapshot.chunk=$1" \
        -H "riffle.snapshot.chunks=$count" -H "riffle.snapshot.bytes=$bytes" \
        "$WORK/chunk$1"
}

filler "$HISTORY"
publish_chunk 0
filler "$GAP"
for ((i = 1; i < count; i++)); do publish_chunk "$i"; done
printf 'copy of snapshot %s' "$id" >"$WORK/manifest"
kcat -b "$BROKERS" -P -t "$models" -k elec2 -H "riffle.snapshot.id=$id-copy" \
    -H "riffle.snapshot.chunks=$count" -H "riffle.snapshot.bytes=$bytes" "$WORK/manifest"
total=$(kcat -b "$BROKERS" -C -t "$models" -o beginning -e -q -f '%o\n' | wc -l)
((total > HISTORY + GAP)) || fail "the model topic holds only $total messages"

run_riffle learn -c "$cfg" --idle-exit 3 >"$WORK/learn2.json" 2>"$WORK/learn2.log" ||
    fail "second run failed: $(grep -m3 error "$WORK/learn2.log")"
grep -q "restored model elec2 version $FIRST_RUN" "$WORK/learn2.log" ||
    fail "the newest snapshot was not restored: $(grep -m5 -e warn -e learn: "$WORK/learn2.log")"
if grep -v drift "$WORK/learn2.log" | grep -q warn; then
    fail "a whole snapshot was warned about: $(grep -v drift "$WORK/learn2.log" | grep -m3 warn)"
fi
read_count=$(sed -n "s/.*$models: 1 value(s) of key elec2 found in \([0-9]*\) message(s).*/\1/p" \
    "$WORK/learn2.log" | head -1)
[[ -n $read_count ]] || fail "no read count logged: $(grep -m3 reader "$WORK/learn2.log")"
((read_count >= GAP && read_count < total)) ||
    fail "restore read $read_count of the $total messages of $models"
note "restore read $read_count of the $total messages of the model topic"

assert_eq "$(riffle_json "$WORK/learn2.json" 'rows[0]["weights_digest"]')" \
    "$(riffle_json "$WORK/train.json" 'rows[0]["weights_digest"]')" \
    "weights after restoring the newest snapshot vs an uninterrupted run"
echo "PASS $TEST_NAME"
