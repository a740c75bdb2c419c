#!/usr/bin/env bash
#
# With a labels group, riffle train and simulate score a row that comes
# without its label and keep it for a label that neither reads: the
# summary counts such rows (waiting_for_label) and a warning says why
# they were not learned, where they used to leave no trace in train
# (neither learned, nor dead-lettered, nor bad) and counted in
# simulate's accuracy and logloss against a label they do not have. Rows
# that carry their label are learned and measured as without the others.
# No broker.
source "$(dirname "$0")/lib.sh"

# 30 rows without their class, then 20 with it.
zcat data/elec2/electricity.csv.gz | sed -n '1p; 2,31s/,[A-Z]*$/,/p; 32,51p' \
    >"$WORK/rows.csv"
"$RIFFLE" train -c config/elec2_delayed.cfg --file "$WORK/rows.csv" \
    >"$WORK/train.json" 2>"$WORK/train.log" || fail "train: $(tail -3 "$WORK/train.log")"
assert_eq "$(riffle_json "$WORK/train.json" \
    '(rows[0]["rows"], rows[0]["waiting_for_label"], rows[0]["learned"], rows[0]["dead_letters"])')" \
    "(50, 30, 20, 0)" "rows, waiting, learned, dead letters"
grep -qF "warn  train: 30 event(s) came without a label and were scored but not learned" \
    "$WORK/train.log" || fail "no warning: $(cat "$WORK/train.log")"

# Without a labels group such a row is refused (missing_required), and
# nothing waits.
"$RIFFLE" train -c config/elec2.cfg --file "$WORK/rows.csv" >"$WORK/plain.json" \
    2>"$WORK/plain.log" || fail "train: $(tail -3 "$WORK/plain.log")"
assert_eq "$(riffle_json "$WORK/plain.json" \
    '(rows[0]["waiting_for_label"], rows[0]["learned"], rows[0]["dead_letters"])')" \
    "(0, 20, 30)" "without a labels group"
! grep -q "without a label" "$WORK/plain.log" || fail "a warning without labels"

# simulate measures the 20 labelled rows alone, as on a file of them.
sed -n '1p; 32,51p' "$WORK/rows.csv" >"$WORK/labelled.csv"
"$RIFFLE" simulate -c config/elec2_delayed.cfg --file "$WORK/rows.csv" \
    >"$WORK/sim.json" 2>"$WORK/sim.log" || fail "simulate: $(tail -3 "$WORK/sim.log")"
"$RIFFLE" simulate -c config/elec2.cfg --file "$WORK/labelled.csv" \
    >"$WORK/sim20.json" 2>/dev/null || fail "simulate on the labelled rows"
measured='(rows[0]["scored"], rows[0]["accuracy"], rows[0]["logloss"])'
assert_eq "$(riffle_json "$WORK/sim.json" "$measured")" \
    "$(riffle_json "$WORK/sim20.json" "$measured")" "simulate's measure"
assert_eq "$(riffle_json "$WORK/sim.json" 'rows[0]["waiting_for_label"]')" 30 \
    "simulate's waiting rows"
grep -qF "warn  simulate: 30 event(s) came without a label" "$WORK/sim.log" ||
    fail "no warning from simulate: $(cat "$WORK/sim.log")"

echo "PASS $TEST_NAME"
