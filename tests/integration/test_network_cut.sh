#!/usr/bin/env bash
#
# Exactly once through a cut network: the learner reaches the broker only
# through a TCP fault proxy on 127.0.0.1 (tests/integration/fault_proxy.py),
# which resets every connection and refuses new ones for a few seconds in
# the middle of a stream, then lets them through again. The learner must
# wait, resume, and end with one committed prediction per event and the
# weights of an uninterrupted run.
#
# A private broker is started for this test (the suite's broker port + 20,
# its proxied listener on + 22, the proxy on + 23) because the proxy only
# carries everything when the broker advertises the proxy's address; it
# is stopped at the end. Bounded: 45,312 events at 4,000 events/s, the
# network cut for 6 s.
source "$(dirname "$0")/lib.sh"

readonly EVENTS=45312
readonly RATE=4000
readonly SUITE_PORT=${BROKERS##*:}
readonly PORT=$((SUITE_PORT + 20))
readonly PROXY_PORT=$((SUITE_PORT + 23))
readonly DIRECT=127.0.0.1:$PORT
readonly PROXIED=127.0.0.1:$PROXY_PORT

broker() { RIFFLE_KAFKA_PORT=$PORT RIFFLE_KAFKA_PROXY_PORT=$PROXY_PORT scripts/kafka "$@"; }
proxy_pid=""
stop_all()
{
    [[ -z $proxy_pid ]] || kill "$proxy_pid" 2>/dev/null || true
    broker stop >/dev/null 2>&1 || true
    cleanup_work
}
trap stop_all EXIT

broker start --fresh >/dev/null || fail "the private broker did not start"
python3 tests/integration/fault_proxy.py "$PROXY_PORT" "$((PORT + 2))" >"$WORK/proxy.log" 2>&1 &
proxy_pid=$!
for _ in $(seq 50); do grep -q ready "$WORK/proxy.log" && break; sleep 0.1; done
grep -q ready "$WORK/proxy.log" || fail "the fault proxy did not start: $(cat "$WORK/proxy.log")"

cfg=$(make_config config/elec2.cfg)
"$RIFFLE" topics create -c "$cfg" --brokers "$DIRECT" >/dev/null
"$RIFFLE" train -c "$cfg" >"$WORK/train.json"

"$RIFFLE" produce -c "$cfg" --rate "$RATE" --no-progress --brokers "$DIRECT" \
    >"$WORK/produce.json" 2>"$WORK/produce.log" &
producer=$!
# --max-events, not --idle-exit: the test wants every event the producer
# sends learned, and an idle learner stops as soon as the brokers confirm
# it has read to their end, which they may do before the producer, held
# up by the same outage, has sent the rest. An outage alone no longer
# stops it (the brokers cannot confirm the end, test_idle_outage.sh).
"$RIFFLE" learn -c "$cfg" --max-events "$EVENTS" --brokers "$PROXIED" \
    >"$WORK/learn.json" 2>"$WORK/learn.log" &
learner=$!

sleep 3
kill -USR1 "$proxy_pid"
note "network cut"
sleep 6
kill -USR2 "$proxy_pid"
note "network restored"

wait "$producer" || fail "produce failed: $(tail -3 "$WORK/produce.log")"
wait "$learner" || fail "learn failed: $(grep -m3 error "$WORK/learn.log")"
note "learn: $(cat "$WORK/learn.json")"
grep -q "127.0.0.1:$PROXY_PORT.*\(Disconnected\|refused\)" "$WORK/learn.log" ||
    fail "the learner never lost its connection through the proxy"
if grep -q "127.0.0.1:$((PORT + 2))\|127.0.0.1:$PORT/" "$WORK/learn.log"; then
    fail "the learner reached the broker around the proxy"
fi

"$RIFFLE" watch -c "$cfg" predictions --idle-exit 3 --brokers "$DIRECT" >"$WORK/pred.jsonl" \
    2>/dev/null
assert_eq "$(wc -l <"$WORK/pred.jsonl")" "$EVENTS" "committed predictions"
assert_ids_once "$WORK/pred.jsonl" "every event id exactly once"
assert_same_weights "$WORK/learn.json" "weights after the network cut vs an uninterrupted run"
echo "PASS $TEST_NAME"
