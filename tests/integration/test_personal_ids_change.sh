#!/usr/bin/env bash
#
# Turning personal = "pseudonym" on for the event id of a pipeline of
# several instances (learn --instance), on the real broker. Instance a
# learns 60 unlabelled Elec2 events under the raw ids elec2-N; at its
# clean exit its snapshot and its partition's delayed-label record
# (<model>#labels/0) hold the 60 waiting events under those raw ids.
# The id is then marked personal, which changes the model's fingerprint:
# a refuses its old snapshot (it would need --start-fresh), and instance
# b, which has no snapshot of its own, starts instead and is handed
# partition 0 at a's claim, where a's record stands.
#
# Checked: a's start is refused; b does not take a's record over (it was
# written under other settings: its ids are raw, and would never join a
# label, which is pseudonymized on arrival) and says why, so no event
# waits in b; the labels that come next wait for their events, none
# joins a raw-id event; and no record b writes to the model topic
# (snapshots and delayed-label records) nor its debug log holds a raw
# id. Those 60 events' labels are lost to the change, as
# docs/OPERATIONS.md says.
#
# PERSONAL_IDS_CHANGE_MODE sets delivery.mode (default exactly_once;
# scripts/test runs both: see the end).
#
# Bounded: 60 events, 60 labels, four short learner runs per mode.
source "$(dirname "$0")/lib.sh"

readonly EVENTS=60

trap 'stop_started; cleanup_work' EXIT

readonly MODE=${PERSONAL_IDS_CHANGE_MODE:-exactly_once}

cfg=$(labels_config 1)
printf 'delivery = { mode = "%s"; };\n' "$MODE" >>"$cfg"
models=$(cfg_topic "$cfg" models)
run_riffle topics create -c "$cfg" >/dev/null

unlabelled_events "$EVENTS"

# learn_as INSTANCE RUN: one run until idle; $WORK/RUN.json, RUN.log
learn_as()
{
    "$RIFFLE" learn -c "$cfg" --brokers "$BROKERS" --instance "$1" --idle-exit 2 \
        >"$WORK/$2.json" 2>"$WORK/$2.log"
}

produce_quietly "$cfg" --file "$WORK/events.csv" --without-labels
learn_as a a1 || fail "learn 1 failed: $(grep -m3 error "$WORK/a1.log")"
assert_eq "$(riffle_json "$WORK/a1.json" 'rows[0]["labels"]["pending"]')" "$EVENTS" \
    "events waiting under their raw ids before the change"

# The id becomes personal.
pseudonymize_id "$cfg"
changed_at=$(topic_end "$models" 1)

learn_as a a2 && fail "a accepted a snapshot made before the id was pseudonymized"
grep -q "refusing to start a fresh model mid-stream" "$WORK/a2.log" ||
    fail "learn 2 failed for another reason: $(grep -m3 error "$WORK/a2.log")"

# b's runs are named out-*: their summaries and debug logs are scanned.
RIFFLE_LOG_LEVEL=debug learn_as b out-b3 ||
    fail "learn 3 failed: $(grep -m3 error "$WORK/out-b3.log")"
grep -q "does not fit: it was written under other learner or field settings" "$WORK/out-b3.log" ||
    fail "b took a's record over, or said nothing: $(grep -m3 'labels/0' "$WORK/out-b3.log")"
assert_eq "$(riffle_json "$WORK/out-b3.json" 'rows[0]["labels"]["pending"]')" 0 \
    "events waiting in b (a's raw-id ones are not taken over)"

produce_quietly "$cfg" --labels "$WORK/labels.csv"
RIFFLE_LOG_LEVEL=debug learn_as b out-b4 ||
    fail "learn 4 failed: $(grep -m3 error "$WORK/out-b4.log")"
assert_eq "$(riffle_json "$WORK/out-b4.json" \
    'tuple(rows[0]["labels"][k] for k in ("joined", "waiting", "pending"))')" \
    "(0, $EVENTS, 0)" "labels (joined, waiting, events pending) after the change"

# Every record of the model topic since the change, keys and values.
kcat -b "$BROKERS" -C -t "$models" -o "$changed_at" -e -q -f 'key=%k value=%s\n' \
    >"$WORK/out-models-after.raw" 2>/dev/null
python3 - "$WORK" <<'PY'
import sys
after = open(f"{sys.argv[1]}/out-models-after.raw", "rb").read()
if after.count(b"key=") < 2 or b"#labels/0" not in after:
    sys.exit(f"FAIL: expected snapshots and delayed-label records after the change, "
             f"got {after.count(b'key=')} records")
print(f"  {after.count(b'key=')} model-topic records after the change")
PY
# no raw id in them nor in b's summaries and debug logs
scan_raw_ids elec2- 5
note "delivery mode $MODE: passed"
if [[ $MODE == exactly_once ]]; then
    # The same in at least once mode, whose take-over reads other records.
    PERSONAL_IDS_CHANGE_MODE=at_least_once bash "$0" || exit 1
    echo "PASS $TEST_NAME"
fi
