#!/usr/bin/env bash
#
# Exactly once through a broker restart: the test's broker is stopped in
# the middle of a stream and started again a few seconds later while
# `produce` and `learn` keep running. The learner must wait (saying what
# for), resume, and end with one committed prediction per event, none
# twice, and the same weights as an uninterrupted run.
#
# Restarts the broker scripts/test started (its port is the one in
# RIFFLE_BROKERS); later tests find it running again. Bounded: 45,312
# events at 4,000 events/s, the broker away for 5 s.
source "$(dirname "$0")/lib.sh"

readonly EVENTS=45312
readonly RATE=4000
readonly PORT=${BROKERS##*:}

broker() { RIFFLE_KAFKA_PORT=$PORT scripts/kafka "$@"; }
broker status >/dev/null || { echo "SKIP: no scripts/kafka broker on port $PORT"; exit 77; }

cfg=$(make_config config/elec2.cfg)
run_riffle topics create -c "$cfg" >/dev/null
"$RIFFLE" train -c "$cfg" >"$WORK/train.json"

run_riffle produce -c "$cfg" --rate "$RATE" --no-progress \
    >"$WORK/produce.json" 2>"$WORK/produce.log" &
producer=$!
# --max-events, not --idle-exit: the test wants every event the producer
# sends learned, and an idle learner stops as soon as the brokers confirm
# it has read to their end, which they may do before the producer, held
# up by the same outage, has sent the rest. An outage alone no longer
# stops it (the brokers cannot confirm the end, test_idle_outage.sh).
run_riffle learn -c "$cfg" --max-events "$EVENTS" >"$WORK/learn.json" 2>"$WORK/learn.log" &
learner=$!

sleep 3
broker stop >/dev/null
note "broker stopped"
sleep 5
broker start >/dev/null || fail "the broker did not start again"
note "broker started again"

wait "$producer" || fail "produce failed: $(tail -3 "$WORK/produce.log")"
wait "$learner" || fail "learn failed: $(grep -m3 error "$WORK/learn.log")"
note "learn: $(cat "$WORK/learn.json")"

# librdkafka reports a lost broker as a warning or, when every connection
# is refused at once, as an error; either proves the outage was seen.
grep -qE "(warn|error) +rdkafka.*(Disconnected|brokers are down)|waiting for the brokers" \
    "$WORK/learn.log" ||
    fail "the learner never noticed the broker was away"

run_riffle watch -c "$cfg" predictions --idle-exit 3 >"$WORK/pred.jsonl" 2>/dev/null
assert_eq "$(wc -l <"$WORK/pred.jsonl")" "$EVENTS" "committed predictions"
assert_ids_once "$WORK/pred.jsonl" "every event id exactly once"
assert_same_weights "$WORK/learn.json" "weights after the broker restart vs an uninterrupted run"
echo "PASS $TEST_NAME"
