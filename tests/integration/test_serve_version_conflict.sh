#!/usr/bin/env bash
#
# Two snapshots of one model under one version: two learners, or one
# restarted from an older snapshot, published them. A replica must not
# hide it. The model topic gets snapshot A (a learner's, version 1000),
# A again (a re-publication: ignored quietly), then B, learned by
# `riffle train` from the next 1000 events (version 1000 too, other
# weights), then A once more. The running replica warns once, counts one
# conflict in /healthz, /metrics and its summary, and serves what the
# topic holds last each time (B, then A); a replica started afterwards
# reads the same backlog and serves the same model, and a learner
# restarted now restores that same newest snapshot.
source "$(dirname "$0")/lib.sh"

readonly PORT_A=$((${BROKERS##*:} + 21))
readonly PORT_B=$((${BROKERS##*:} + 22))
readonly EVENTS=1000

started=()
trap 'stop_started; cleanup_work' EXIT

cfg=$(make_config config/elec2.cfg)
models=$(cfg_topic "$cfg" models)
serve_model "$cfg" "$EVENTS" "$WORK/learn.log"
# the learner's snapshot, its last message (a transaction marker follows)
last=$(kcat -b "$BROKERS" -C -t "$models" -o beginning -e -q -f '%o\n' | tail -1)
kcat -b "$BROKERS" -C -t "$models" -o "$last" -c 1 -e -q -f '%s' >"$WORK/a.snap"
[[ -s $WORK/a.snap ]] || fail "no snapshot on $models"

# B: the same model trained on the next 1000 events, so version 1000
gzip -dc data/elec2/electricity.csv.gz | sed -n "1p;$((EVENTS + 2)),$((2 * EVENTS + 1))p" \
    >"$WORK/next.csv"
"$RIFFLE" train -c "$cfg" --file "$WORK/next.csv" --snapshot "$WORK/b.snap" \
    >"$WORK/train.json" 2>"$WORK/train.log" || fail "train: $(tail -3 "$WORK/train.log")"
cmp -s "$WORK/a.snap" "$WORK/b.snap" && fail "A and B are the same snapshot"

# publish FILE: FILE as a snapshot of elec2; sets at to its offset
publish()
{
    kcat -b "$BROKERS" -P -t "$models" -k elec2 "$1"
    at=$(kcat -b "$BROKERS" -C -t "$models" -o beginning -e -q -f '%o\n' | tail -1)
}

# health PORT EXPR: evaluates EXPR over GET /healthz's JSON, bound to h
health()
{
    python3 - "$1" "$2" <<'PY'
import json, sys, urllib.request
h = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=10))
print(eval(sys.argv[2]))
PY
}

# score PORT: the probability the model served on PORT gives one event
score()
{
    curl -s -H 'Content-Type: application/json' -d '{"event_id":"q","date":0.5,
        "day":3,"period":0.25,"nswprice":0.06,"nswdemand":0.4,"vicprice":0.003,
        "vicdemand":0.42,"transfer":0.41}' "http://127.0.0.1:$1/v1/predict" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["probability"])'
}

"$RIFFLE" serve -c "$cfg" --brokers "$BROKERS" --instance one --http-port "$PORT_A" \
    >"$WORK/one.json" 2>"$WORK/one.log" &
one=$!
started+=("$one")
wait_for "now serving model elec2 version $EVENTS" 1 "$WORK/one.log"
score_a=$(score "$PORT_A")

publish "$WORK/a.snap"
publish "$WORK/b.snap"
at_b=$at
wait_for "now serving model elec2 version $EVENTS" 2 "$WORK/one.log"
score_b=$(score "$PORT_A")
[[ $score_a != "$score_b" ]] || fail "B is not served: $score_a both times"
grep -c "now serving" "$WORK/one.log" | grep -qx 2 ||
    fail "the re-published A was loaded again: $(grep -c "now serving" "$WORK/one.log") loads"
assert_eq "$(health "$PORT_A" 'h["version_conflicts"]')" 1 "conflicts in /healthz"
metrics=$(curl -s "http://127.0.0.1:$PORT_A/metrics")
grep -q '^riffle_serve_model_version_conflicts_total{.*} 1$' <<<"$metrics" ||
    fail "no conflict in /metrics"

publish "$WORK/a.snap"
wait_for "now serving model elec2 version $EVENTS" 3 "$WORK/one.log"
assert_eq "$(score "$PORT_A")" "$score_a" "A served again, as the newest"

# Warned once, naming the model, the version and both places.
assert_eq "$(grep -c "version $EVENTS has other weights" "$WORK/one.log")" 1 \
    "warnings about the conflict"
warning="warn  follower: $models \[0\] @$at_b: model elec2 version $EVENTS has other"
warning+=" weights than the snapshot of that version at $models \[0\] @$((at_b - 1))"
grep -q "$warning" "$WORK/one.log" || fail "the warning: $(grep 'other weights' "$WORK/one.log")"
assert_eq "$(health "$PORT_A" 'h["version_conflicts"]')" 1 "conflicts after A again"

# A replica started now reads A, A, B, A and serves the same model.
"$RIFFLE" serve -c "$cfg" --brokers "$BROKERS" --instance two --http-port "$PORT_B" \
    >"$WORK/two.json" 2>"$WORK/two.log" &
started+=("$!")
wait_for "now serving model elec2 version $EVENTS" 1 "$WORK/two.log"
assert_eq "$(score "$PORT_B")" "$score_a" "the late replica's model"
assert_eq "$(health "$PORT_B" 'h["version_conflicts"]')" 1 "the late replica's conflicts"

# So does a learner restarted now: the newest snapshot, A.
run_riffle learn -c "$cfg" --idle-exit 2 >"$WORK/learn2.json" 2>"$WORK/learn2.log"
grep -q "restored model elec2 version $EVENTS" "$WORK/learn2.log" ||
    fail "learn: $(grep -m3 'learn:' "$WORK/learn2.log")"

kill -TERM "$one"
wait "$one" || fail "serve did not stop cleanly: $(tail -3 "$WORK/one.log")"
assert_eq "$(riffle_json "$WORK/one.json" 'rows[-1]["version_conflicts"]')" 1 \
    "conflicts in the summary"
note "scores A $score_a, B $score_b; one warning, one conflict counted"
echo "PASS $TEST_NAME"
