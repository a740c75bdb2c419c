#!/usr/bin/env bash
#
# Exactly once through a fenced producer, without a restart: `learn` is
# stopped (SIGSTOP) while a batch is open, for longer than its
# delivery.transaction_timeout_ms, so the broker aborts the batch and
# bumps the transactional id's epoch; resumed (SIGCONT), the learner's
# producer is fenced, a fatal error. The same process must rebuild its
# Kafka clients, restore its last committed state, and end with one
# committed prediction per event, none twice, and the same weights as an
# uninterrupted run.
#
# The broker aborts an expired transaction at its next check (every 10 s
# by default), so the test waits for the abort itself, seen as the abort
# marker that moves the predictions topic's end while the learner stands
# still, before resuming it (pause_until_aborted: the producer stands
# still too, so the stream cannot end before the learner is resumed, and
# a pause that finds no batch open is tried again). Bounded: 20,000
# events at 1,000 events/s, a pause of 10 to 20 s.
source "$(dirname "$0")/lib.sh"

readonly EVENTS=20000
readonly RATE=1000
readonly TXN_TIMEOUT_MS=10000 # the least librdkafka accepts
readonly BATCH_MS=4000        # at most half the timeout
readonly ABORT_WAIT_S=60      # the timeout, one broker check, and slack

learner=""
producer=""
resume_learner() { kill -CONT $producer $learner 2>/dev/null || true; }
trap 'resume_learner; stop_started; [[ -n ${KEEP_WORK:-} ]] || cleanup_work' EXIT

cfg=$(make_config config/elec2.cfg)
printf 'delivery = { batch_ms = %d; transaction_timeout_ms = %d; };\n' \
    "$BATCH_MS" "$TXN_TIMEOUT_MS" >>"$cfg"
run_riffle topics create -c "$cfg" >/dev/null
predictions=$(cfg_topic "$cfg" predictions)

python3 -c 'import gzip, sys; lines = gzip.open(sys.argv[1], "rt").readlines()
sys.stdout.writelines(lines[:int(sys.argv[2]) + 1])' \
    data/elec2/electricity.csv.gz "$EVENTS" >"$WORK/stream.csv"
"$RIFFLE" train -c "$cfg" --file "$WORK/stream.csv" >"$WORK/train.json"

# riffle itself, so that the pause stops the producer, not a subshell
"$RIFFLE" produce -c "$cfg" --brokers "$BROKERS" --file "$WORK/stream.csv" \
    --rate "$RATE" --no-progress >"$WORK/produce.json" 2>"$WORK/produce.log" &
started+=($!)
producer=$!
# riffle itself in the background, so that $! is the learner's own pid
"$RIFFLE" learn -c "$cfg" --brokers "$BROKERS" --max-events "$EVENTS" \
    >"$WORK/learn.json" 2>"$WORK/learn.log" &
learner=$!
started+=("$learner")

# Pause in the middle of the stream, while a batch is open: they are
# open but for their commits, the next one opening with the next event.
# The producer is held at a fifth of the stream until the learner has
# caught up with some of it, so that however long the learner takes to
# start, the stream is still flowing when the pause comes.
input_at_least() { (($(topic_end "$(cfg_topic "$cfg" input)" 1) >= $1)); }
wait_until "$((EVENTS / 5)) events on the input topic" input_at_least $((EVENTS / 5))
kill -STOP "$producer" || fail "the producer ended before the pause"
predicted_at_least() { (($(topic_end "$predictions" 1) >= $1)); }
wait_until "$((EVENTS / 10)) predictions" predicted_at_least $((EVENTS / 10))
pause_until_aborted "$learner" "$predictions" 1 "$producer" "$ABORT_WAIT_S"

wait "$producer" || fail "produce failed: $(tail -3 "$WORK/produce.log")"
rc=0
wait "$learner" || rc=$?
learner=""
assert_eq "$rc" 0 "exit status of the resumed learner ($(grep -m3 error "$WORK/learn.log"))"
note "learn: $(cat "$WORK/learn.json")"
grep -q "rebuilding the Kafka clients" "$WORK/learn.log" ||
    fail "the learner never rebuilt its clients: $(grep -m3 -E 'warn|error' "$WORK/learn.log")"
assert_eq "$(riffle_json "$WORK/learn.json" 'rows[0]["rebuilds"]')" 1 "client rebuilds"

run_riffle watch -c "$cfg" predictions --idle-exit 3 >"$WORK/pred.jsonl" 2>/dev/null
assert_eq "$(wc -l <"$WORK/pred.jsonl")" "$EVENTS" "committed predictions"
assert_ids_once "$WORK/pred.jsonl" "every event id exactly once"
assert_versions_once "$WORK/pred.jsonl" "model versions: one update per event, none repeated"
assert_same_weights "$WORK/learn.json" "weights after the rebuild vs an uninterrupted run"
assert_eq "$(riffle_json "$WORK/learn.json" 'rows[0]["drift_alarms"]')" \
    "$(riffle_json "$WORK/train.json" 'rows[0]["drift_alarms"]')" \
    "drift alarms (those of the dropped batch are not counted twice)"
echo "PASS $TEST_NAME"
