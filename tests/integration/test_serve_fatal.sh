#!/usr/bin/env bash
#
# Exactly once through a fenced replica, without a restart: a `riffle
# serve` replica is stopped (SIGSTOP) while a transaction of answers is
# open, for longer than its serve.transaction_timeout_ms, so the broker
# aborts the transaction and bumps the transactional id's epoch; resumed
# (SIGCONT), the replica's producer is fenced, a fatal error. The same
# process must rebuild its Kafka clients (a new producer under the same
# id, a new consumer from the committed offsets), keep serving the model
# it holds, and answer every request exactly once, as read_committed
# readers see it.
#
# The broker aborts an expired transaction at its next check (every 10 s
# by default), so the test waits for the abort itself, seen as the abort
# markers that move the served topic's end while the replica stands
# still, before resuming it (pause_until_aborted: the request producer
# stands still too, so the requests cannot end before the replica is
# resumed, and a pause that finds no transaction open is tried again).
# Bounded: 6,000 requests at 300/s, a pause of 10 to 20 s.
source "$(dirname "$0")/lib.sh"

readonly MODEL_EVENTS=2000
readonly REQUESTS=6000
readonly RATE=300
readonly TXN_TIMEOUT_MS=10000 # the least librdkafka accepts
readonly COMMIT_MS=4000       # at most half the timeout
readonly ABORT_WAIT_S=60      # the timeout, one broker check, and slack
# Longer than a pause that finds no transaction open (the replica and
# the requests both stand still): a replica resumed from one must not
# take it for the end of the requests.
readonly IDLE_EXIT_S=15

replica=""
producer=""
resume_replica() { kill -CONT $producer $replica 2>/dev/null || true; }
trap 'resume_replica; stop_started; [[ -n ${KEEP_WORK:-} ]] || cleanup_work' EXIT

cfg=$(make_config config/elec2.cfg)
sed -i "s/^  partitions = 2;/  partitions = 2; delivery = \"exactly_once\";\
 commit_every_ms = $COMMIT_MS; transaction_timeout_ms = $TXN_TIMEOUT_MS;/" "$cfg"
grep -q "transaction_timeout_ms = $TXN_TIMEOUT_MS" "$cfg" ||
    fail "could not set the serve transaction settings in $cfg"
served=$(sed -n 's/^ *predictions = "\([^"]*\.served\)".*/\1/p' "$cfg")
[[ -n $served ]] || fail "no served topic in $cfg"
serve_model "$cfg" "$MODEL_EVENTS" "$WORK/learn.log"

# riffle itself in the background, so that $! is the replica's own pid
"$RIFFLE" serve -c "$cfg" --brokers "$BROKERS" --instance solo \
    --idle-exit "$IDLE_EXIT_S" >"$WORK/serve.json" 2>"$WORK/serve.log" &
replica=$!
started+=("$replica")
wait_for "2 partition(s) of .* assigned" 1 "$WORK/serve.log"
"$RIFFLE" produce -c "$cfg" --brokers "$BROKERS" --requests --limit "$REQUESTS" \
    --rate "$RATE" --no-progress >"$WORK/requests.json" 2>"$WORK/requests.log" &
producer=$!
started+=("$producer")

# Pause once the replica is answering inside a transaction: one is open
# but for its commits, the next opening with the next request.
answered_at_least() { (($(topic_end "$served" 2) >= $1)); }
wait_until "300 answers" answered_at_least 300
pause_until_aborted "$replica" "$served" 2 "$producer" "$ABORT_WAIT_S"

wait "$producer" || fail "producing requests failed: $(tail -3 "$WORK/requests.log")"
rc=0
wait "$replica" || rc=$?
replica=""
started=()
assert_eq "$rc" 0 "exit status of the resumed replica ($(grep -m3 error "$WORK/serve.log"))"
note "serve: $(cat "$WORK/serve.json")"
grep -q "rebuilding the Kafka clients of replica" "$WORK/serve.log" ||
    fail "the replica never rebuilt its clients: $(grep -m3 -E 'warn|error' "$WORK/serve.log")"
note "$(grep -m1 'rebuilding the Kafka clients' "$WORK/serve.log")"
assert_eq "$(riffle_json "$WORK/serve.json" 'rows[0]["rebuilds"]')" 1 "client rebuilds"
# the dropped transaction's requests are counted once, when answered again
assert_eq "$(riffle_json "$WORK/serve.json" 'rows[0]["requests"]')" "$REQUESTS" \
    "requests the replica counts"

run_riffle watch -c "$cfg" served --idle-exit 3 >"$WORK/served.jsonl" 2>/dev/null
assert_eq "$(wc -l <"$WORK/served.jsonl")" "$REQUESTS" "committed predictions"
assert_eq "$(riffle_json "$WORK/served.jsonl" 'len({r["event_id"] for r in rows})')" \
    "$REQUESTS" "distinct requests answered"
assert_eq "$(riffle_json "$WORK/served.jsonl" 'sorted({r["model_version"] for r in rows})')" \
    "[$MODEL_EVENTS]" "model versions that answered (the slot kept its model)"
echo "PASS $TEST_NAME"
