#!/usr/bin/env bash
#
# The whole Elec2 stream through the real broker: exactly one prediction
# per event, and the progressive accuracy the learner is known to reach.
source "$(dirname "$0")/lib.sh"

# Measured on this configuration (see README, "What to expect"); the
# learner is deterministic on one partition, so only float formatting
# could move it. Majority class (DOWN) is 0.5755.
readonly EXPECTED_ACCURACY=0.9069
readonly TOLERANCE=0.005
readonly EVENTS=45312

cfg=$(make_config config/elec2.cfg)
run_riffle topics create -c "$cfg" >/dev/null
run_riffle produce -c "$cfg" --no-progress >"$WORK/produce.json"
assert_eq "$(riffle_json "$WORK/produce.json" 'rows[0]["produced"]')" "$EVENTS" "events produced"

run_riffle learn -c "$cfg" --idle-exit 3 >"$WORK/learn.json" 2>"$WORK/learn.log"
run_riffle watch -c "$cfg" predictions --idle-exit 2 >"$WORK/pred.jsonl" 2>/dev/null

assert_eq "$(wc -l <"$WORK/pred.jsonl")" "$EVENTS" "predictions"
assert_eq "$(riffle_json "$WORK/pred.jsonl" 'len({r["event_id"] for r in rows})')" \
    "$EVENTS" "distinct event ids among predictions"
assert_versions_once "$WORK/pred.jsonl" "model versions 0..N-1, each once"

acc=$(riffle_json "$WORK/pred.jsonl" \
    'round(sum(r["predicted_label"] == r["label"] for r in rows) / len(rows), 4)')
majority=$(riffle_json "$WORK/pred.jsonl" \
    'round(max(sum(r["label"] == "UP" for r in rows), sum(r["label"] == "DOWN" for r in rows))
        / len(rows), 4)')
note "progressive accuracy $acc (majority class $majority)"
python3 -c "import sys; a, m = $acc, $majority; sys.exit(0 if a > m + 0.15 else 1)" ||
    fail "accuracy $acc is not well above the majority rate $majority"
python3 -c "import sys; sys.exit(0 if abs($acc - $EXPECTED_ACCURACY) <= $TOLERANCE else 1)" ||
    fail "accuracy $acc differs from the measured $EXPECTED_ACCURACY by more than $TOLERANCE"

learned=$(riffle_json "$WORK/learn.json" 'round(rows[0]["accuracy"], 4)')
assert_eq "$learned" "$acc" "accuracy reported by learn vs recomputed from the topic"

# Metrics reports (every 5000 events and with every snapshot) and drift
# alerts reach their topics; the last report matches the predictions.
run_riffle watch -c "$cfg" metrics --idle-exit 2 >"$WORK/metrics.jsonl" 2>/dev/null
run_riffle watch -c "$cfg" alerts --idle-exit 2 >"$WORK/alerts.jsonl" 2>/dev/null
assert_eq "$(riffle_json "$WORK/metrics.jsonl" 'rows[-1]["events"]')" "$EVENTS" \
    "events in the last metrics report"
assert_eq "$(riffle_json "$WORK/metrics.jsonl" 'round(rows[-1]["cumulative"]["accuracy"], 4)')" \
    "$acc" "accuracy in the last metrics report"
assert_eq "$(riffle_json "$WORK/metrics.jsonl" \
    'len(rows) >= 9 and 0.9 < rows[-1]["cumulative"]["auc"] <= 1')" \
    True "metrics reports with an AUC"
alarms=$(riffle_json "$WORK/learn.json" 'rows[0]["drift_alarms"]')
assert_eq "$(wc -l <"$WORK/alerts.jsonl")" "$alarms" "drift alerts published"
note "$alarms drift alarms on Elec2 (ADWIN on the 0/1 error stream)"
echo "PASS $TEST_NAME"
