#!/usr/bin/env bash
#
# Drift on real data (riffle train; no broker needed): Elec2 is a stream
# whose concept changes, and ADWIN on the learner's 0/1 errors raises
# alarms there; with drift.react the learner makes its adaptive steps
# large again at each alarm and follows the change faster (measured:
# progressive accuracy 0.9069 without, 0.9095 with react = 0.5). The
# stationarity side (no alarm on a stationary stream of 100k events) is
# a unit test: tests/unit/test_drift.c.
source "$(dirname "$0")/lib.sh"

readonly ACCURACY_WITHOUT=0.9069
readonly ACCURACY_WITH_REACT=0.9095

"$RIFFLE" train -c config/elec2.cfg >"$WORK/plain.json"
alarms=$(riffle_json "$WORK/plain.json" 'rows[0]["drift_alarms"]')
note "Elec2: $alarms drift alarms"
assert_eq "$(riffle_json "$WORK/plain.json" '5 <= rows[0]["drift_alarms"] <= 40')" True \
    "drift alarms on Elec2 within the measured range"
assert_eq "$(riffle_json "$WORK/plain.json" 'round(rows[0]["accuracy"], 4)')" \
    "$ACCURACY_WITHOUT" "accuracy without reaction"

{ cat config/elec2.cfg; echo 'drift = { react = 0.5; };'; } >"$WORK/react.cfg"
"$RIFFLE" train -c "$WORK/react.cfg" >"$WORK/react.json"
assert_eq "$(riffle_json "$WORK/react.json" 'round(rows[0]["accuracy"], 4)')" \
    "$ACCURACY_WITH_REACT" "accuracy when the learner reacts to drift"
echo "PASS $TEST_NAME"
