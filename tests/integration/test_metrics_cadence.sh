#!/usr/bin/env bash
#
# Metrics reports follow the model's event count, not the process: a run
# stopped at an event that is not a multiple of drift.metrics_every and
# started again reports at the same multiples as an uninterrupted run
# (5,000, 10,000, ... for config/elec2.cfg), and not at 5,000 events
# after the restart.
source "$(dirname "$0")/lib.sh"

readonly EVENTS=45312
readonly FIRST_RUN=12345
readonly EVERY=5000

cfg=$(make_config config/elec2.cfg)
grep -q "progress_every = $EVERY;" "$cfg" || fail "expected log.progress_every = $EVERY in $cfg"
metrics=$(cfg_topic "$cfg" metrics)
[[ -n $metrics ]] || fail "no metrics topic in $cfg"
run_riffle topics create -c "$cfg" >/dev/null
run_riffle produce -c "$cfg" --no-progress >/dev/null 2>&1

run_riffle learn -c "$cfg" --max-events "$FIRST_RUN" >"$WORK/learn1.json" 2>"$WORK/learn1.log"
run_riffle learn -c "$cfg" --idle-exit 3 >"$WORK/learn2.json" 2>"$WORK/learn2.log" ||
    fail "second run failed: $(grep -m3 error "$WORK/learn2.log")"
grep -q "restored model elec2 version $FIRST_RUN" "$WORK/learn2.log" ||
    fail "second run did not restore version $FIRST_RUN: $(grep -m3 learn: "$WORK/learn2.log")"

run_riffle watch -c "$cfg" metrics --idle-exit 2 >"$WORK/metrics.jsonl" 2>/dev/null
assert_eq "$(riffle_json "$WORK/metrics.jsonl" \
    "sorted(set(r['events'] for r in rows if r['events'] % $EVERY == 0))")" \
    "$(python3 -c "print(list(range($EVERY, $EVENTS + 1, $EVERY)))")" \
    "reports at every multiple of $EVERY events over both runs"
assert_eq "$(riffle_json "$WORK/metrics.jsonl" \
    "$((FIRST_RUN + EVERY)) in [r['events'] for r in rows]")" False \
    "a report $EVERY events after the restart"
echo "PASS $TEST_NAME"
