#!/usr/bin/env bash
#
# Two `riffle serve` replicas share the requests topic's two partitions
# while the learner publishes a new model in the middle of the stream:
# every request gets exactly one prediction, each names the model version
# that made it, and in each partition the version switches once, from the
# old model to the new one, with no request left out at the switch.
source "$(dirname "$0")/lib.sh"

readonly FIRST_MODEL=3000  # events the first snapshot has learned
readonly SECOND_MODEL=5000 # and the second
readonly MAX_REQUESTS=100000 # a stream that outlasts the update
readonly AFTER_UPDATE_S=2    # of requests after both serve the new model
readonly LATE_REQUESTS=200 # sent once both replicas serve the new model
readonly WAIT_S=120        # bound on each wait below, so a hang fails

trap 'stop_started; cleanup_work' EXIT

cfg=$(make_config config/elec2.cfg)
sed -i 's/partitions = 2;/partitions = 2; delivery = "exactly_once";/' "$cfg"
grep -q 'delivery = "exactly_once"' "$cfg" || fail "could not choose exactly once"
late_cfg=$WORK/late.cfg
sed 's/id_prefix = "elec2"/id_prefix = "late"/' "$cfg" >"$late_cfg"

# The first model, then two replicas serving it.
serve_model "$cfg" "$FIRST_MODEL" "$WORK/learn1.log"
for i in 1 2; do
    # riffle itself in the background, so that its pid gets the signal
    "$RIFFLE" serve -c "$cfg" --brokers "$BROKERS" >"$WORK/serve$i.json" \
        2>"$WORK/serve$i.log" &
    started+=($!)
done
wait_for "now serving model elec2 version $FIRST_MODEL" 2 "$WORK"/serve{1,2}.log
wait_for "1 partition(s) of .* assigned" 2 "$WORK"/serve{1,2}.log

# Requests stream in; once the replicas have answered some with the first
# model, the learner goes on and publishes the second. The stream goes on
# for a while after both replicas serve it, then stops.
"$RIFFLE" produce -c "$cfg" --brokers "$BROKERS" --requests \
    --limit "$MAX_REQUESTS" --rate 300 --no-progress >"$WORK/requests.json" \
    2>"$WORK/requests.log" &
producer=$!
run_riffle watch -c "$cfg" served --limit 100 >/dev/null 2>&1
run_riffle produce -c "$cfg" --limit "$SECOND_MODEL" --no-progress >/dev/null 2>&1
run_riffle learn -c "$cfg" --idle-exit 2 >/dev/null 2>"$WORK/learn2.log"
grep -q "restored model elec2 version $FIRST_MODEL" "$WORK/learn2.log" ||
    fail "the learner did not continue from the first model"
# (the second produce re-sent the first rows: they are learned again)
second=$((FIRST_MODEL + SECOND_MODEL))
wait_for "now serving model elec2 version $second" 2 "$WORK"/serve{1,2}.log
sleep "$AFTER_UPDATE_S"
kill -TERM "$producer"
wait "$producer" || fail "producing requests failed: $(tail -3 "$WORK/requests.log")"
requests=$(riffle_json "$WORK/requests.json" 'rows[-1]["produced"]')
((requests < MAX_REQUESTS)) || fail "the request stream ended before the update"
run_riffle produce -c "$late_cfg" --requests --limit "$LATE_REQUESTS" \
    --no-progress >/dev/null 2>&1

total=$((requests + LATE_REQUESTS))
run_riffle watch -c "$cfg" served --limit "$total" --idle-exit 20 \
    >"$WORK/served.jsonl" 2>/dev/null
run_riffle watch -c "$cfg" served --idle-exit 3 >"$WORK/all.jsonl" 2>/dev/null
stop_started

assert_eq "$(wc -l <"$WORK/all.jsonl")" "$total" "predictions on the served topic"
assert_eq "$(riffle_json "$WORK/all.jsonl" 'len({r["event_id"] for r in rows})')" \
    "$total" "distinct requests answered"
assert_eq "$(riffle_json "$WORK/all.jsonl" \
    'sorted({r["model_version"] for r in rows})')" "[$FIRST_MODEL, $second]" \
    "model versions that answered"
assert_eq "$(riffle_json "$WORK/all.jsonl" \
    'sorted({r["model_version"] for r in rows if r["event_id"].startswith("late")})')" \
    "[$second]" "versions answering after the update"
assert_eq "$(riffle_json "$WORK/all.jsonl" \
    'sorted({r["model_version"] for r in rows if r["event_id"].startswith("elec2")})')" \
    "[$FIRST_MODEL, $second]" "versions answering the stream across the update"
# Per partition, in offset order: old model, then new, never back.
assert_eq "$(riffle_json "$WORK/all.jsonl" '
all(all(a <= b for a, b in zip(v, v[1:])) for v in (
    [r["model_version"] for r in sorted(rows, key=lambda r: r["source_offset"])
     if r["source_partition"] == p] for p in (0, 1)))')" True \
    "versions in each partition never go back"
assert_eq "$(riffle_json "$WORK/all.jsonl" '
sorted(len({r["source_offset"] for r in rows if r["source_partition"] == p})
       == 1 + max(r["source_offset"] for r in rows if r["source_partition"] == p)
       for p in (0, 1))')" "[True, True]" "every offset of each partition answered"
note "answers by model version: $(riffle_json "$WORK/all.jsonl" \
    'dict(sorted(__import__("collections").Counter(r["model_version"] for r in rows).items()))')"
for i in 1 2; do
    n=$(riffle_json "$WORK/serve$i.json" 'rows[-1]["requests"]')
    ((n > 0)) || fail "replica $i answered no request"
    note "replica $i answered $n requests"
done
assert_eq "$(riffle_json <(cat "$WORK"/serve{1,2}.json) 'sum(r["requests"] for r in rows)')" \
    "$total" "requests answered by the two replicas together"
echo "PASS $TEST_NAME"
