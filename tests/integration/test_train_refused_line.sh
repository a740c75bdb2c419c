#!/usr/bin/env bash
#
# `riffle train --predictions` and `riffle score` write a refused event's
# line with the reason, the field, the file's row and the detail that
# says which rule it broke (never the value), and the version of the
# model current when it came: the line read "model_version":0 after the
# model had learned, and left out the detail a dead letter and serve's
# 422 carry. No broker.
source "$(dirname "$0")/lib.sh"

# Three rows learned, then one with a label the configuration does not
# know (the header is line 1).
zcat data/elec2/electricity.csv.gz | sed -n '1,4p; 5s/,[A-Z]*$/,SIDEWAYS/p' \
    >"$WORK/rows.csv"
"$RIFFLE" train -c config/elec2.cfg --file "$WORK/rows.csv" \
    --snapshot "$WORK/model.snap" --predictions "$WORK/train.jsonl" \
    >/dev/null 2>"$WORK/train.log" || fail "train: $(tail -3 "$WORK/train.log")"
"$RIFFLE" score -c config/elec2.cfg --file "$WORK/rows.csv" \
    --from-snapshot "$WORK/model.snap" >"$WORK/score.jsonl" \
    2>"$WORK/score.log" || fail "score: $(tail -3 "$WORK/score.log")"

# id, reason, field, row, model version, detail
expected="elec2-4 invalid_label class 4 3 the label is neither a positive nor a"
expected+=" negative value in the configuration"
for f in train score; do
    line=$(tail -1 "$WORK/$f.jsonl")
    note "$f: $line"
    assert_eq "$(python3 -c 'import json, sys; r = json.loads(sys.argv[1]); print(
        r["event_id"], r["refused"], r["field"], r["row"], r["model_version"],
        r["detail"])' "$line")" "$expected" "$f: the refused line"
done
echo "PASS $TEST_NAME"
