#!/usr/bin/env bash
#
# Multiclass and regression on real bundled data, through the same
# learner as everything else (riffle train; no broker needed):
# - UCI Adult's household relationship (6 classes, one-against-all),
# - UCI Adult's hours worked per week (squared loss).
# The values are measured and deterministic; each is also checked against
# the baseline a model must beat.
source "$(dirname "$0")/lib.sh"

readonly RELATIONSHIP_ACCURACY=0.722 # majority class (Husband): 0.4052
readonly HOURS_RMSE=10.907            # standard deviation of hours: 12.347

"$RIFFLE" train -c config/adult_relationship.cfg >"$WORK/rel.json"
acc=$(riffle_json "$WORK/rel.json" 'round(rows[0]["accuracy"], 4)')
note "relationship: progressive accuracy $acc"
assert_eq "$acc" "$RELATIONSHIP_ACCURACY" "multiclass progressive accuracy"

"$RIFFLE" train -c config/adult_hours.cfg >"$WORK/hours.json"
rmse=$(riffle_json "$WORK/hours.json" 'round(rows[0]["rmse"], 3)')
note "hours per week: progressive RMSE $rmse"
assert_eq "$rmse" "$HOURS_RMSE" "regression progressive RMSE"
echo "PASS $TEST_NAME"
