#!/usr/bin/env bash
#
# test_join_empty_group.sh with two learners started with --instance:
# the join topic's dead letters survive a group that stays empty past
# the broker's offset retention when each instance owns only some join
# partitions. Kafka expires every committed offset of the group
# offsets.retention.minutes after it emptied, the join partitions'
# checked positions among them; an instance then cannot tell from its
# snapshot's join positions (applied ones) who checked what below them,
# and read its partitions from the beginning, dead-lettering every
# unusable record again. A snapshot now records per join partition how
# far it is known to be checked (join_checked: by the instance while it
# owned the partition, or by the owner whose committed position it
# read), and the owner goes on from there.
#
# A private broker (the suite's port + 38, controller + 39) runs with
# offsets.retention.minutes=1, checked every 5 s. Per delivery mode, on
# topics of two partitions: instances a and b (a alone first, owning
# both join partitions, then both, one each) dead-letter 2 unusable
# records in each join partition and stop cleanly; once a probe offset
# committed after the stop has expired, the group's offsets of both join
# partitions have too; a second run of a and b, started the same way,
# learns new events, and with read_committed there must still be exactly
# one dead letter per bad record: 4 (8 before the fix).
#
# Bounded: the retention (60 s) and one or two checks after it; both
# modes run at once (run_modes_at_once), about 3 minutes.
source "$(dirname "$0")/lib.sh"
readonly JOIN_RETENTION_PORT_OFFSET=38
source "$(dirname "$0")/join_retention.sh"

declare -A pid
# start_instance NAME RUN: `riffle learn --instance NAME`, its summary and
# log in $WORK/RUN-NAME.json and .log; waits until it has partitions
start_instance()
{
    "$RIFFLE" learn -c "$WORK/clicks.cfg" --brokers "$BROKERS" --instance "$1" \
        >"$WORK/$2-$1.json" 2>"$WORK/$2-$1.log" &
    pid[$1]=$!
    started+=("$!")
    wait_for "assigned, starting" 1 "$WORK/$2-$1.log"
}
# stop_instances RUN: SIGTERM to both, each must stop cleanly
stop_instances()
{
    local name
    kill -TERM "${pid[a]}" "${pid[b]}"
    for name in a b; do
        wait "${pid[$name]}" ||
            fail "$1: instance $name failed on its stop: $(tail -3 "$WORK/$1-$name.log")"
    done
    started=()
}
# owned RUN NAME: how instance NAME's join partitions began in run RUN
owned()
{
    grep -o "\[[01]\]: dead letters are this instance's.*" "$WORK/$1-$2.log" | tr '\n' ';'
}

# run_mode MODE: the story above in delivery mode MODE
run_mode()
{
    local probe q at offsets
    write_configs "$1" 2
    probe="$prefix-probe"
    run_riffle topics create -c "$WORK/clicks.cfg" >/dev/null
    produce_file profiles profiles.csv
    bad_records 0
    bad_records 1

    start_instance a "first-$1"
    start_instance b "first-$1"
    produce_file clicks clicks.csv
    wait_until "$1: 20 predictions" clicks_predicted 20
    wait_until "$1: 4 join dead letters" dead_letters_reach 4
    stop_instances "first-$1"
    # one look for both: the broker expires them a minute after the stop
    offsets=$(group_offsets "$group")
    for q in 0 1; do
        at=$(offset_of "$offsets" "$join_topic" "$q")
        [[ $at =~ ^[0-9]+$ ]] ||
            fail "$1: no position of join partition $q committed at the stop ($at)"
    done

    # A probe committed now, by another group without members, expires
    # one retention after this commit: once it is gone, so are the
    # offsets of the learners' group, empty since the stop.
    java -cp "$CLASSPATH_JARS" tests/integration/GroupOffsets.java "$BROKERS" "$probe" \
        "$join_topic" 0 1 >/dev/null 2>&1 || fail "cannot commit the probe offset"
    wait_offset "$probe" "$join_topic" none "$1: the probe offset's expiry"
    for q in 0 1; do
        wait_offset "$group" "$join_topic" none "$1: the group's join offset [$q] expiry" "$q"
    done

    start_instance a "second-$1"
    start_instance b "second-$1"
    produce_file more more.csv
    wait_until "$1: 30 predictions" clicks_predicted 30
    stop_instances "second-$1"

    note "$1: second run, a: $(owned "second-$1" a)"
    note "$1: second run, b: $(owned "second-$1" b)"
    assert_eq "$(join_dead_letters)" 4 "$1: join dead letters (read_committed), 4 bad records"
}

run_modes_at_once run_mode
echo "PASS $TEST_NAME"
