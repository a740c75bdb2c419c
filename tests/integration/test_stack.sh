#!/usr/bin/env bash
#
# scripts/stack runs the compose file's services natively and for real:
# its own broker, the learner, two scoring replicas, both demo producers
# and Prometheus. The test checks that Prometheus scrapes the learner
# (the target is up and the event counter grows through its query API)
# and both scoring replicas (their targets are up), and has loaded
# riffle's alert rules, that the replicas answer requests
# with the learner's model, that `riffle status` sees the pipeline, and
# that `scripts/stack down` stops every process it started.
source "$(dirname "$0")/lib.sh"

readonly WAIT_S=120 # for the stack to show progress; a bound, not a goal

base_port=${BROKERS##*:}
export RIFFLE_KAFKA_PORT=$((base_port + 6)) # +7 its controller
export RIFFLE_STACK_HTTP_PORT=$((base_port + 8))
export RIFFLE_STACK_PROMETHEUS_PORT=$((base_port + 9))
export RIFFLE_STACK_SCORER_PORT=$((base_port + 10)) # +11 the second replica
export RIFFLE_RUN_DIR=$WORK/run
export RIFFLE_BIN=$RIFFLE
export RIFFLE_STACK_RATE=1500
stack_brokers=127.0.0.1:$RIFFLE_KAFKA_PORT
prom=http://127.0.0.1:$RIFFLE_STACK_PROMETHEUS_PORT

command -v prometheus >/dev/null || fail "prometheus missing: run scripts/install-deps"
cfg=$(make_config config/elec2.cfg)
export RIFFLE_STACK_CONFIG=$cfg

trap 'scripts/stack down >/dev/null 2>&1 || true; cleanup_work' EXIT
scripts/stack up >"$WORK/up.log" 2>&1 || fail "stack up: $(tail -5 "$WORK/up.log")"

# prom_value QUERY -> the first result's value, or empty
prom_value()
{
    curl -sf --get "$prom/api/v1/query" --data-urlencode "query=$1" |
        python3 -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")'
}

first=
for _ in $(seq "$WAIT_S"); do
    first=$(prom_value 'riffle_events_in_total') || true
    [[ -n $first && $first != 0 ]] && break
    sleep 1
done
[[ -n $first && $first != 0 ]] || fail "Prometheus never saw riffle_events_in_total > 0"
grown=0
for _ in $(seq "$WAIT_S"); do
    now=$(prom_value 'riffle_events_in_total') || true
    if [[ -n $now ]] && ((${now%.*} > ${first%.*})); then grown=1; break; fi
    sleep 1
done
((grown)) || fail "riffle_events_in_total stayed at $first in Prometheus"
note "Prometheus scraped riffle_events_in_total $first, then $now"
assert_eq "$(prom_value 'up{job="riffle-learner"}')" 1 "scrape target up"
for _ in $(seq "$WAIT_S"); do
    scorers=$(prom_value 'count(up{job="riffle-scorer"} == 1)') || true
    [[ $scorers == 2 ]] && break
    sleep 1
done
assert_eq "$scorers" 2 "scoring replicas scraped by Prometheus"
count_rules='import json, sys
groups = json.load(sys.stdin)["data"]["groups"]
print(sum(len(g["rules"]) for g in groups))'
rules=$(curl -sf "$prom/api/v1/rules" | python3 -c "$count_rules")
# Every rule of the file scripts/stack hands Prometheus, counted there so
# that a new alert does not leave a stale number here.
assert_eq "$rules" "$(grep -c '^ *- alert:' deploy/prometheus/alerts.yml)" \
    "alert rules loaded by Prometheus"

"$RIFFLE" watch -c "$cfg" --brokers "$stack_brokers" served --limit 20 \
    --idle-exit 60 >"$WORK/served.jsonl" 2>"$WORK/watch.log" ||
    fail "watch served: $(tail -3 "$WORK/watch.log")"
assert_eq "$(wc -l <"$WORK/served.jsonl")" 20 "predictions served by the replicas"
assert_eq "$(riffle_json "$WORK/served.jsonl" 'all(r["model_version"] > 0 for r in rows)')" \
    True "served predictions name a learned model version"

"$RIFFLE" status -c "$cfg" --brokers "$stack_brokers" >"$WORK/status.txt" 2>&1 ||
    fail "status: $(tail -3 "$WORK/status.txt")"
grep -q "^model elec2: version [1-9]" "$WORK/status.txt" || fail "status shows no model"

scripts/stack status >"$WORK/status.log" 2>&1
for svc in learner scorer-1 scorer-2 prometheus; do
    grep -q "stack: $svc running" "$WORK/status.log" ||
        fail "$svc not running: $(cat "$WORK/status.log")"
done

pids=$(cat "$RIFFLE_RUN_DIR"/stack-*/*.pid)
scripts/stack down >"$WORK/down.log" 2>&1 || fail "stack down: $(tail -3 "$WORK/down.log")"
for pid in $pids; do
    [[ ! -d /proc/$pid ]] || fail "pid $pid still runs after stack down"
done
trap cleanup_work EXIT
echo "PASS $TEST_NAME"
