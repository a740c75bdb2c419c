#!/usr/bin/env bash
#
# Multiclass and regression on real bundled data, through the same
# learner as everything else (riffle train; the broker only for the
# regression's predictions topic):
# - UCI Adult's household relationship (6 classes, one-against-all),
# - UCI Adult's hours worked per week (squared loss).
# The values are measured and deterministic; each is also checked against
# the baseline a model must beat.
source "$(dirname "$0")/lib.sh"

readonly RELATIONSHIP_ACCURACY=0.7221 # majority class (Husband): 0.4052
readonly HOURS_RMSE=10.907            # standard deviation of hours: 12.347

"$RIFFLE" train -c config/adult_relationship.cfg >"$WORK/rel.json"
acc=$(riffle_json "$WORK/rel.json" 'round(rows[0]["accuracy"], 4)')
note "relationship: progressive accuracy $acc"
assert_eq "$acc" "$RELATIONSHIP_ACCURACY" "multiclass progressive accuracy"

# --predictions names each prediction as the prediction topic's record
# does: the predicted class's configured name (from which the accuracy
# follows) and its probability, which is the value.
"$RIFFLE" train -c config/adult_relationship.cfg --predictions "$WORK/rel.jsonl" >/dev/null
classes='["Husband", "Not-in-family", "Own-child", "Unmarried", "Wife", "Other-relative"]'
named="sum(r['predicted_label'] == $classes[r['predicted_class']]
           and r['probability'] == r['value'] for r in rows)"
assert_eq "$(riffle_json "$WORK/rel.jsonl" "$named")" \
    32561 "multiclass predicted_label and probability"
assert_eq "$(riffle_json "$WORK/rel.jsonl" \
    'round(sum(r["predicted_label"] == r["label"] for r in rows) / len(rows), 4)')" \
    "$RELATIONSHIP_ACCURACY" "multiclass accuracy recomputed from predicted_label"

"$RIFFLE" train -c config/adult_hours.cfg >"$WORK/hours.json"
rmse=$(riffle_json "$WORK/hours.json" 'round(rows[0]["rmse"], 3)')
note "hours per week: progressive RMSE $rmse"
assert_eq "$rmse" "$HOURS_RMSE" "regression progressive RMSE"

# A regression has no probability and no class (null, as in the record)
# and names the predicted value as text.
"$RIFFLE" train -c config/adult_hours.cfg --predictions "$WORK/hours.jsonl" >/dev/null
regression_named='sum(r["probability"] is None and r["predicted_class"] is None
                      and float(r["predicted_label"]) == r["value"] for r in rows)'
assert_eq "$(riffle_json "$WORK/hours.jsonl" "$regression_named")" \
    32561 "regression predicted_label, probability and predicted_class"

# The predictions topic says the same as the file: streamed, the first
# 300 rows' predictions carry no class either.
cfg=$(make_config config/adult_hours.cfg)
run_riffle topics create -c "$cfg" >/dev/null
run_riffle produce -c "$cfg" --limit 300 --no-progress >/dev/null 2>"$WORK/produce.log" ||
    fail "produce failed: $(tail -2 "$WORK/produce.log")"
run_riffle learn -c "$cfg" --idle-exit 2 >/dev/null 2>"$WORK/learn.log" ||
    fail "learn failed: $(grep -m2 error "$WORK/learn.log")"
run_riffle watch -c "$cfg" predictions --idle-exit 2 >"$WORK/topic.jsonl" 2>/dev/null
assert_eq "$(riffle_json "$WORK/topic.jsonl" "(len(rows), $regression_named)")" \
    "(300, 300)" "regression predictions on the topic"
echo "PASS $TEST_NAME"
