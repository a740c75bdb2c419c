# tests/integration/join_retention.sh - the set-up the tests of join
# positions under the broker's offset retention share (test_join_expiry.sh,
# test_join_empty_group.sh, test_join_empty_group_instances.sh); sourced
# after lib.sh, with
# JOIN_RETENTION_PORT_OFFSET set to the private broker's distance from the
# suite's port (its controller listens one above).
#
# It starts a private broker with offsets.retention.minutes=1, checked
# every 5 s, and gives: group_offsets, offset_of, group_offset, offset_is
# and wait_offset (a group's committed offsets, read by GroupOffsets.java,
# and that of a topic's partition, 0 unless named); the clicks, more and
# profiles CSV files in $WORK;
# write_configs MODE [PARTITIONS] (clicks.cfg, more.cfg, profiles.cfg on
# new topics of 1 or PARTITIONS partitions and a new group);
# bad_records [PARTITION] (two unusable records into join partition 0 or
# PARTITION); and
# join_dead_letters / dead_letters_reach (the dead letters of the join
# topic); and run_modes_at_once FUNCTION (FUNCTION exactly_once and
# FUNCTION at_least_once side by side).

readonly SUITE_PORT=${BROKERS##*:}
readonly PORT=$((SUITE_PORT + JOIN_RETENTION_PORT_OFFSET))
readonly RETENTION_PROPS=$'offsets.retention.minutes=1\noffsets.retention.check.interval.ms=5000'
BROKERS=127.0.0.1:$PORT
WAIT_S=180

broker() { RIFFLE_KAFKA_PORT=$PORT RIFFLE_KAFKA_EXTRA_PROPS=$RETENTION_PROPS scripts/kafka "$@"; }
trap 'stop_started; broker stop >/dev/null 2>&1 || true; cleanup_work' EXIT
broker start --fresh >/dev/null
CLASSPATH_JARS=$(scripts/kafka classpath)

# group_offsets GROUP -> GROUP's committed offsets, "TOPIC PARTITION
# OFFSET" a line, or "unread" when three looks in a row failed (each
# starts a JVM, which a loaded machine can keep past GroupOffsets.java's
# own timeouts): a failed look is no answer, not "none"
group_offsets()
{
    local look

    for look in 1 2 3; do
        java -cp "$CLASSPATH_JARS" tests/integration/GroupOffsets.java "$BROKERS" "$1" \
            2>/dev/null && return 0
    done
    echo unread
}
# offset_of OFFSETS TOPIC [PARTITION] -> the offset of TOPIC [PARTITION]
# (0 unless given) in group_offsets' OFFSETS, "none", or "unread"
offset_of()
{
    [[ $1 == unread ]] && { echo unread; return 0; }
    awk -v t="$2" -v p="${3:-0}" '$1 == t && $2 == p { o = $3; found = 1 }
        END { print found ? o : "none" }' <<<"$1"
}
# group_offset GROUP TOPIC [PARTITION] -> GROUP's committed offset of
# TOPIC [PARTITION] (0 unless given), "none" or "unread"
group_offset() { offset_of "$(group_offsets "$1")" "$2" "${3:-0}"; }
# offset_is GROUP TOPIC OFFSET [PARTITION]
offset_is() { [[ $(group_offset "$1" "$2" "${4:-0}") == "$3" ]]; }
# wait_offset GROUP TOPIC OFFSET WHAT [PARTITION]: until offset_is; each
# look starts a JVM (seconds on a loaded machine), so the bound is a
# deadline rather than wait_until's count of looks
wait_offset()
{
    local deadline=$((SECONDS + WAIT_S))
    until offset_is "$1" "$2" "$3" "${5:-0}"; do
        ((SECONDS < deadline)) ||
            fail "$4 did not happen within ${WAIT_S}s (now $(group_offset "$1" "$2" "${5:-0}"))"
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

# write_configs MODE [PARTITIONS]: clicks.cfg (delivery MODE, new topics
# of PARTITIONS partitions, 1 unless given, a new group; a snapshot 2 s
# after new events) and profiles.cfg
write_configs()
{
    prefix="t$(date +%s%N | tail -c 9)-$RANDOM-${1%%_*}"
    join_topic="$prefix.profiles"
    group="$prefix-group"
    cat >"$WORK/clicks.cfg" <<CFG
name = "clicks";
kafka = { group_id = "$group"; session_timeout_ms = 6000; };
topics = { input = "$prefix.web"; predictions = "$prefix.predictions";
  dead_letters = "$prefix.dead-letters"; models = "$prefix.models";
  metrics = "$prefix.metrics"; partitions = ${2:-1}; };
snapshot = { every_events = 100000; every_seconds = 2.0; };
delivery = { mode = "$1"; };
CFG
    join_clicks_settings "$join_topic" >>"$WORK/clicks.cfg"
    producer_cfg profiles profile.avsc "$join_topic" region
    # the later clicks under ids of their own (an id is the prefix and
    # the row's number)
    sed 's/id_prefix = "web"/id_prefix = "more"/' "$WORK/clicks.cfg" >"$WORK/more.cfg"
}

# bad_records [PARTITION]: one record that is not Avro and one profile
# whose key is empty (a profile riffle produced, its key cut) to join
# partition PARTITION, 0 unless given
bad_records()
{
    local p=${1:-0}
    join_keyless_record "$join_topic"
    printf 'not avro\n' | kcat -b "$BROKERS" -P -t "$join_topic" -p "$p" &&
        kcat -b "$BROKERS" -P -t "$join_topic" -p "$p" "$WORK/keyless.bin" ||
        fail "kcat could not write to $join_topic [$p]"
}
join_dead_letters()
{
    run_riffle watch -c "$WORK/clicks.cfg" dead-letters --idle-exit 2 >"$WORK/dead.jsonl" \
        2>/dev/null
    riffle_json "$WORK/dead.jsonl" "len([r for r in rows if r['source_topic'] == '$join_topic'])"
}
dead_letters_reach() { (($(join_dead_letters) >= $1)); }

# run_modes_at_once FUNCTION: FUNCTION exactly_once and FUNCTION
# at_least_once at the same time, so that the two wait out the broker's
# offset retention together rather than one after the other (a minute
# or more each). Each runs in a subshell with a WORK of its own holding
# a copy of the shared files, and its own started list, stopped when it
# ends; fails if either fails.
run_modes_at_once()
{
    local mode failed=()
    local -A mode_pids
    for mode in exactly_once at_least_once; do
        mkdir "$WORK/$mode"
        cp -r "$WORK"/*.csv "$WORK/schemas" "$WORK/$mode/"
        (
            WORK=$WORK/$mode
            started=()
            trap stop_started EXIT
            "$1" "$mode"
        ) &
        mode_pids[$mode]=$!
    done
    for mode in "${!mode_pids[@]}"; do
        wait "${mode_pids[$mode]}" || failed+=("$mode")
    done
    ((${#failed[@]} == 0)) || fail "failed in mode ${failed[*]}"
}
