#!/usr/bin/env bash
#
# A model topic written before an upgrade keeps snapshots of the older
# format: the learner must restore from one, and `riffle watch models`
# must show it as written, beside the newer ones the learner adds.
#
# The format 3 fixture (tests/fixtures/README.md: Elec2's first 200 rows,
# before the normalized optimizer's totals) is published as the model
# topic's only snapshot. The learner then learns 1,000 events from it and
# writes snapshots of today's format; watch must print every snapshot,
# the old one with its own fields, and none as an error.
source "$(dirname "$0")/lib.sh"

readonly EVENTS=1000
readonly FIXTURE=tests/fixtures/elec2_snapshot_format3.bin

cfg=$(make_config config/elec2.cfg)
models=$(cfg_topic "$cfg" models)
run_riffle topics create -c "$cfg" >/dev/null
kcat -b "$BROKERS" -P -t "$models" -k elec2 "$FIXTURE" ||
    fail "could not publish $FIXTURE to $models"

run_riffle watch -c "$cfg" models --idle-exit 2 >"$WORK/before.jsonl" 2>"$WORK/watch1.log" ||
    fail "watch failed: $(head -3 "$WORK/watch1.log")"
assert_eq "$(riffle_json "$WORK/before.jsonl" \
    '[(r.get("format_version"), r.get("version"), r.get("model_name"), "error" in r)
      for r in rows]')" "[(3, 200, 'elec2', False)]" "the format 3 snapshot as watch shows it"

run_riffle produce -c "$cfg" --limit "$EVENTS" --no-progress >/dev/null 2>&1 ||
    fail "produce failed"
run_riffle learn -c "$cfg" --idle-exit 3 >"$WORK/learn.json" 2>"$WORK/learn.log" ||
    fail "learn failed: $(grep -m3 error "$WORK/learn.log")"
grep -q "restored model elec2 version 200" "$WORK/learn.log" ||
    fail "the format 3 snapshot was not restored: $(grep -m5 'learn:' "$WORK/learn.log")"
assert_eq "$(riffle_json "$WORK/learn.json" 'rows[0]["learned"]')" "$((200 + EVENTS))" \
    "examples learned: the snapshot's 200, then the new events"

run_riffle watch -c "$cfg" models --idle-exit 2 >"$WORK/after.jsonl" 2>"$WORK/watch2.log" ||
    fail "watch failed: $(head -3 "$WORK/watch2.log")"
assert_eq "$(riffle_json "$WORK/after.jsonl" 'sum("error" in r for r in rows)')" 0 \
    "snapshots watch could not read"
assert_eq "$(riffle_json "$WORK/after.jsonl" \
    '(rows[0]["format_version"], rows[-1]["format_version"], rows[-1]["version"])')" \
    "(3, 5, $((200 + EVENTS)))" "the old snapshot first, the learner's newest last"
echo "PASS $TEST_NAME"
