#!/usr/bin/env bash
#
# `riffle status` shows what the brokers hold for a pipeline: message
# counts per topic, the learner group's lag, the newest snapshot's model
# version and the newest metrics report, each checked against what the
# producer and the learner themselves reported.
source "$(dirname "$0")/lib.sh"

readonly EVENTS=2000
readonly MORE=300 # produced after the learner stopped: the lag

cfg=$(make_config config/elec2.cfg)
input=$(cfg_topic "$cfg" input)
run_riffle topics create -c "$cfg" >/dev/null

run_riffle status -c "$cfg" >"$WORK/empty.txt" 2>&1 ||
    fail "status on empty topics: $(tail -3 "$WORK/empty.txt")"
grep -q "model elec2: no snapshot yet" "$WORK/empty.txt" || fail "no 'no snapshot yet' line"

run_riffle produce -c "$cfg" --limit "$EVENTS" --no-progress >/dev/null 2>&1
run_riffle learn -c "$cfg" --idle-exit 3 >"$WORK/learn.json" 2>"$WORK/learn.log"
run_riffle produce -c "$cfg" --limit "$MORE" --no-progress >/dev/null 2>&1

run_riffle status -c "$cfg" >"$WORK/status.txt" 2>"$WORK/status.err" ||
    fail "status: $(tail -3 "$WORK/status.err")"
sed 's/^/    /' "$WORK/status.txt"

grep -Eq "^  input +$input +1 +$((EVENTS + MORE))\$" "$WORK/status.txt" ||
    fail "input topic line"
grep -Eq "^  partition 0 +committed +$EVENTS of +$((EVENTS + MORE)), lag $MORE\$" \
    "$WORK/status.txt" || fail "lag line"
grep -q "^  total lag $MORE\$" "$WORK/status.txt" || fail "total lag"
version=$(riffle_json "$WORK/learn.json" 'rows[0]["model_version"]')
grep -q "^model elec2: version $version, snapshot" "$WORK/status.txt" ||
    fail "model version $version"
grep -q "^metrics of model version $version, reported .* $EVENTS events, 0 dead letters\$" \
    "$WORK/status.txt" || fail "metrics line"
accuracy=$(riffle_json "$WORK/learn.json" '"%.4f" % rows[0]["accuracy"]')
grep -q "^  progressive accuracy $accuracy " "$WORK/status.txt" ||
    fail "progressive accuracy $accuracy"
# No broker on the port: one bounded ask, then exit status 1 saying so,
# not every topic listed as missing after 10 s each.
readonly SILENT=127.0.0.1:$((${BROKERS##*:} + 40)) # nothing listens there
rc=0
"$RIFFLE" status -c "$cfg" --brokers "$SILENT" >"$WORK/silent.txt" \
    2>"$WORK/silent.err" || rc=$?
assert_eq "$rc" 1 "status without brokers: exit status"
grep -q "error status: the brokers ($SILENT) do not answer within 10 s" \
    "$WORK/silent.err" || fail "status without brokers: $(tail -3 "$WORK/silent.err")"
grep -q "missing" "$WORK/silent.txt" && fail "status without brokers listed topics"
echo "PASS $TEST_NAME"
