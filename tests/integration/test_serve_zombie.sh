#!/usr/bin/env bash
#
# Two live `riffle serve` replicas under one name (--instance), at least
# once (serve.delivery's default): the newer joins the group under the
# older's static member id and fences its consumer, a fatal error. The
# fenced replica rebuilds its clients (test_serve_fatal.sh), which fences
# the other in turn; the bound on rebuilds (common/rebuild_guard.h) must
# end the ping-pong: one replica stops with an error naming the shared
# id, the other goes on alone and every request gets an answer.
#
# Bounded: 2,000 requests at 400/s; the replicas exit 3 s after
# catching up, or at the rebuild bound.
source "$(dirname "$0")/lib.sh"

readonly MODEL_EVENTS=2000
readonly REQUESTS=2000
readonly RATE=400

trap 'stop_started; [[ -n ${KEEP_WORK:-} ]] || cleanup_work' EXIT

cfg=$(make_config config/elec2.cfg)
grep -q "delivery" "$cfg" && fail "elec2.cfg chooses a serve delivery: the default is under test"
serve_model "$cfg" "$MODEL_EVENTS" "$WORK/learn.log"
group=$(sed -n 's/^ *group_id = "\([^"]*\)".*/\1/p' "$cfg" | head -1)
id="$group-serve-twin"

"$RIFFLE" serve -c "$cfg" --brokers "$BROKERS" --instance twin --idle-exit 3 \
    >"$WORK/a.json" 2>"$WORK/a.log" &
first=$!
started+=("$first")
wait_for "partition(s) of .* assigned" 1 "$WORK/a.log"
run_riffle produce -c "$cfg" --requests --limit "$REQUESTS" --rate "$RATE" \
    --no-progress >"$WORK/requests.json" 2>"$WORK/requests.log" &
producer=$!
started+=("$producer")
run_riffle watch -c "$cfg" served --limit 100 >/dev/null 2>&1
"$RIFFLE" serve -c "$cfg" --brokers "$BROKERS" --instance twin --idle-exit 3 \
    >"$WORK/b.json" 2>"$WORK/b.log" &
second=$!
started+=("$second")

wait "$producer" || fail "producing requests failed: $(tail -3 "$WORK/requests.log")"
rc_a=0 rc_b=0
wait "$first" || rc_a=$?
wait "$second" || rc_b=$?
started=()
note "exit status: first $rc_a, second $rc_b"
note "first: $(grep -c 'rebuilding the Kafka clients' "$WORK/a.log") rebuild(s);" \
    "second: $(grep -c 'rebuilding the Kafka clients' "$WORK/b.log") rebuild(s)"

if ((rc_a == 0)); then stopped=b; else stopped=a; fi
assert_eq "$(((rc_a == 0) + (rc_b == 0)))" 1 "replicas that finished"
expected="error serve: the Kafka clients failed for good 4 times in .*"
expected+="transactional id and group instance id $id,"
grep -q "$expected" "$WORK/$stopped.log" ||
    fail "the stopped replica does not name the shared id:" \
        "$(grep -m2 'error serve' "$WORK/$stopped.log")"
assert_eq "$(grep -c 'rebuilding the Kafka clients' "$WORK/$stopped.log")" 3 \
    "rebuilds of the replica that stopped"

run_riffle watch -c "$cfg" served --idle-exit 3 >"$WORK/served.jsonl" 2>/dev/null
assert_eq "$(riffle_json "$WORK/served.jsonl" 'len({r["event_id"] for r in rows})')" \
    "$REQUESTS" "distinct requests answered"
assert_eq "$(riffle_json "$WORK/served.jsonl" '
len({(r["event_id"], r["model_version"], r["value"]) for r in rows})')" \
    "$REQUESTS" "distinct answers (a repeat must be identical)"
echo "PASS $TEST_NAME"
