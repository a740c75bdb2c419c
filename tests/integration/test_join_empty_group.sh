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
# Bounded: the retention (60 s) and one or two checks after it per mode,
# about 3 minutes for both modes.
source "$(dirname "$0")/lib.sh"

readonly SUITE_PORT=${BROKERS##*:}
readonly PORT=$((SUITE_PORT + 36))
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
# wait_offset GROUP TOPIC OFFSET WHAT: until offset_is, by a deadline
# (each look starts a JVM)
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
# a new group) and profiles.cfg
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
    sed 's/id_prefix = "web"/id_prefix = "more"/' "$WORK/clicks.cfg" >"$WORK/more.cfg"
}

# bad_records: one record that is not Avro and one profile whose key is
# empty to join partition 0
bad_records()
{
    join_keyless_record "$join_topic"
    printf 'not avro\n' | kcat -b "$BROKERS" -P -t "$join_topic" -p 0 &&
        kcat -b "$BROKERS" -P -t "$join_topic" -p 0 "$WORK/keyless.bin" ||
        fail "kcat could not write to $join_topic [0]"
}
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
    offset_is "$group" "$join_topic" none && fail "$1: no join position committed at the stop"

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

run_mode exactly_once
run_mode at_least_once
echo "PASS $TEST_NAME"
