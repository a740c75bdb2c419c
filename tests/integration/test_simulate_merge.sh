#!/usr/bin/env bash
#
# Several learner instances on one stream, merged by example-weighted
# averaging (`riffle simulate`, no broker): on UCI Adult, 2 and 4
# instances merging every 1,000 events each stay within ACCURACY_TOLERANCE
# of one instance on the whole stream, the merged model has learned every
# event, and the merge traffic is what the instances published.
source "$(dirname "$0")/lib.sh"

readonly ACCURACY_TOLERANCE=0.005
readonly ADULT_EVENTS=32561
readonly MERGE_EVERY=1000

"$RIFFLE" simulate -c config/adult.cfg --learners 1 >"$WORK/one.json"
one=$(riffle_json "$WORK/one.json" 'rows[0]["accuracy"]')
assert_eq "$(riffle_json "$WORK/one.json" 'rows[0]["scored"]')" "$ADULT_EVENTS" \
    "events scored by one instance"
note "1 instance: accuracy $one"

for n in 2 4; do
    "$RIFFLE" simulate -c config/adult.cfg --learners "$n" \
        --merge-every "$MERGE_EVERY" >"$WORK/$n.json"
    acc=$(riffle_json "$WORK/$n.json" 'rows[0]["accuracy"]')
    note "$n instances merging every $MERGE_EVERY events each: accuracy $acc"
    assert_eq "$(riffle_json "$WORK/$n.json" \
        "abs(rows[0]['accuracy'] - $one) <= $ACCURACY_TOLERANCE")" \
        True "accuracy of $n merged instances against one ($acc vs $one)"
    merges=$(riffle_json "$WORK/$n.json" 'rows[0]["merges"]')
    assert_eq "$merges" "$((ADULT_EVENTS / (n * MERGE_EVERY)))" "merges of $n instances"
    assert_eq "$(riffle_json "$WORK/$n.json" 'rows[0]["merged_version"]')" \
        "$((merges * n * MERGE_EVERY))" "events in the merged model"
    assert_eq "$(riffle_json "$WORK/$n.json" 'rows[0]["published_snapshots"]')" \
        "$((merges * n))" "snapshots published for the merges"
done
echo "PASS $TEST_NAME"
