#!/usr/bin/env bash
#
# Two learner instances in one group, with a rebalance forced midway: the
# first instance reads both partitions of the input alone, then a second
# one joins the group and takes one of them over. Every event must have
# exactly one committed prediction, and be learned by exactly one of the
# two models: the first instance commits its open batch with a snapshot
# when the partition is revoked, claiming it in the offset's metadata
# (consumers/handover.h), and the second starts at that offset. So the
# instances' learned counts add up to the input, and neither relearns
# anything (a graceful hand-over leaves no gap).
source "$(dirname "$0")/lib.sh"

readonly EVENTS=45312
readonly RATE=4000

cfg=$(make_config config/elec2.cfg)
sed -i 's/^  partitions = 1;/  partitions = 2;/' "$cfg"
grep -q "partitions = 2;" "$cfg" || fail "could not set two input partitions"

run_riffle topics create -c "$cfg" >/dev/null
run_riffle produce -c "$cfg" --rate "$RATE" --no-progress \
    >"$WORK/produce.json" 2>"$WORK/produce.log" &
producer=$!

run_riffle learn -c "$cfg" --instance a --idle-exit 6 >"$WORK/a.json" 2>"$WORK/a.log" &
learner_a=$!
# b joins once a has learned from both partitions (its first progress
# line comes after 5,000 events), so that the hand-over has state to move.
WAIT_S=60 wait_until "a progress line of learner a" grep -q "events (" "$WORK/a.log"
run_riffle learn -c "$cfg" --instance b --idle-exit 6 >"$WORK/b.json" 2>"$WORK/b.log" &
learner_b=$!

wait "$producer" || fail "produce failed: $(tail -3 "$WORK/produce.log")"
wait "$learner_a" || fail "learner a failed: $(grep -m3 error "$WORK/a.log")"
wait "$learner_b" || fail "learner b failed: $(grep -m3 error "$WORK/b.log")"
note "a: $(cat "$WORK/a.json")"
note "b: $(cat "$WORK/b.json")"

grep -q "partition(s) revoked" "$WORK/a.log" || fail "no rebalance happened in learner a"
# The claim made the round trip through the transaction's offsets and
# rd_kafka_committed(): b names the instance it took over from.
grep -q "taking over from instance .*@a" "$WORK/b.log" ||
    fail "learner b did not see a's claim: $(grep -m3 'assigned' "$WORK/b.log")"

assert_learned_once_by_two "$cfg" "$EVENTS"
assert_ids_once "$WORK/pred.jsonl" "every event id exactly once across both instances"
assert_eq "$(riffle_json "$WORK/pred.jsonl" 'len({r["source_partition"] for r in rows})')" 2 \
    "predictions from both partitions"
echo "PASS $TEST_NAME"
