#!/usr/bin/env bash
#
# `riffle learn` and `riffle train` share the per-event path, but train
# alone reads ahead: its reader thread hints each row (pseudonyms, bands
# and feature hashes made before the learner needs them) and the learner
# loads the next row's weights while it learns the one in hand. Neither
# may change what is learned: on Adult (pseudonyms, an age coarsened to
# bands) and the click-through set (FTRL over 2^20 weights, the look
# ahead on) a learner fed through Kafka ends with train's weights, bit
# for bit, and its progressive metrics. The other tests that compare the
# two use Elec2, which has no personal field and too small a table for
# the look ahead.
source "$(dirname "$0")/lib.sh"

for base in adult ctr; do
    cfg=$(make_config "config/$base.cfg")
    run_riffle topics create -c "$cfg" >/dev/null
    run_riffle produce -c "$cfg" --no-progress >/dev/null 2>&1
    "$RIFFLE" train -c "$cfg" >"$WORK/train.json"
    run_riffle learn -c "$cfg" --idle-exit 3 >"$WORK/learn.json" 2>"$WORK/learn.log"

    assert_eq "$(riffle_json "$WORK/learn.json" 'rows[0]["processed"]')" \
        "$(riffle_json "$WORK/train.json" 'rows[0]["rows"] - rows[0]["bad_rows"]')" \
        "$base: events learn processed"
    for key in accuracy logloss auc; do
        want=$(riffle_json "$WORK/train.json" "rows[0]['$key']")
        [[ -n $want ]] || fail "$base: train reports no $key"
        assert_eq "$(riffle_json "$WORK/learn.json" "rows[0]['$key']")" "$want" \
            "$base: $key"
    done
    assert_same_weights "$WORK/learn.json" "$base: weights of learn vs train"
    note "$base: $(riffle_json "$WORK/train.json" 'rows[0]["weights_digest"]') both"
done
echo "PASS $TEST_NAME"
