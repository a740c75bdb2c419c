#!/usr/bin/env bash
#
# test_rebalance.sh's hand-over with the whole input already waiting: the
# first instance's consumer holds a full queue of fetched events when the
# second one joins, so the revoke meets it in the middle of a batch of
# messages taken from librdkafka (consumers/consumer.c serves it after
# the messages taken before it). Every event must still have exactly one
# committed prediction and be learned by exactly one of the two models:
# a message of the batch learned after the revoke would be learned by
# both, one dropped would be learned by neither.
# The first instance is stopped (SIGSTOP) early in the backlog while the
# second joins, and goes on once the second has subscribed: the rebalance
# then reaches it at once, with most of the backlog still queued. Without
# the stop a fast learner had learned the whole backlog before the second
# was assigned anything (3 runs of 4, the second learning nothing), and
# the test checked no hand-over at all.
source "$(dirname "$0")/lib.sh"
trap 'kill -CONT "${started[@]}" 2>/dev/null || true; stop_started; cleanup_work' EXIT

readonly ROWS=45312
readonly ROUNDS=4 # Elec2 four times over: a backlog of 181,248 events
readonly EVENTS=$((ROWS * ROUNDS))

cfg=$(make_config config/elec2.cfg)
sed -i 's/^  partitions = 1;/  partitions = 2;/' "$cfg"
grep -q "partitions = 2;" "$cfg" || fail "could not set two input partitions"

python3 - "$WORK/stream.csv" "$ROUNDS" <<'PY'
import gzip, sys
lines = gzip.open("data/elec2/electricity.csv.gz", "rt").read().splitlines()
with open(sys.argv[1], "w") as f:
    f.write(lines[0] + "\n")
    for _ in range(int(sys.argv[2])):
        f.write("\n".join(lines[1:]) + "\n")
PY

run_riffle topics create -c "$cfg" >/dev/null
run_riffle produce -c "$cfg" --file "$WORK/stream.csv" --no-progress \
    >"$WORK/produce.json" 2>"$WORK/produce.log" ||
    fail "produce failed: $(tail -3 "$WORK/produce.log")"

# debug: a rebalance met inside a batch call says so
RIFFLE_LOG_LEVEL=debug start_learner "$cfg" a a 6
learner_a=$last
# its first snapshot, 10,000 events in: the first progress line can come
# when a fast learner is nearly through the backlog
WAIT_S=60 wait_until "learner a's first snapshot" grep -q "elec2@a version 10000 published" \
    "$WORK/a.log"
kill -STOP "$learner_a"
start_learner "$cfg" b b 6
learner_b=$last
WAIT_S=60 wait_until "learner b's start" grep -q "pipeline elec2:" "$WORK/b.log"
sleep 4 # for b's join to reach the coordinator (a misses no heartbeat deadline)
kill -CONT "$learner_a"

wait "$learner_a" || fail "learner a failed: $(grep -m3 error "$WORK/a.log")"
wait "$learner_b" || fail "learner b failed: $(grep -m3 error "$WORK/b.log")"
started=()
note "a: $(cat "$WORK/a.json")"
note "b: $(cat "$WORK/b.json")"
grep -q "partition(s) revoked" "$WORK/a.log" || fail "no rebalance happened in learner a"
grep -q "a rebalance waits for the messages taken before it" "$WORK/a.log" ||
    fail "the rebalance did not reach learner a inside a batch of messages"
(($(riffle_json "$WORK/b.json" 'rows[0]["learned"]') > 0)) ||
    fail "learner b learned nothing: no events were left to hand over"

assert_learned_once_by_two "$cfg" "$EVENTS"
assert_eq "$(riffle_json "$WORK/pred.jsonl" \
    'len({(r["source_partition"], r["source_offset"]) for r in rows})')" \
    "$EVENTS" "distinct input offsets predicted"
assert_eq "$(riffle_json "$WORK/pred.jsonl" 'len({r["event_id"] for r in rows})')" \
    "$EVENTS" "distinct event ids predicted"
echo "PASS $TEST_NAME"
