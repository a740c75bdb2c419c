#!/usr/bin/env bash
#
# Stopping `learn` midway and starting it again resumes from the snapshot:
# no event skipped, none predicted twice, and the model ends exactly where
# an uninterrupted run ends (one partition, so learning is deterministic).
source "$(dirname "$0")/lib.sh"

readonly EVENTS=45312
readonly FIRST_RUN=20000

cfg=$(make_config config/elec2.cfg)
run_riffle topics create -c "$cfg" >/dev/null
run_riffle produce -c "$cfg" --no-progress >/dev/null 2>&1

# The same rows without a broker: the reference an uninterrupted run gives.
"$RIFFLE" train -c "$cfg" >"$WORK/train.json"

run_riffle learn -c "$cfg" --max-events "$FIRST_RUN" >"$WORK/learn1.json" 2>"$WORK/learn1.log"
assert_eq "$(riffle_json "$WORK/learn1.json" 'rows[0]["processed"]')" "$FIRST_RUN" \
    "events in the first run"

run_riffle learn -c "$cfg" --idle-exit 3 >"$WORK/learn2.json" 2>"$WORK/learn2.log"
grep -q "restored model elec2 version $FIRST_RUN" "$WORK/learn2.log" ||
    fail "second run did not restore version $FIRST_RUN: $(grep -m3 learn: "$WORK/learn2.log")"
assert_eq "$(riffle_json "$WORK/learn2.json" 'rows[0]["processed"]')" \
    "$((EVENTS - FIRST_RUN))" "events in the second run"

run_riffle watch -c "$cfg" predictions --idle-exit 2 >"$WORK/pred.jsonl" 2>/dev/null
assert_eq "$(wc -l <"$WORK/pred.jsonl")" "$EVENTS" "predictions over both runs"
assert_ids_once "$WORK/pred.jsonl" "every event id exactly once"
assert_versions_once "$WORK/pred.jsonl" "model versions continue across the restart"

for key in accuracy logloss auc; do
    assert_eq "$(riffle_json "$WORK/learn2.json" "rows[0]['$key']")" \
        "$(riffle_json "$WORK/train.json" "rows[0]['$key']")" \
        "$key after the restart vs an uninterrupted run"
done
echo "PASS $TEST_NAME"
