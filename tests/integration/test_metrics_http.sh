#!/usr/bin/env bash
#
# `riffle learn --http` serves Prometheus metrics that promtool accepts
# and that say what the pipeline did: events in, predictions, dead
# letters by reason and field (matching the dead-letter topic record for
# record), consumer lag 0 once caught up, the model version and the
# progressive accuracy the learner itself reports at exit; the dashboard
# JSON carries the same counts. promtool comes from Debian's prometheus
# package (scripts/install-deps).
source "$(dirname "$0")/lib.sh"

readonly WAIT_S=90 # for the learner to catch up; a bound, not a goal

command -v promtool >/dev/null || fail "promtool missing: run scripts/install-deps"

cfg=$(make_config config/elec2.cfg)
input=$(cfg_topic "$cfg" input)
run_riffle topics create -c "$cfg" >/dev/null
run_riffle produce -c "$cfg" --file tests/fixtures/elec2_bad_rows.csv \
    --no-progress >"$WORK/produce.json" 2>/dev/null
produced=$(riffle_json "$WORK/produce.json" 'rows[0]["produced"]')
printf 'this is not an avro message' >"$WORK/garbage.bin"
kcat -b "$BROKERS" -t "$input" -P "$WORK/garbage.bin"
total=$((produced + 1))

# Port 0: the kernel picks a free port and the learner logs it.
# The log exists before the learner opens it: the loop below may read it
# first.
: >"$WORK/learn.log"
"$RIFFLE" learn -c "$cfg" --brokers "$BROKERS" --http 127.0.0.1:0 --idle-exit 600 \
    >"$WORK/learn.json" 2>"$WORK/learn.log" &
learner=$!
stop_learner() { kill "$learner" 2>/dev/null || true; wait "$learner" 2>/dev/null || true; }
trap 'stop_learner; cleanup_work' EXIT

port=
for _ in $(seq "$WAIT_S"); do
    port=$(sed -n 's/.*serving \/metrics.*(port \([0-9]*\)).*/\1/p' "$WORK/learn.log")
    [[ -n $port ]] && break
    kill -0 "$learner" 2>/dev/null || fail "learn exited: $(tail -3 "$WORK/learn.log")"
    sleep 1
done
[[ -n $port ]] || fail "learn never logged its HTTP port"

# metric NAME [LABEL-FILTER] -> the sample's value from the last scrape
metric()
{
    grep -E "^$1\{[^}]*${2:-}[^}]*\} " "$WORK/metrics.txt" | awk '{print $NF}'
}
scrape() { curl -sf "http://127.0.0.1:$port/metrics" >"$WORK/metrics.txt"; }

caught_up=0
for _ in $(seq "$WAIT_S"); do
    scrape || fail "GET /metrics failed"
    if [[ $(metric riffle_events_in_total) == "$total" &&
          $(metric riffle_consumer_lag_messages) == 0 ]]; then
        caught_up=1
        break
    fi
    sleep 1
done
((caught_up)) || fail "metrics never showed $total events and lag 0:" \
    "$(grep -E '^riffle_(events_in|consumer_lag)' "$WORK/metrics.txt")"

promtool check metrics <"$WORK/metrics.txt" >"$WORK/promtool.txt" 2>&1 ||
    fail "promtool check metrics: $(cat "$WORK/promtool.txt")"
note "promtool accepts $(grep -c '^riffle_' "$WORK/metrics.txt") series"

curl -sf "http://127.0.0.1:$port/api/status?after=0" >"$WORK/status.json" ||
    fail "GET /api/status failed"
curl -sf "http://127.0.0.1:$port/" >"$WORK/index.html" ||
    fail "GET / failed"
grep -q 'id="plot-q1"' "$WORK/index.html" || fail "GET / did not serve the dashboard"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/nope")
assert_eq "$code" 404 "status of an unknown path"

# Stop the learner; its summary is what the metrics must agree with.
kill -TERM "$learner"
wait "$learner" || fail "learn did not stop cleanly: $(tail -3 "$WORK/learn.log")"
trap cleanup_work EXIT

summary() { riffle_json "$WORK/learn.json" "rows[0]['$1']"; }
assert_eq "$(metric riffle_predictions_total)" "$(summary predicted)" "predictions"
assert_eq "$(metric riffle_dead_letters_total)" "$(summary dead_letters)" "dead letters"
assert_eq "$(metric riffle_model_version)" "$(summary model_version)" "model version"
assert_eq "$(metric riffle_refused_events_total 'reason="decode_error"')" 1 \
    "decode errors"
python3 - "$(metric riffle_progressive_accuracy 'window="all"')" "$(summary accuracy)" <<'PY' ||
import sys
a, b = float(sys.argv[1]), float(sys.argv[2])
sys.exit(0 if abs(a - b) < 1e-12 else f"accuracy {a} on /metrics, {b} in the summary")
PY
    fail "progressive accuracy differs"

# Refusals by (reason, field) against the dead-letter topic itself.
run_riffle watch -c "$cfg" dead-letters --idle-exit 2 >"$WORK/dl.jsonl" 2>/dev/null
from_topic=$(python3 - "$WORK/dl.jsonl" <<'PY'
import collections, json, sys
c = collections.Counter()
for line in open(sys.argv[1]):
    r = json.loads(line)
    c[(r["reason"], r.get("field") or "")] += 1
print(" ".join(f"{k[0]}/{k[1]}={v}" for k, v in sorted(c.items())))
PY
)
refused='s/^riffle_refused_events_total{.*reason="\([^"]*\)",field="\([^"]*\)"} \(.*\)$/\1\/\2=\3/p'
from_metrics=$(sed -n "$refused" "$WORK/metrics.txt" | sort | tr '\n' ' ' | sed 's/ $//')
assert_eq "$from_metrics" "$from_topic" "refusals by reason/field"
# Per-field counters: each field's rejections are its dead letters.
for f in nswprice nswdemand day; do
    [[ $(metric riffle_field_values_total "field=\"$f\",outcome=\"rejected\"") -ge 1 ]] ||
        fail "no rejection counted for $f"
    assert_eq "$(metric riffle_field_values_total "field=\"$f\",outcome=\"rejected\"")" \
        "$(grep -c "\"field\":\"$f\"" "$WORK/dl.jsonl")" "rejections of $f"
done

assert_eq "$(python3 -c "
import json; s = json.load(open('$WORK/status.json'))
print(s['latest']['events_in'], s['history'][-1]['events_in'] <= $total, s['pipeline'])")" \
    "$total True elec2" "dashboard JSON"
note "refusals: $from_metrics"
echo "PASS $TEST_NAME"
