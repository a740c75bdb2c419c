#!/usr/bin/env bash
#
# The file commands: `train` writes a snapshot file, `score` predicts a
# held-out file with it without learning, and `learn --from-snapshot`
# starts streaming from a model trained offline.
source "$(dirname "$0")/lib.sh"

# Measured: a model trained on Adult's training split scores the official
# test split at this accuracy (the first line of adult.test is UCI's
# comment line, reported and skipped as a bad row).
readonly ADULT_TEST_ACCURACY=0.8503
readonly TEST_ROWS=16281

"$RIFFLE" train -c config/adult.cfg --snapshot "$WORK/adult.snap" >"$WORK/train.json"
assert_eq "$(riffle_json "$WORK/train.json" 'rows[0]["learned"]')" 32561 "events learned"

"$RIFFLE" score -c config/adult.cfg --from-snapshot "$WORK/adult.snap" \
    --file data/adult/adult.test.gz >"$WORK/scores.jsonl" 2>"$WORK/score.log"
assert_eq "$(wc -l <"$WORK/scores.jsonl")" "$TEST_ROWS" "scored rows"
assert_eq "$(riffle_json "$WORK/scores.jsonl" '{r["model_version"] for r in rows}')" \
    "{32561}" "every row scored by the trained model, unchanged"
acc=$(riffle_json "$WORK/scores.jsonl" \
    'round(sum(r["predicted_class"] == (r["label"].startswith(">")) for r in rows) / len(rows), 4)')
note "held-out accuracy $acc"
assert_eq "$acc" "$ADULT_TEST_ACCURACY" "held-out accuracy on adult.test"
grep -q "score: .*adult.test.gz:1: expected 15 fields, found 1" "$WORK/score.log" ||
    fail "the comment line was not reported by score: $(cat "$WORK/score.log")"
# Every line score logs names score, the restore too (it read "train").
grep -q "info  score: restored model adult version 32561 from" "$WORK/score.log" ||
    fail "the restore was not logged by score: $(cat "$WORK/score.log")"
if grep -q " train: " "$WORK/score.log"; then
    fail "score logs as train: $(grep " train: " "$WORK/score.log")"
fi

# train writes its progressive predictions when asked: one line an event,
# made before learning it, from which the reported accuracy follows.
"$RIFFLE" train -c config/elec2.cfg --predictions "$WORK/progressive.jsonl" \
    >"$WORK/elec2-train.json"
assert_eq "$(wc -l <"$WORK/progressive.jsonl")" 45312 "progressive predictions"
assert_eq "$(riffle_json "$WORK/progressive.jsonl" \
    'round(sum(r["predicted_class"] == (r["label"] == "UP") for r in rows) / len(rows), 6)')" \
    "$(riffle_json "$WORK/elec2-train.json" 'round(rows[0]["accuracy"], 6)')" \
    "accuracy recomputed from the predictions file"
# Each line names the prediction as the prediction topic's record does:
# the probability of UP (the value), and the configured name of the class.
assert_eq "$(riffle_json "$WORK/progressive.jsonl" \
    'sum(r["probability"] == r["value"] and
         r["predicted_label"] == ("UP" if r["predicted_class"] else "DOWN") for r in rows)')" \
    45312 "probability and predicted_label as the prediction record has them"

# The snapshot schema is read only when a snapshot is: a schema folder
# without model_snapshot.avsc trains, and refuses --snapshot before
# learning (no summary line).
mkdir -p "$WORK/schemas-only-input"
cp schemas/elec2.avsc "$WORK/schemas-only-input/"
sed "s|schemas/elec2.avsc|$WORK/schemas-only-input/elec2.avsc|" config/elec2.cfg \
    >"$WORK/elec2-no-snapshot-schema.cfg"
"$RIFFLE" train -c "$WORK/elec2-no-snapshot-schema.cfg" >"$WORK/no-snap.json"
assert_eq "$(riffle_json "$WORK/no-snap.json" 'rows[0]["learned"]')" 45312 \
    "events learned without a snapshot schema"
rc=0
"$RIFFLE" train -c "$WORK/elec2-no-snapshot-schema.cfg" --snapshot "$WORK/never.snap" \
    >"$WORK/no-snap2.json" 2>"$WORK/no-snap2.log" || rc=$?
assert_eq "$rc" 1 "train --snapshot without the snapshot schema"
grep -q "model_snapshot.avsc" "$WORK/no-snap2.log" ||
    fail "the missing schema was not named: $(cat "$WORK/no-snap2.log")"
assert_eq "$(wc -c <"$WORK/no-snap2.json")" 0 "no summary before the schema error"

# Training in two runs through a snapshot is training in one: the second
# half's predictions are those of the whole run, to the last bit. The
# snapshot carries everything the learner keeps, down to the normalized
# optimizer's t and N (written as 0, 25,178 of these 25,312 predictions
# differed).
zcat data/elec2/electricity.csv.gz | awk 'NR <= 20001' >"$WORK/first.csv"
zcat data/elec2/electricity.csv.gz | awk 'NR == 1 || NR > 20001' >"$WORK/rest.csv"
"$RIFFLE" train -c config/elec2.cfg --file "$WORK/first.csv" --snapshot "$WORK/first.snap" \
    >/dev/null
"$RIFFLE" train -c config/elec2.cfg --file "$WORK/rest.csv" --from-snapshot "$WORK/first.snap" \
    --predictions "$WORK/rest.jsonl" >/dev/null 2>&1
tail -n +20001 "$WORK/progressive.jsonl" | cut -d, -f2 >"$WORK/whole-tail.txt"
cut -d, -f2 "$WORK/rest.jsonl" >"$WORK/rest-values.txt"
assert_eq "$(wc -l <"$WORK/rest-values.txt")" 25312 "predictions after the snapshot"
cmp -s "$WORK/whole-tail.txt" "$WORK/rest-values.txt" ||
    fail "training resumed from a snapshot predicts otherwise than one run"

# Streaming from an offline model: the first prediction is made by it.
"$RIFFLE" train -c config/elec2.cfg --snapshot "$WORK/elec2.snap" >/dev/null
cfg=$(make_config config/elec2.cfg)
run_riffle topics create -c "$cfg" >/dev/null
run_riffle produce -c "$cfg" --file tests/fixtures/elec2_bad_rows.csv --no-progress >/dev/null 2>&1
run_riffle learn -c "$cfg" --from-snapshot "$WORK/elec2.snap" --idle-exit 3 \
    >"$WORK/learn.json" 2>"$WORK/learn.log"
grep -q "restored model elec2 version 45312 from $WORK/elec2.snap" "$WORK/learn.log" ||
    fail "learn did not start from the file: $(grep learn: "$WORK/learn.log" | head -3)"
run_riffle watch -c "$cfg" predictions --limit 1 >"$WORK/first.jsonl" 2>/dev/null
assert_eq "$(riffle_json "$WORK/first.jsonl" 'rows[0]["model_version"]')" 45312 \
    "version of the first streamed prediction"
# score's line for that event, by the same model, is the topic's record:
# the fields both carry have the same names and values.
"$RIFFLE" score -c config/elec2.cfg --from-snapshot "$WORK/elec2.snap" \
    --file tests/fixtures/elec2_bad_rows.csv >"$WORK/fixture-scores.jsonl" 2>/dev/null
cat "$WORK/first.jsonl" >>"$WORK/fixture-scores.jsonl"
assert_eq "$(riffle_json "$WORK/fixture-scores.jsonl" '
[k for k in sorted(rows[0]) if k not in rows[-1] or rows[0][k] != rows[-1][k]]')" \
    "[]" "score's JSON line against the prediction topic's record"
assert_eq "$(riffle_json "$WORK/fixture-scores.jsonl" 'sorted(rows[0])')" \
    "['event_id', 'label', 'model_version', 'predicted_class', 'predicted_label', \
'probability', 'value']" "the fields of score's JSON line"
echo "PASS $TEST_NAME"
