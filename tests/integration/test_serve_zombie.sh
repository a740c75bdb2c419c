#!/usr/bin/env bash
#
# Two live `riffle serve` replicas under one name (--instance), in each
# delivery mode: the newer joins the group under the older's static
# member id and fences its consumer (and, exactly once, registers the
# same transactional id, fencing its producer), a fatal error. The
# fenced replica rebuilds its clients (test_serve_fatal.sh), which
# fences the other in turn; the bound on rebuilds (common/rebuild_guard.h)
# must end the ping-pong: one replica stops with an error naming the
# shared id, the other goes on alone. At least once, every request gets
# an answer and a repeat is identical; exactly once, every request gets
# exactly one committed answer.
#
# Bounded: per mode, 2,000 requests at 400/s; the replicas exit 3 s
# after catching up, or at the rebuild bound.
source "$(dirname "$0")/lib.sh"

readonly MODEL_EVENTS=2000
readonly REQUESTS=2000
readonly RATE=400

trap 'stop_started; [[ -n ${KEEP_WORK:-} ]] || cleanup_work' EXIT

# twins MODE: the two replicas on a pipeline of their own in MODE
# (at_least_once or exactly_once), checked as said above.
twins()
{
    local mode=$1 cfg group id first second producer rc_a rc_b stopped expected
    cfg=$(make_config config/elec2.cfg)
    sed -i "s/^  partitions = 2;/  partitions = 2; delivery = \"$mode\";/" "$cfg"
    grep -q "delivery = \"$mode\"" "$cfg" || fail "could not choose $mode"
    serve_model "$cfg" "$MODEL_EVENTS" "$WORK/learn-$mode.log"
    group=$(sed -n 's/^ *group_id = "\([^"]*\)".*/\1/p' "$cfg" | head -1)
    id="$group-serve-twin"

    "$RIFFLE" serve -c "$cfg" --brokers "$BROKERS" --instance twin --idle-exit 3 \
        >"$WORK/$mode-a.json" 2>"$WORK/$mode-a.log" &
    first=$!
    started+=("$first")
    wait_for "partition(s) of .* assigned" 1 "$WORK/$mode-a.log"
    run_riffle produce -c "$cfg" --requests --limit "$REQUESTS" --rate "$RATE" \
        --no-progress >"$WORK/requests-$mode.json" 2>"$WORK/requests-$mode.log" &
    producer=$!
    started+=("$producer")
    run_riffle watch -c "$cfg" served --limit 100 >/dev/null 2>&1
    "$RIFFLE" serve -c "$cfg" --brokers "$BROKERS" --instance twin --idle-exit 3 \
        >"$WORK/$mode-b.json" 2>"$WORK/$mode-b.log" &
    second=$!
    started+=("$second")

    wait "$producer" || fail "producing requests failed: $(tail -3 "$WORK/requests-$mode.log")"
    rc_a=0 rc_b=0
    wait "$first" || rc_a=$?
    wait "$second" || rc_b=$?
    started=()
    note "$mode: exit status: first $rc_a, second $rc_b;" \
        "rebuilds: first $(grep -c 'rebuilding the Kafka clients' "$WORK/$mode-a.log")," \
        "second $(grep -c 'rebuilding the Kafka clients' "$WORK/$mode-b.log")"

    if ((rc_a == 0)); then stopped=$mode-b; else stopped=$mode-a; fi
    assert_eq "$(((rc_a == 0) + (rc_b == 0)))" 1 "$mode: replicas that finished"
    expected="error serve: the Kafka clients failed for good 4 times in .*"
    expected+="transactional id and group instance id $id,"
    grep -q "$expected" "$WORK/$stopped.log" ||
        fail "$mode: the stopped replica does not name the shared id:" \
            "$(grep -m2 'error serve' "$WORK/$stopped.log")"
    assert_eq "$(grep -c 'rebuilding the Kafka clients' "$WORK/$stopped.log")" 3 \
        "$mode: rebuilds of the replica that stopped"

    run_riffle watch -c "$cfg" served --idle-exit 3 >"$WORK/served-$mode.jsonl" 2>/dev/null
    assert_eq "$(riffle_json "$WORK/served-$mode.jsonl" 'len({r["event_id"] for r in rows})')" \
        "$REQUESTS" "$mode: distinct requests answered"
    assert_eq "$(riffle_json "$WORK/served-$mode.jsonl" '
len({(r["event_id"], r["model_version"], r["value"]) for r in rows})')" \
        "$REQUESTS" "$mode: distinct answers (a repeat must be identical)"
    if [[ $mode == exactly_once ]]; then
        assert_eq "$(wc -l <"$WORK/served-$mode.jsonl")" "$REQUESTS" \
            "$mode: committed answers"
    fi
}

twins at_least_once
twins exactly_once
echo "PASS $TEST_NAME"
