#!/usr/bin/env bash
#
# Two learner instances and an enrichment join whose profiles change
# while events flow, on the real broker. The join topic has two
# partitions, so each instance's group share would hold only half of the
# profile updates: every instance must read the whole join topic itself.
# Each prediction carries the region the model saw (privacy.
# prediction_fields), which must be the region of its user's profile
# current when the click was produced, whichever instance scored it:
# version 1, then version 2 after an update mid-stream, then version 3
# after one instance is restarted (it rebuilds its table up to its
# snapshot's join positions and reads the update past them).
#
# Bounded: 3 x 200 clicks, 3 x 10 profiles; waits for predictions, not
# for fixed times (about 30 s on a loaded machine).
source "$(dirname "$0")/lib.sh"

join_schemas
# Clicks of users u0..u9 in three rounds; profiles of the same users in
# three versions (region "v<version>-u<user>").
join_rounds

prefix="t$(date +%s%N | tail -c 9)-$RANDOM"
cat >"$WORK/clicks.cfg" <<CFG
name = "clicks";
kafka = { group_id = "$prefix-group"; session_timeout_ms = 6000; };
topics = { input = "$prefix.web"; predictions = "$prefix.predictions";
  dead_letters = "$prefix.dead-letters"; models = "$prefix.models";
  metrics = "$prefix.metrics"; partitions = 2; };
privacy = { prediction_fields = ["user", "region"]; };
CFG
join_clicks_settings "$prefix.profiles" >>"$WORK/clicks.cfg"
producer_cfg profiles profile.avsc "$prefix.profiles" region

# wait_predictions N -> waits until N predictions are committed
wait_predictions()
{
    local i
    for ((i = 0; i < 120; i++)); do
        (($(run_riffle watch -c "$WORK/clicks.cfg" predictions --idle-exit 1 2>/dev/null |
            wc -l) >= $1)) && return 0
        sleep 1
    done
    fail "fewer than $1 predictions after two minutes"
}
# wait_assigned LOG -> waits until the instance writing LOG has partitions
wait_assigned()
{
    local i
    for ((i = 0; i < 300; i++)); do
        grep -q "assigned, starting" "$1" && return 0
        sleep 0.2
    done
    fail "no partition assigned: $(tail -3 "$1")"
}
# Round r's clicks get the event ids r<r>-<row>.
for r in 1 2 3; do
    sed "s/id_prefix = \"web\"/id_prefix = \"r$r\"/" "$WORK/clicks.cfg" >"$WORK/clicks$r.cfg"
done
produce()
{
    run_riffle produce -c "$WORK/$1.cfg" --file "$WORK/$2" --no-progress >/dev/null \
        2>"$WORK/produce.log" || fail "produce $2 failed: $(tail -3 "$WORK/produce.log")"
}
# stop_learner PID -> a clean stop (a snapshot and the summary line)
stop_learner()
{
    kill -TERM "$1"
    wait "$1" || fail "learner $1 failed on its stop"
}

run_riffle topics create -c "$WORK/clicks.cfg" >/dev/null
produce profiles profiles1.csv
"$RIFFLE" learn -c "$WORK/clicks.cfg" --brokers "$BROKERS" --instance a \
    >"$WORK/a.json" 2>"$WORK/a.log" &
learner_a=$!
"$RIFFLE" learn -c "$WORK/clicks.cfg" --brokers "$BROKERS" --instance b \
    >"$WORK/b1.json" 2>"$WORK/b1.log" &
learner_b=$!
wait_assigned "$WORK/a.log"
wait_assigned "$WORK/b1.log"

produce clicks1 clicks1.csv
wait_predictions 200
produce profiles profiles2.csv # acknowledged before the next clicks
produce clicks2 clicks2.csv
wait_predictions 400

stop_learner "$learner_b"
grep -q "10 enrichment record(s) read, 0 unusable; 10 key(s) kept" "$WORK/b1.log" ||
    fail "b did not read every profile at its start: $(grep enrichment "$WORK/b1.log")"
produce profiles profiles3.csv
"$RIFFLE" learn -c "$WORK/clicks.cfg" --brokers "$BROKERS" --instance b \
    >"$WORK/b2.json" 2>"$WORK/b2.log" &
learner_b=$!
wait_assigned "$WORK/b2.log"
produce clicks3 clicks3.csv
wait_predictions 600
stop_learner "$learner_b"
stop_learner "$learner_a"

# b's restart rebuilt the 20 profiles its snapshot covered, not the 30th
rebuilt="20 enrichment record(s) read, 0 unusable; 10 key(s) kept"
grep -q "$rebuilt .*up to the snapshot's positions" "$WORK/b2.log" ||
    fail "b's restart did not stop at its snapshot's join positions: $(
        grep enrichment "$WORK/b2.log")"

run_riffle watch -c "$WORK/clicks.cfg" predictions --idle-exit 2 >"$WORK/pred.jsonl" 2>/dev/null
assert_eq "$(wc -l <"$WORK/pred.jsonl")" 600 "committed predictions"
assert_eq "$(riffle_json "$WORK/pred.jsonl" 'len({r["event_id"] for r in rows})')" 600 \
    "distinct clicks predicted"
# The region each prediction carries against the profile current for
# its user when the click was produced: round r's clicks see version r.
wrong=$(riffle_json "$WORK/pred.jsonl" '[(r["event_id"], r["fields"]) for r in rows
    if json.loads(r["fields"]).get("region") !=
    "v%s-%s" % (r["event_id"][1], json.loads(r["fields"]).get("user"))][:5]')
assert_eq "$wrong" "[]" "predictions whose region is not their user's current profile"
for round in 2 3; do
    parts=$(riffle_json "$WORK/pred.jsonl" \
        "sorted({r['source_partition'] for r in rows if r['event_id'].startswith('r$round-')})")
    assert_eq "$parts" "[0, 1]" "input partitions of round $round's clicks"
done
for f in a.json b1.json b2.json; do
    (($(riffle_json "$WORK/$f" 'rows[0]["predicted"]') > 0)) ||
        fail "$f: this instance scored no click: $(cat "$WORK/$f")"
    (($(riffle_json "$WORK/$f" 'rows[0]["join_syncs"]') > 0)) ||
        fail "$f: this instance never read the join topic up to its end"
done
note "a: $(cat "$WORK/a.json")"
note "b after its restart: $(cat "$WORK/b2.json")"
echo "PASS $TEST_NAME"
