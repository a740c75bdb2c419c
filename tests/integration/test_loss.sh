#!/usr/bin/env bash
#
# The loss test of issue 5: nothing the learner reads disappears. Every
# message on the input topic ends as a prediction, a dead letter or a
# counted duplicate, and the three add up to the input, counted on the
# topics themselves (not on riffle's own report). The input mixes rows
# that break cleaning rules (tests/fixtures/elec2_bad_rows.csv), bytes
# that are no riffle message, and the first rows produced a second time,
# as a retrying producer would; cleaning.dedup_window drops those.
source "$(dirname "$0")/lib.sh"

readonly FIRST_PASS=205   # rows produce sends from the fixture
readonly RESENT=50        # the same first rows, sent again
readonly GARBAGE=2        # raw messages that are not Avro

cfg=$(make_config config/elec2.cfg)
cat >>"$cfg" <<'CFG'
cleaning = { dedup_window = 1000; };
CFG
input=$(cfg_topic "$cfg" input)
run_riffle topics create -c "$cfg" >/dev/null

run_riffle produce -c "$cfg" --file tests/fixtures/elec2_bad_rows.csv \
    --no-progress >"$WORK/produce1.json" 2>/dev/null
assert_eq "$(riffle_json "$WORK/produce1.json" 'rows[0]["produced"]')" "$FIRST_PASS" "rows produced"
printf 'not avro at all' >"$WORK/garbage1.bin"
printf '\xc3\x01short' >"$WORK/garbage2.bin"
kcat -b "$BROKERS" -t "$input" -P "$WORK/garbage1.bin"
run_riffle produce -c "$cfg" --file tests/fixtures/elec2_bad_rows.csv \
    --limit "$RESENT" --no-progress >"$WORK/produce2.json" 2>/dev/null
assert_eq "$(riffle_json "$WORK/produce2.json" 'rows[0]["produced"]')" "$RESENT" "rows produced again"
kcat -b "$BROKERS" -t "$input" -P "$WORK/garbage2.bin"

run_riffle learn -c "$cfg" --idle-exit 3 >"$WORK/learn.json" 2>"$WORK/learn.log"
run_riffle watch -c "$cfg" predictions --idle-exit 2 >"$WORK/pred.jsonl" 2>/dev/null
run_riffle watch -c "$cfg" dead-letters --idle-exit 2 >"$WORK/dlq.jsonl" 2>/dev/null
run_riffle watch -c "$cfg" metrics --idle-exit 2 >"$WORK/metrics.jsonl" 2>/dev/null

# Offsets only: a payload may hold newlines.
in_count=$(kcat -b "$BROKERS" -C -t "$input" -o beginning -e -q -f '%o\n' | wc -l)
pred_count=$(wc -l <"$WORK/pred.jsonl")
dlq_count=$(wc -l <"$WORK/dlq.jsonl")
dup_count=$(riffle_json "$WORK/metrics.jsonl" 'rows[-1]["cleaning"]["duplicates"]')
note "input $in_count = predictions $pred_count + dead letters $dlq_count + duplicates $dup_count"

assert_eq "$in_count" "$((FIRST_PASS + RESENT + GARBAGE))" "messages on the input topic"
assert_eq "$((pred_count + dlq_count + dup_count))" "$in_count" \
    "predictions + dead letters + duplicates against the input"
assert_eq "$dup_count" "$RESENT" "duplicates counted"
assert_eq "$(riffle_json "$WORK/learn.json" 'rows[0]["duplicates"]')" "$RESENT" \
    "duplicates in learn's summary"

# Each input offset is accounted for exactly once: predictions and dead
# letters carry their source offset, and what is left are the resent rows.
python3 - "$WORK" "$in_count" "$FIRST_PASS" "$RESENT" <<'PY' || fail "offsets not accounted for"
import json, sys
work, n, first, resent = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rows = lambda f: [json.loads(l) for l in open(f"{work}/{f}") if l.strip()]
seen = [r["source_offset"] for r in rows("pred.jsonl")] + \
       [r["source_offset"] for r in rows("dlq.jsonl")]
assert len(seen) == len(set(seen)), "an offset was published twice"
rest = sorted(set(range(n)) - set(seen))
# garbage1 sits at offset `first`, the resent rows after it
assert rest == list(range(first + 1, first + 1 + resent)), rest
ids = [r["event_id"] for r in rows("pred.jsonl")]
assert len(ids) == len(set(ids)), "an event id was predicted twice"
PY

# The cleaning counters of the fields at fault reach the metrics topic
# and the log; a rejected field is named, a clean one reads zero.
assert_eq "$(riffle_json "$WORK/metrics.jsonl" \
    '[rows[-1]["cleaning"][k] for k in ("nswprice.rejected", "class.missing", "class.rejected", "day.missing", "nswdemand.rejected", "vicprice.rejected")]')" \
    "[1, 1, 2, 1, 1, 0]" "per-field cleaning counters in the metrics topic"
grep -q 'cleaning counters {.*"class.rejected":2' "$WORK/learn.log" ||
    fail "cleaning counters missing from the log: $(grep cleaning "$WORK/learn.log")"
echo "PASS $TEST_NAME"
