#!/usr/bin/env bash
#
# delivery.mode = "at_least_once" still works as documented: offsets are
# committed only with snapshots, so a clean stop and restart resumes at
# the next event with nothing skipped or predicted twice and the model of
# an uninterrupted run; and no transactions are used: the predictions
# topic holds no commit markers (each takes an offset in exactly-once
# mode, so there the last prediction is not at offset count - 1).
source "$(dirname "$0")/lib.sh"

readonly EVENTS=45312
readonly FIRST_RUN=20000

cfg=$(make_config config/elec2.cfg)
echo 'delivery = { mode = "at_least_once"; };' >>"$cfg"
run_riffle topics create -c "$cfg" >/dev/null
run_riffle produce -c "$cfg" --no-progress >/dev/null 2>&1
"$RIFFLE" train -c "$cfg" >"$WORK/train.json"

run_riffle learn -c "$cfg" --max-events "$FIRST_RUN" >"$WORK/learn1.json" 2>"$WORK/learn1.log"
run_riffle learn -c "$cfg" --idle-exit 3 >"$WORK/learn2.json" 2>"$WORK/learn2.log"
grep -q "restored model elec2 version $FIRST_RUN" "$WORK/learn2.log" ||
    fail "second run did not restore version $FIRST_RUN"

run_riffle watch -c "$cfg" predictions --idle-exit 2 >"$WORK/pred.jsonl" 2>/dev/null
assert_eq "$(wc -l <"$WORK/pred.jsonl")" "$EVENTS" "predictions over both runs"
assert_ids_once "$WORK/pred.jsonl" "every event id exactly once"

# Without transactions the topic holds no control records: the last
# prediction's offset is the count minus one.
last=$(kcat -b "$BROKERS" -C -t "$(cfg_topic "$cfg" predictions)" -o -1 -e -q -f '%o\n' \
    2>/dev/null | tail -1)
assert_eq "$last" "$((EVENTS - 1))" "offset of the last prediction (no transaction markers)"
assert_same_weights "$WORK/learn2.json" "weights after the restart vs an uninterrupted run"
echo "PASS $TEST_NAME"
