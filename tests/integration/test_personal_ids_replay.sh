#!/usr/bin/env bash
#
# `riffle dlq replay` of labels under a personal event id (personal =
# "pseudonym" on the id field), on the real broker. 10 labels, keyed by
# the raw ids elec2-1..10, come before their events; a label stamped past
# labels.ttl moves the store's clock, so the 10 are given up as unknown
# and dead-lettered (their raw key sealed, the Kafka key its dead-letter
# pseudonym). Their events then come and wait; the replay reinjects the
# 10 labels under their raw keys (opened from the seal), and the learner,
# which pseudonymizes a label's key on arrival, joins each once: the
# label is neither lost nor pseudonymized twice.
#
# Checked: the counts at each step (10 unknown, 10 pending, 10 replayed,
# 10 joined); and no raw id in any output topic (keys, headers, values),
# in riffle watch's dead letters, in the replay's summary, nor in the
# debug logs of the learners and the replay. The scan is checked to find
# the raw ids in the labels topic.
#
# Bounded: 10 events, 11 labels, three short learner runs and a replay.
source "$(dirname "$0")/lib.sh"

readonly EVENTS=10
readonly TTL_S=300

trap 'cleanup_work' EXIT
export RIFFLE_LOG_LEVEL=debug

cfg=$(labels_config 1)
sed -i "s/ttl = 86400.0;/ttl = $TTL_S.0;/" "$cfg"
grep -q "ttl = $TTL_S.0;" "$cfg" || fail "could not set labels.ttl"
pseudonymize_id "$cfg"
run_riffle topics create -c "$cfg" >/dev/null
unlabelled_events "$EVENTS" "$TTL_S"

# learn_once RUN: one learner run until idle ($WORK/RUN.json, out-RUN.log)
learn_once()
{
    run_riffle learn -c "$cfg" --idle-exit 2 >"$WORK/$1.json" 2>"$WORK/out-$1.log" ||
        fail "learn $1 failed: $(grep -m3 error "$WORK/out-$1.log")"
}
labels_of() { riffle_json "$WORK/$1.json" "tuple(rows[0]['labels'][k] for k in $2)"; }

produce_quietly "$cfg" --labels "$WORK/labels.csv"
learn_once l1
assert_eq "$(labels_of l1 '("unknown", "dead_lettered")')" "($EVENTS, $EVENTS)" \
    "labels given up before their events (unknown, dead-lettered)"

produce_quietly "$cfg" --file "$WORK/events.csv" --without-labels
learn_once l2
assert_eq "$(labels_of l2 '("pending", "joined")')" "($EVENTS, 0)" "events waiting (pending, joined)"

run_riffle dlq replay -c "$cfg" --no-progress >"$WORK/out-replay.json" 2>"$WORK/out-replay.log" ||
    fail "dlq replay failed: $(tail -3 "$WORK/out-replay.log")"
assert_eq "$(riffle_json "$WORK/out-replay.json" '(rows[0]["replayed"], rows[0]["still_failing"])')" \
    "($EVENTS, 0)" "labels replayed, still failing"
learn_once l3
assert_eq "$(labels_of l3 '("joined", "pending")')" "($EVENTS, 0)" \
    "replayed labels joined their events (joined, pending)"

dump_outputs "$cfg"
run_riffle watch -c "$cfg" dead-letters --idle-exit 2 >"$WORK/out-dead-letters.jsonl" 2>/dev/null
dump_topic "$(labels_topic_of "$cfg")" "$WORK/labels.raw"

(($(wc -c <"$WORK/out-dead_letters.raw") >= 100)) || fail "no dead letters to scan"
# The labels topic holds the raw ids twice: as produced and as replayed.
scan_raw_ids elec2- 11 "$WORK/labels.raw" $((2 * EVENTS))
echo "PASS $TEST_NAME"
