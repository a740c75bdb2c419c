#!/usr/bin/env bash
#
# At least once through crashes (serve.delivery's default): two `riffle
# serve` replicas answer a stream of requests while one of them is
# killed with SIGKILL twice and restarted. Every request gets at least
# one prediction; a request answered twice (scored again after a crash,
# from the last committed offset) got the same answer both times, from
# the same model version, so a reader can drop the repeat by request id.
source "$(dirname "$0")/lib.sh"

readonly MODEL_EVENTS=2000
readonly MAX_REQUESTS=100000 # a stream that outlasts the kills
readonly KILLS=2
readonly WAIT_S=120

trap 'stop_started; cleanup_work' EXIT

cfg=$(make_config config/elec2.cfg)
grep -q "delivery" "$cfg" && fail "elec2.cfg chooses a serve delivery: the default is under test"
serve_model "$cfg" "$MODEL_EVENTS" "$WORK/learn.log"

serve_through_kills "$cfg" "$KILLS" "$MAX_REQUESTS"
grep -q "at least once" "$WORK/steady.log" || fail "the replica is not at least once"

# Wait until every request has an answer (or the bound), then check.
answered()
{
    run_riffle watch -c "$cfg" served --idle-exit 3 >"$WORK/served.jsonl" 2>/dev/null
    riffle_json "$WORK/served.jsonl" 'len({r["event_id"] for r in rows})'
}
until (($(answered) >= requests)) || ((SECONDS > WAIT_S * 3)); do
    sleep 1
done
stop_started
answers=$(wc -l <"$WORK/served.jsonl")
note "$requests requests, $KILLS kills, $answers answers"
assert_eq "$(riffle_json "$WORK/served.jsonl" 'len({r["event_id"] for r in rows})')" \
    "$requests" "distinct requests answered"
assert_eq "$(riffle_json "$WORK/served.jsonl" '
len({(r["event_id"], r["model_version"], r["value"]) for r in rows})')" \
    "$requests" "distinct answers (a repeat must be identical)"
echo "PASS $TEST_NAME"
