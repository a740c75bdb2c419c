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

start_replica "$cfg" steady "$WORK/steady.log"
started+=("$last")
start_replica "$cfg" crashy "$WORK/crashy-0.log"
victim=$last
wait_for "partition(s) of .* assigned" 2 "$WORK"/steady.log "$WORK"/crashy-0.log

"$RIFFLE" produce -c "$cfg" --brokers "$BROKERS" --requests \
    --limit "$MAX_REQUESTS" --rate 400 --no-progress >"$WORK/requests.json" \
    2>"$WORK/requests.log" &
producer=$!
seen=0
for k in $(seq 1 "$KILLS"); do
    # let the victim answer some requests, then kill it mid-transaction
    seen=$((seen + 150))
    run_riffle watch -c "$cfg" served --limit "$seen" >/dev/null 2>&1
    kill -KILL "$victim"
    wait "$victim" 2>/dev/null || true
    start_replica "$cfg" crashy "$WORK/crashy-$k.log"
    victim=$last
    wait_for "partition(s) of .* assigned" 1 "$WORK/crashy-$k.log"
done
started+=("$victim")
seen=$((seen + 150))
run_riffle watch -c "$cfg" served --limit "$seen" >/dev/null 2>&1
kill -TERM "$producer" 2>/dev/null || true
wait "$producer" || fail "producing requests failed: $(tail -3 "$WORK/requests.log")"
requests=$(riffle_json "$WORK/requests.json" 'rows[-1]["produced"]')
((requests < MAX_REQUESTS)) || fail "the request stream ended before the kills"

run_riffle watch -c "$cfg" served --limit "$requests" --idle-exit 30 \
    >/dev/null 2>&1
run_riffle watch -c "$cfg" served --idle-exit 3 >"$WORK/served.jsonl" 2>/dev/null
stop_started
note "$requests requests, $KILLS kills"
assert_eq "$(wc -l <"$WORK/served.jsonl")" "$requests" "committed predictions"
assert_eq "$(riffle_json "$WORK/served.jsonl" 'len({r["event_id"] for r in rows})')" \
    "$requests" "distinct requests answered"
echo "PASS $TEST_NAME"
