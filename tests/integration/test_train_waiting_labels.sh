#!/usr/bin/env bash
#
# With a labels group, riffle train scores a row that comes without its
# label and keeps it for a label that train never reads: the summary
# counts such rows (waiting_for_label) and a warning says why they were
# not learned, where they used to leave no trace (neither learned, nor
# dead-lettered, nor bad). Rows that carry their label are learned. No
# broker.
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

echo "PASS $TEST_NAME"
