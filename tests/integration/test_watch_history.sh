#!/usr/bin/env bash
#
# An upgraded riffle reads the records an older one wrote to its topics:
# `riffle watch metrics` prints a metrics report written under the metrics
# schema of before the delayed-label counters (its version is kept in
# schemas/history/) as it was written, `riffle status` shows it as the
# newest report, and a record whose fingerprint no version has still gets
# the error naming the fingerprint. watch prints snapshots of earlier
# formats, and status shows one as the newest model.
source "$(dirname "$0")/lib.sh"

readonly OLD_REPORT=tests/fixtures/metrics_before_labels.bin

cfg=$(make_config config/elec2.cfg)
metrics=$(cfg_topic "$cfg" metrics)
run_riffle topics create -c "$cfg" >/dev/null

# The old report, keyed by the model as the learner keys its reports, and
# then a copy whose fingerprint no version has, keyed otherwise so that
# the old one stays the newest report of the model.
kcat -b "$BROKERS" -P -t "$metrics" -k elec2 "$OLD_REPORT" ||
    fail "cannot produce the old report"
python3 -c '
import sys
data = bytearray(open(sys.argv[1], "rb").read())
data[2:10] = b"\x5a" * 8
sys.stdout.buffer.write(data)' "$OLD_REPORT" >"$WORK/unknown.bin"
kcat -b "$BROKERS" -P -t "$metrics" -k other "$WORK/unknown.bin" ||
    fail "cannot produce the unknown report"

run_riffle watch -c "$cfg" --idle-exit 2 --limit 2 metrics \
    >"$WORK/watch.json" 2>"$WORK/watch.err" ||
    fail "watch: $(tail -3 "$WORK/watch.err")"
sed 's/^/    /' "$WORK/watch.json"
assert_eq "$(wc -l <"$WORK/watch.json")" 2 "lines printed"
assert_eq "$(riffle_json "$WORK/watch.json" '[rows[0].get(k) for k in
    ("model_name", "model_version", "events", "dead_letters", "drift_detector",
     "drift_detections", "k_anonymity")]')" \
    "['elec2', 7, 1234, 5, 'adwin', 2, None]" "the old report's fields"
assert_eq "$(riffle_json "$WORK/watch.json" '[rows[0]["cumulative"],
    rows[0]["cleaning"], "labels" in rows[0]]')" \
    "[{'accuracy': 0.75}, {'duplicates': 3}, False]" "the old report as written"
assert_eq "$(riffle_json "$WORK/watch.json" 'rows[1]["error"]')" \
    "fingerprint 0x5a5a5a5a5a5a5a5a does not match schema riffle.MetricsReport ($(
        riffle_json "$WORK/watch.json" 'rows[1]["error"].split("(")[1][:-1]'))" \
    "the unknown report's error"
grep -q '"offset":1}$' "$WORK/watch.json" || fail "the error's coordinates"

# Snapshots of format 1, which no learner reads any more, and 4, the
# newest of the model topic: status read only the current format's,
# watch no format 1.
models=$(cfg_topic "$cfg" models)
for format in 1 4; do
    kcat -b "$BROKERS" -P -t "$models" -k elec2 "tests/fixtures/elec2_snapshot_format$format.bin" ||
        fail "cannot produce the format $format snapshot"
done
run_riffle watch -c "$cfg" --idle-exit 2 --limit 2 models \
    >"$WORK/models.json" 2>"$WORK/models.err" || fail "watch models: $(tail -3 "$WORK/models.err")"
assert_eq "$(riffle_json "$WORK/models.json" '[(r.get("format_version"), r.get("version"))
    for r in rows]')" "[(1, 200), (4, 200)]" "(format, version) of the snapshots"

run_riffle status -c "$cfg" >"$WORK/status.txt" 2>"$WORK/status.err" ||
    fail "status: $(tail -3 "$WORK/status.err")"
grep -q "^metrics of model version 7, reported .* 1234 events, 5 dead letters\$" \
    "$WORK/status.txt" || fail "status metrics line: $(grep -A1 metrics "$WORK/status.txt")"
grep -q "^  progressive accuracy 0.7500\$" "$WORK/status.txt" ||
    fail "status progressive line"
grep -q "^model elec2: version 200, snapshot" "$WORK/status.txt" ||
    fail "status model line: $(grep model "$WORK/status.txt")"
echo "PASS $TEST_NAME"
