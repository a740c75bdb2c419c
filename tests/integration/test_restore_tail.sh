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

chunked_snapshots "$FIRST_RUN"

# filler N: N messages of another model, which every reader of elec2 skips.
filler()
{
    seq "$1" | sed 's/^/other\tfiller /' >"$WORK/filler"
    kcat -b "$BROKERS" -P -t "$models" -K $'\t' -l "$WORK/filler"
}

filler "$HISTORY"
publish_chunk "$WORK/chunk0" 0 "$id-copy"
filler "$GAP"
for ((i = 1; i < count; i++)); do publish_chunk "$WORK/chunk$i" "$i" "$id-copy"; done
publish_manifest "$id-copy" "copy of snapshot $id"
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

assert_same_weights "$WORK/learn2.json" \
    "weights after restoring the newest snapshot vs an uninterrupted run"
echo "PASS $TEST_NAME"
