#!/usr/bin/env bash
#
# --idle-exit through a broker outage: a learner that has learned every
# event is idle when its broker stops. It cannot know that it is caught
# up, so it must not stop: it warns after each idle period and waits,
# and a snapshot falling due meanwhile waits for the brokers instead of
# opening a transaction that cannot commit. Once the broker is back the
# learner confirms it is caught up and exits 0 by itself, with every
# event predicted once, the weights of `riffle train` over the same rows,
# and a committed snapshot from which a new learner starts with nothing
# left to learn. Both delivery modes.
#
# The learner is held with SIGSTOP while the broker stops, so that it
# cannot see the end of the stream confirmed first, however slowly the
# broker goes down. A private broker is started for this test (the
# suite's broker port + 30, its controller on + 31) and stopped at the
# end. Bounded: 45,312 events; snapshot.every_seconds = 40, so the
# outage lasts at least until 40 s after the learner's last snapshot.
source "$(dirname "$0")/lib.sh"

readonly EVENTS=45312
# --idle-exit, longer at each try: the learner must still be running
# when the test holds it, after a check that takes seconds when loaded
readonly IDLE_TRIES="3 10 30"
readonly SNAPSHOT_EVERY_S=40
readonly WARNINGS=3 # idle periods seen in the outage before it ends
readonly snapshot_done="snapshot of model elec2 version $EVENTS published"
readonly SUITE_PORT=${BROKERS##*:}
readonly PORT=$((SUITE_PORT + 30))
BROKERS=127.0.0.1:$PORT
WAIT_S=240

broker() { RIFFLE_KAFKA_PORT=$PORT scripts/kafka "$@"; }
learner=""
stop_all()
{
    local rc=$? k
    if ((rc != 0)) && [[ -n ${log:-} && -f $log ]]; then
        echo "  $TEST_NAME: the end of $(basename "$log"), without rdkafka's lines:" >&2
        grep -v " rdkafka: " "$log" | tail -15 | cut -c1-300 >&2
    fi
    if [[ -n $learner ]]; then
        kill -CONT "$learner" 2>/dev/null || true
        kill -TERM "$learner" 2>/dev/null || true
        # one stuck on the brokers may not get to its stop: 20 s, then KILL
        for ((k = 0; k < 100; k++)); do running || break; sleep 0.2; done
        kill -KILL "$learner" 2>/dev/null || true
        wait "$learner" 2>/dev/null || true
    fi
    broker stop >/dev/null 2>&1 || true
    cleanup_work
}
trap stop_all EXIT

running() { kill -0 "$learner" 2>/dev/null; }
exited() { ! running; }
held() { [[ $(ps -o stat= -p "$learner" 2>/dev/null) == T* ]]; }
warnings() { grep -c "idle for [0-9]* s but the brokers do not answer" "$1" || true; }
enough_warnings() { (($(warnings "$1") >= WARNINGS)); }
readonly finishing="caught up with the brokers' end of every partition: finishing"

# start_idle MODE IDLE_S: on fresh topics (cfg), a learner under
# --idle-exit IDLE_S (its log in $log), held with SIGSTOP once every
# prediction is out. Leaves learner empty when it had already confirmed
# the end (finished, or finishing when held), as it may when this check
# takes longer than IDLE_S.
start_idle()
{
    local mode=$1 idle=$2 k rc=0
    log=$WORK/$mode.log

    cfg=$(make_config_with config/elec2.cfg "delivery = { mode = \"$mode\"; };")
    sed -i "s/every_seconds = [0-9.]*;/every_seconds = $SNAPSHOT_EVERY_S.0;/" "$cfg"
    grep -q "every_seconds = $SNAPSHOT_EVERY_S.0;" "$cfg" || fail "snapshot.every_seconds not set"
    run_riffle topics create -c "$cfg" >/dev/null
    run_riffle produce -c "$cfg" --no-progress >/dev/null 2>"$WORK/produce.log" ||
        fail "produce failed: $(tail -3 "$WORK/produce.log")"

    # riffle itself, not a subshell, so that the signals reach it
    RIFFLE_LOG_LEVEL=debug "$RIFFLE" learn -c "$cfg" --brokers "$BROKERS" \
        --idle-exit "$idle" >"$WORK/$mode.json" 2>"$log" &
    learner=$!
    wait_until "$mode: all $EVENTS predictions" predicted "$cfg" "$EVENTS"
    kill -STOP "$learner" 2>/dev/null || true
    for ((k = 0; k < 50; k++)); do
        held && break
        running || break
        sleep 0.1
    done
    # Held after it confirmed the end, it is finishing: its last commit
    # may be half done, and the outage would test nothing of the idle
    # learner. That counts as finishing first.
    if held && ! grep -q "$finishing" "$log"; then
        return 0
    fi
    kill -CONT "$learner" 2>/dev/null || true
    wait "$learner" || rc=$?
    learner=""
    assert_eq "$rc" 0 "$mode: exit status of the learner that finished first"
    note "$mode: the learner confirmed the end before it was held (--idle-exit $idle)"
}

# A lone snapshot's transaction that the hold caught between its
# brokers' check and its commit cannot commit in the outage: the learner
# waits for the brokers, as it must, since they answered its check. The
# learner logs each check that passed (at debug level), so the test can
# tell that case, in which the checks counted at the hold are all there
# are, from a transaction opened after the brokers had gone, which this
# test exists to forbid.
readonly in_flight="waiting for the brokers .* to commit a snapshot with no new event"
readonly check_passed="snapshot of model elec2 due and the brokers answered"
due_or_in_flight() { grep -q "snapshot of model elec2 due, but\|$in_flight" "$log"; }
checks_passed() { grep -c "$check_passed" "$log" || true; }

# outage MODE: holds an idle learner (started here) while the broker
# stops and checks what it does in the outage; returns 2, with the broker
# back and the learner gone, when the hold fell on a snapshot in flight
outage()
{
    local mode=$1 idle rc=0 snapshot_before checks_at_hold

    for idle in $IDLE_TRIES; do
        start_idle "$mode" "$idle"
        [[ -z $learner ]] || break
    done
    [[ -n $learner ]] || fail "$mode: never held the learner before it finished"
    snapshot_before=no
    grep -q "$snapshot_done" "$log" && snapshot_before=yes
    checks_at_hold=$(checks_passed)
    broker stop >/dev/null || fail "the broker did not stop"
    kill -CONT "$learner"
    note "$mode: broker stopped with the learner idle"

    # The time-based snapshot falls due in the outage, unless checking
    # the predictions took the learner past it before it was held.
    if [[ $mode == exactly_once && $snapshot_before == no ]]; then
        wait_until "$mode: a snapshot due in the outage" due_or_in_flight
        if grep -q "$in_flight" "$log"; then
            # the end confirmed (which needs the brokers) just before the
            # hold: the commit is finish()'s, begun before the outage
            ((checks_at_hold > 0 && $(checks_passed) == checks_at_hold)) ||
                grep -q "$finishing" "$log" ||
                fail "$mode: a snapshot's transaction opened in the outage" \
                    "($checks_at_hold passed checks at the hold, $(checks_passed) now):" \
                    "$(grep -m1 "$in_flight" "$log")"
            note "$mode: the hold fell on a snapshot being committed; again"
            broker start >/dev/null || fail "the broker did not start again"
            wait_until "$mode: the learner's exit" exited
            wait "$learner" || rc=$?
            learner=""
            assert_eq "$rc" 0 "$mode: exit status of the learner held mid-commit"
            return 2
        fi
    elif [[ $mode == exactly_once ]]; then
        note "$mode: the last snapshot was taken before the outage"
    fi
    wait_until "$mode: $WARNINGS idle warnings" enough_warnings "$log"
    running || fail "$mode: the learner stopped during the outage: $(tail -3 "$log")"
    note "$mode: still running after $(warnings "$log") idle periods of $idle s"
    ! grep -q "waiting for the brokers" "$log" ||
        fail "$mode: the learner blocked on the brokers while idle:" \
            "$(grep -m1 "waiting for" "$log")"
    broker start >/dev/null || fail "the broker did not start again"
    note "$mode: broker started again"
}

# run_mode MODE: the whole scenario with delivery.mode = MODE
run_mode()
{
    local mode=$1 try rc=0

    for try in 1 2 3; do
        rc=0
        outage "$mode" || rc=$?
        ((rc == 2)) || break
    done
    ((rc == 0)) || fail "$mode: every hold fell on a snapshot being committed"

    wait_until "$mode: the learner's exit" exited
    wait "$learner" || rc=$?
    learner=""
    assert_eq "$rc" 0 "$mode: exit status of the learner"
    note "$mode: $(cat "$WORK/$mode.json")"

    assert_eq "$(riffle_json "$WORK/$mode.json" 'rows[0]["learned"]')" "$EVENTS" \
        "$mode: events in the model"
    assert_same_weights "$WORK/$mode.json" "$mode: weights after the outage"
    run_riffle watch -c "$cfg" predictions --idle-exit 3 >"$WORK/pred.jsonl" 2>/dev/null
    assert_eq "$(wc -l <"$WORK/pred.jsonl")" "$EVENTS" "$mode: committed predictions"
    assert_ids_once "$WORK/pred.jsonl" "$mode: every event id exactly once"

    # The last snapshot holds every event: a new learner restores it and
    # has nothing to learn.
    run_riffle learn -c "$cfg" --idle-exit 2 >"$WORK/again.json" 2>"$WORK/again.log" ||
        fail "$mode: the second learner failed: $(grep -m3 error "$WORK/again.log")"
    grep -q "restored model elec2 version $EVENTS " "$WORK/again.log" ||
        fail "$mode: no snapshot of version $EVENTS restored:" \
            "$(grep -m1 'restored\|no snapshot' "$WORK/again.log")"
    assert_eq "$(riffle_json "$WORK/again.json" 'rows[0]["processed"]')" 0 \
        "$mode: events handled after the restore"
    assert_same_weights "$WORK/again.json" "$mode: weights restored from the snapshot"
}

broker start --fresh >/dev/null || fail "the private broker did not start"
"$RIFFLE" train -c config/elec2.cfg >"$WORK/train.json"
run_mode exactly_once
run_mode at_least_once
echo "PASS $TEST_NAME"
