#!/usr/bin/env bash
#
# The join topic's dead letters survive a consumer group that stays
# empty past the broker's offset retention. While no learner runs, Kafka
# expires every committed offset of the group offsets.retention.minutes
# after it emptied, the join partitions' checked positions among them
# (learn_join.h): the next start found nothing committed and
# dead-lettered every unusable join record again. The learner's snapshot
# holds the join topic's positions, below which the learner, owner of
# every join partition, dead-lettered every unusable record before the
# snapshot was committed; with no committed offset it goes on from there.
#
# A private broker (the suite's port + 36, controller + 37) runs with
# offsets.retention.minutes=1, checked every 5 s. Per delivery mode: one
# learner (no --instance) dead-letters 2 unusable join records and stops
# cleanly; once a probe offset committed after the stop has expired,
# the group's offsets have too; a second run learns new events, and with
# read_committed there must still be exactly one dead letter per bad
# record (4 for 2 before the fix).
#
# Bounded: the retention (60 s) and one or two checks after it; both
# modes run at once (run_modes_at_once), about 2 minutes.
source "$(dirname "$0")/lib.sh"
readonly JOIN_RETENTION_PORT_OFFSET=36
source "$(dirname "$0")/join_retention.sh"

start_learner_run()
{
    "$RIFFLE" learn -c "$WORK/clicks.cfg" --brokers "$BROKERS" >"$WORK/$1.json" \
        2>"$WORK/$1.log" &
    last=$!
    started+=("$last")
}
stop_learner_run()
{
    kill -TERM "$last"
    wait "$last" || fail "$1: the learner failed on its stop: $(tail -3 "$WORK/$1.log")"
    started=()
}

# run_mode MODE: the story above in delivery mode MODE
run_mode()
{
    local probe
    write_configs "$1"
    probe="$prefix-probe"
    run_riffle topics create -c "$WORK/clicks.cfg" >/dev/null
    produce_file profiles profiles.csv
    bad_records

    start_learner_run "first-$1"
    wait_for "assigned, starting" 1 "$WORK/first-$1.log"
    produce_file clicks clicks.csv
    wait_until "$1: 20 predictions" clicks_predicted 20
    wait_until "$1: 2 join dead letters" dead_letters_reach 2
    stop_learner_run "first-$1"
    [[ $(group_offset "$group" "$join_topic") =~ ^[0-9]+$ ]] ||
        fail "$1: no join position committed at the stop"

    # A probe committed now, by another group without members, expires
    # one retention after this commit: once it is gone, so are the
    # offsets of the learner's group, empty since the stop.
    java -cp "$CLASSPATH_JARS" tests/integration/GroupOffsets.java "$BROKERS" "$probe" \
        "$join_topic" 0 1 >/dev/null 2>&1 || fail "cannot commit the probe offset"
    wait_offset "$probe" "$join_topic" none "$1: the probe offset's expiry"
    wait_offset "$group" "$join_topic" none "$1: the group's join offset expiry"

    start_learner_run "second-$1"
    wait_for "dead letters are this instance's" 1 "$WORK/second-$1.log"
    produce_file more more.csv
    wait_until "$1: 30 predictions" clicks_predicted 30
    stop_learner_run "second-$1"

    note "$1: second run $(grep -o "dead letters are this instance's.*" "$WORK/second-$1.log")"
    assert_eq "$(join_dead_letters)" 2 "$1: join dead letters (read_committed), 2 bad records"
}

run_modes_at_once run_mode
echo "PASS $TEST_NAME"
