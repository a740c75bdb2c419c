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
# Bounded: the retention (60 s) and one or two checks after it per mode,
# about 3 minutes for both modes.
source "$(dirname "$0")/lib.sh"

readonly SUITE_PORT=${BROKERS##*:}
readonly PORT=$((SUITE_PORT + 34))
readonly RETENTION_PROPS=$'offsets.retention.minutes=1\noffsets.retention.check.interval.ms=5000'
BROKERS=127.0.0.1:$PORT
WAIT_S=180

broker() { RIFFLE_KAFKA_PORT=$PORT RIFFLE_KAFKA_EXTRA_PROPS=$RETENTION_PROPS scripts/kafka "$@"; }
trap 'stop_started; broker stop >/dev/null 2>&1 || true; cleanup_work' EXIT
broker start --fresh >/dev/null
CLASSPATH_JARS=$(scripts/kafka classpath)

# group_offset GROUP TOPIC -> GROUP's committed offset of TOPIC [0], or
# "none"
group_offset()
{
    java -cp "$CLASSPATH_JARS" tests/integration/GroupOffsets.java "$BROKERS" "$1" \
        2>/dev/null | awk -v t="$2" '$1 == t && $2 == 0 { o = $3 } END { print o ? o : "none" }'
}
offset_is() { [[ $(group_offset "$1" "$2") == "$3" ]]; }
# wait_offset GROUP TOPIC OFFSET WHAT: until offset_is; each look starts
# a JVM (seconds on a loaded machine), so the bound is a deadline rather
# than wait_until's count of looks
wait_offset()
{
    local deadline=$((SECONDS + WAIT_S))
    until offset_is "$1" "$2" "$3"; do
        ((SECONDS < deadline)) ||
            fail "$4 did not happen within ${WAIT_S}s (now $(group_offset "$1" "$2"))"
        sleep 1
    done
}

join_schemas
python3 - "$WORK" <<'PY'
import sys
w = sys.argv[1]
for name, n in (("clicks", 20), ("more", 10)):
    with open(f"{w}/{name}.csv", "w") as f:
        f.write("event_id,user,x,clicked\n")
        for i in range(n):
            f.write(f"{name}-{i},u{i % 10},{(i * 37 % 100) / 100},{'yes' if i % 2 else 'no'}\n")
with open(f"{w}/profiles.csv", "w") as f:
    f.write("event_id,user_id,region\n")
    for u in range(10):
        f.write(f"p-{u},u{u},v-u{u}\n")
PY

# write_configs MODE: clicks.cfg (delivery MODE, new one-partition topics,
# a new group; a snapshot 2 s after new events) and profiles.cfg
write_configs()
{
    prefix="t$(date +%s%N | tail -c 9)-$RANDOM"
    join_topic="$prefix.profiles"
    group="$prefix-group"
    cat >"$WORK/clicks.cfg" <<CFG
name = "clicks";
kafka = { group_id = "$group"; session_timeout_ms = 6000; };
topics = { input = "$prefix.web"; predictions = "$prefix.predictions";
  dead_letters = "$prefix.dead-letters"; models = "$prefix.models";
  metrics = "$prefix.metrics"; partitions = 1; };
snapshot = { every_events = 100000; every_seconds = 2.0; };
delivery = { mode = "$1"; };
CFG
    join_clicks_settings "$join_topic" >>"$WORK/clicks.cfg"
    producer_cfg profiles profile.avsc "$join_topic" region
    # the later clicks under ids of their own (an id is the prefix and
    # the row's number)
    sed 's/id_prefix = "web"/id_prefix = "more"/' "$WORK/clicks.cfg" >"$WORK/more.cfg"
}

# bad_records: one record that is not Avro and one profile whose key is
# empty (a profile riffle produced, its key cut) to join partition 0
bad_records()
{
    join_keyless_record "$join_topic"
    printf 'not avro\n' | kcat -b "$BROKERS" -P -t "$join_topic" -p 0 &&
        kcat -b "$BROKERS" -P -t "$join_topic" -p 0 "$WORK/keyless.bin" ||
        fail "kcat could not write to $join_topic [0]"
}
start_instance()
{
    "$RIFFLE" learn -c "$WORK/clicks.cfg" --brokers "$BROKERS" --instance "$1" \
        >"$WORK/$1.json" 2>"$WORK/$1.log" &
    last=$!
    started+=("$last")
}
join_dead_letters()
{
    run_riffle watch -c "$WORK/clicks.cfg" dead-letters --idle-exit 2 >"$WORK/dead.jsonl" \
        2>/dev/null
    riffle_json "$WORK/dead.jsonl" "len([r for r in rows if r['source_topic'] == '$join_topic'])"
}
dead_letters_reach() { (($(join_dead_letters) >= $1)); }

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

run_mode exactly_once
run_mode at_least_once
echo "PASS $TEST_NAME"
