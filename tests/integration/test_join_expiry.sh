#!/usr/bin/env bash
#
# The join topic's checked positions outlive the broker's offset
# retention while the learners run. They are the learner group's
# committed offsets of a topic the group does not subscribe to, and Kafka
# (KIP-211) keeps a running group's offsets alive only for its subscribed
# topics: an offset of another topic expires offsets.retention.minutes
# after its last commit. Expired, the next owner of a join partition sees
# nothing committed and dead-letters every unusable record again.
#
# A private broker (the suite's port + 34, controller + 35) runs with
# offsets.retention.minutes=1, checked every 5 s. Per delivery mode: one
# learner on one partition dead-letters 2 unusable join records, then
# idles. Once the broker has expired a probe offset committed after
# the learner's last commit (so the retention has passed for every commit
# the learner made while busy), the learner is killed and a second
# instance takes its partitions over: the join partition's committed
# offset must still be there, and with read_committed there must be
# exactly one dead letter per bad record (4 for 2 before the fix: the
# learner committed its checked position only with events).
#
# Bounded: the retention (60 s) and one or two checks after it; both
# modes run at once (run_modes_at_once), about 2 minutes.
source "$(dirname "$0")/lib.sh"
readonly JOIN_RETENTION_PORT_OFFSET=34
source "$(dirname "$0")/join_retention.sh"

start_instance()
{
    "$RIFFLE" learn -c "$WORK/clicks.cfg" --brokers "$BROKERS" --instance "$1" \
        >"$WORK/$1.json" 2>"$WORK/$1.log" &
    last=$!
    started+=("$last")
}

# run_mode MODE: the story above in delivery mode MODE
run_mode()
{
    local learner_a end before after probe
    write_configs "$1"
    probe="$prefix-probe"
    run_riffle topics create -c "$WORK/clicks.cfg" >/dev/null
    produce_file profiles profiles.csv
    bad_records
    end=$(kcat -b "$BROKERS" -Q -t "$join_topic:0:-1" -q 2>/dev/null | awk '{print $NF}')
    [[ $end =~ ^[0-9]+$ ]] || end=12 # 10 profiles, 2 bad records, no markers

    start_instance a
    learner_a=$last
    wait_for "assigned, starting" 1 "$WORK/a.log"
    produce_file clicks clicks.csv
    wait_until "$1: 20 predictions" clicks_predicted 20
    wait_until "$1: 2 join dead letters" dead_letters_reach 2
    # The owner has checked the join partition to its end and committed
    # that; from now on the learner idles.
    wait_offset "$group" "$join_topic" "$end" "$1: join position $end committed"
    before=$(group_offset "$group" "$join_topic")

    # A probe committed now, by a group without members, expires one
    # retention after this commit: once it is gone, every commit the
    # learner made before it is past the retention too, and the broker
    # has run an expiry pass since.
    java -cp "$CLASSPATH_JARS" tests/integration/GroupOffsets.java "$BROKERS" "$probe" \
        "$join_topic" 0 1 >/dev/null 2>&1 || fail "cannot commit the probe offset"
    offset_is "$probe" "$join_topic" 1 || fail "the probe offset is not committed"
    wait_offset "$probe" "$join_topic" none "$1: the probe offset's expiry"
    after=$(group_offset "$group" "$join_topic")
    note "$1: join position committed $before before the retention, $after after it"

    # A take-over: a crashes, b gets its partitions and the join
    # partition's dead letters, from the committed position.
    kill_hard "$learner_a" "instance a"
    started=()
    start_instance b
    wait_for "dead letters are this instance's" 1 "$WORK/b.log"
    produce_file more more.csv
    wait_until "$1: 30 predictions" clicks_predicted 30
    kill -TERM "$last"
    wait "$last" || fail "$1: instance b failed on its stop"
    started=()

    note "$1: b took the join partition over $(grep -o "dead letters are this instance's.*" \
        "$WORK/b.log")"
    assert_eq "$(join_dead_letters)" 2 "$1: join dead letters (read_committed), 2 bad records"
    assert_eq "$after" "$before" "$1: join position committed after the retention"
}

run_modes_at_once run_mode
echo "PASS $TEST_NAME"
