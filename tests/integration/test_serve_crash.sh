#!/usr/bin/env bash
#
# Exactly once through crashes: two `riffle serve` replicas answer a
# stream of requests while one of them is killed with SIGKILL three times
# and restarted under the same --instance name each time. A read_committed
# reader of the served topic then sees every request answered exactly
# once: what a killed replica had not committed is aborted (its restart
# fences it) and scored again.
source "$(dirname "$0")/lib.sh"

readonly MODEL_EVENTS=2000
readonly MAX_REQUESTS=100000 # a stream that outlasts the kills
readonly KILLS=3
readonly WAIT_S=120

trap 'stop_started; cleanup_work' EXIT

cfg=$(make_config config/elec2.cfg)
sed -i 's/partitions = 2;/partitions = 2; delivery = "exactly_once";/' "$cfg"
grep -q 'delivery = "exactly_once"' "$cfg" || fail "could not choose exactly once"
serve_model "$cfg" "$MODEL_EVENTS" "$WORK/learn.log"

serve_through_kills "$cfg" "$KILLS" "$MAX_REQUESTS"

run_riffle watch -c "$cfg" served --limit "$requests" --idle-exit 30 \
    >/dev/null 2>&1
run_riffle watch -c "$cfg" served --idle-exit 3 >"$WORK/served.jsonl" 2>/dev/null
stop_started
note "$requests requests, $KILLS kills"
assert_eq "$(wc -l <"$WORK/served.jsonl")" "$requests" "committed predictions"
assert_eq "$(riffle_json "$WORK/served.jsonl" 'len({r["event_id"] for r in rows})')" \
    "$requests" "distinct requests answered"
echo "PASS $TEST_NAME"
