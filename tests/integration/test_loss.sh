#!/usr/bin/env bash
#
# The loss test of issue 5: nothing the learner reads disappears. Every
# message on the input topic ends as a prediction, a dead letter or a
# counted duplicate, and the three add up to the input, counted on the
# topics themselves (not on riffle's own report). The input mixes rows
# that break cleaning rules (tests/fixtures/elec2_bad_rows.csv), bytes
# that are no riffle message, and the first rows produced a second time,
# as a retrying producer would; cleaning.dedup_window drops those that
# were learned (a refused row's copy is judged again). Then a rule is
# fixed, `riffle dlq replay` re-injects what now passes, and a second
# learner predicts it: the sum still holds, over both runs. Rows learned
# by the first learner and sent again before the second starts are caught
# as duplicates across the restart (the window is in the snapshot).
source "$(dirname "$0")/lib.sh"

readonly FIRST_PASS=205   # rows produce sends from the fixture
readonly RESENT=50        # the same first rows, sent again
readonly GARBAGE=2        # raw messages that are not Avro
readonly RESENT_BAD=2     # rows 22 and 43 are among the resent ones
readonly RESENT_AFTER=5   # learned rows sent again after the first learner

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
assert_eq "$(riffle_json "$WORK/produce2.json" 'rows[0]["produced"]')" "$RESENT" \
    "rows produced again"
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
assert_eq "$dup_count" "$((RESENT - RESENT_BAD))" "duplicates counted"
assert_eq "$(riffle_json "$WORK/learn.json" 'rows[0]["duplicates"]')" "$dup_count" \
    "duplicates in learn's summary"

# Each input offset is accounted for exactly once: predictions and dead
# letters carry their source offset, and what is left are the resent rows.
python3 - "$WORK" "$in_count" "$FIRST_PASS" "$RESENT" "$dup_count" <<'PY' ||
import json, sys
work, n, first, resent, dups = sys.argv[1], *map(int, sys.argv[2:])
rows = lambda f: [json.loads(l) for l in open(f"{work}/{f}") if l.strip()]
seen = [r["source_offset"] for r in rows("pred.jsonl")] + \
       [r["source_offset"] for r in rows("dlq.jsonl")]
assert len(seen) == len(set(seen)), "an offset was published twice"
rest = sorted(set(range(n)) - set(seen))
# garbage1 sits at offset `first`, the resent rows after it
assert set(rest) <= set(range(first + 1, first + 1 + resent)), rest
assert len(rest) == dups, (len(rest), dups)
ids = [r["event_id"] for r in rows("pred.jsonl")]
assert len(ids) == len(set(ids)), "an event id was predicted twice"
PY
    fail "offsets not accounted for"

# The cleaning counters of the fields at fault reach the metrics topic
# and the log; a rejected field is named, a clean one reads zero.
assert_eq "$(riffle_json "$WORK/metrics.jsonl" \
    '[rows[-1]["cleaning"][k] for k in ("nswprice.rejected", "class.missing",
        "class.rejected", "day.missing", "nswdemand.rejected", "vicprice.rejected")]')" \
    "[2, 2, 3, 1, 1, 0]" "per-field cleaning counters in the metrics topic"
grep -q 'cleaning counters {.*"class.rejected":3' "$WORK/learn.log" ||
    fail "cleaning counters missing from the log: $(grep cleaning "$WORK/learn.log")"
dlq_topic=$(cfg_topic "$cfg" dead_letters)
dlq_total() { kcat -b "$BROKERS" -C -t "$dlq_topic" -o beginning -e -q -f '%o\n' | wc -l; }
replay() # replay NAME -> runs `dlq replay`, its summary in $WORK/NAME.json
{
    run_riffle dlq replay -c "$cfg" --no-progress >"$WORK/$1.json" 2>"$WORK/$1.log" ||
        fail "dlq replay $1 failed: $(tail -3 "$WORK/$1.log")"
}
summary() { riffle_json "$WORK/$1.json" \
    '(rows[0]["read"], rows[0]["replayed"], rows[0]["duplicates"], rows[0]["still_failing"],
        rows[0]["parked"])'; }

# Fix the rule row 22 broke (nswprice 1.5 > max 1.0) and replay. Both of
# its dead letters (first pass and resent copy) pass; the replay judges
# duplicates as the learner does, so it re-injects the first and counts
# the copy as a duplicate. The 7 others still fail and are written again
# under today's rules.
rule='{ name = "nswprice";  kind = "numeric"; min = 0.0; max ='
sed -i "s/$rule 1.0; }/$rule 2.0; }/" "$cfg"
grep -q 'name = "nswprice";.*max = 2.0' "$cfg" || fail "the rule was not relaxed"
replay replay1
assert_eq "$(summary replay1)" "($dlq_count, 1, 1, $((dlq_count - 2)), 0)" \
    "dlq replay: (read, replayed, duplicates, still failing, parked)"
after1=$(dlq_total)
assert_eq "$after1" "$((2 * dlq_count - 2))" "dead letters after the first replay"

# Run again, twice, under the same rules: what still fails was judged
# under them already; it is parked, not written again, and then not even
# read: the dead-letter topic stops growing.
replay replay2
assert_eq "$(summary replay2)" "($((dlq_count - 2)), 0, 0, 0, $((dlq_count - 2)))" \
    "second replay, same rules: (read, replayed, duplicates, still failing, parked)"
replay replay3
assert_eq "$(summary replay3)" "(0, 0, 0, 0, 0)" "third replay, same rules"
assert_eq "$(dlq_total)" "$after1" "dead letters after replays under unchanged rules"

# Rows learned by the first learner, sent again while no learner runs:
# the second one restores the duplicate window from the snapshot and
# drops them, as the first would have.
run_riffle produce -c "$cfg" --file tests/fixtures/elec2_bad_rows.csv \
    --limit "$RESENT_AFTER" --no-progress >/dev/null 2>&1
run_riffle learn -c "$cfg" --idle-exit 3 >"$WORK/learn2.json" 2>"$WORK/learn2.log"
assert_eq "$(riffle_json "$WORK/learn2.json" \
    '(rows[0]["processed"], rows[0]["predicted"], rows[0]["duplicates"])')" \
    "($((1 + RESENT_AFTER)), 1, $RESENT_AFTER)" \
    "second learn: (processed, predicted, duplicates), duplicates spanning the restart"
run_riffle watch -c "$cfg" predictions --idle-exit 2 >"$WORK/pred2.jsonl" 2>/dev/null
assert_eq "$(riffle_json "$WORK/pred2.jsonl" '[r["event_id"] for r in rows[-1:]]')" \
    "['elec2-22']" "the replayed event reached the predictions"

# Another rule changes (row 106: nswdemand -0.2 < min 0): the next replay
# goes back to the parked dead letters, examines each once more, and
# re-injects the one that now passes; the rest is written again once.
rule='{ name = "nswdemand"; kind = "numeric"; min ='
sed -i "s/$rule 0.0; max = 1.0; }/$rule -1.0; max = 1.0; }/" "$cfg"
grep -q 'name = "nswdemand";.*min = -1.0' "$cfg" || fail "the second rule was not relaxed"
run_riffle dlq replay -c "$cfg" --dry-run --no-progress >"$WORK/dry4.json" 2>/dev/null ||
    fail "dry run failed"
assert_eq "$(summary dry4)" "($((dlq_count - 2)), 1, 0, $((dlq_count - 3)), 0)" \
    "dry run after a rule change: (read, would replay, duplicates, still failing, parked)"
replay replay4
assert_eq "$(summary replay4)" "($((dlq_count - 2)), 1, 0, $((dlq_count - 3)), 0)" \
    "replay after a rule change: (read, replayed, duplicates, still failing, parked)"
replay replay5
assert_eq "$(summary replay5)" "($((dlq_count - 3)), 0, 0, 0, $((dlq_count - 3)))" \
    "replay after it, same rules"
run_riffle learn -c "$cfg" --idle-exit 3 >"$WORK/learn3.json" 2>"$WORK/learn3.log"
assert_eq "$(riffle_json "$WORK/learn3.json" '(rows[0]["processed"], rows[0]["predicted"])')" \
    "(1, 1)" "third learn: (processed, predicted)"
run_riffle watch -c "$cfg" predictions --idle-exit 2 >"$WORK/pred3.jsonl" 2>/dev/null
assert_eq "$(riffle_json "$WORK/pred3.jsonl" '[r["event_id"] for r in rows[-1:]]')" \
    "['elec2-106']" "the second replayed event reached the predictions"

# The sum over every run. The replays' own dead letters (what still
# fails, written again with today's reason) carry riffle.replay.run and
# come from the dead-letter topic, not the input: they are left out.
in3=$(kcat -b "$BROKERS" -C -t "$input" -o beginning -e -q -f '%o\n' | wc -l)
pred3=$(wc -l <"$WORK/pred3.jsonl")
dlq3=$(kcat -b "$BROKERS" -C -t "$dlq_topic" -o beginning -e -q \
    -f '%h\n' | grep -vc 'riffle.replay.run=' || true)
dup3=$((dup_count + $(riffle_json "$WORK/learn2.json" 'rows[0]["duplicates"]')))
note "after the replays: input $in3 = predictions $pred3 + dead letters $dlq3 + duplicates $dup3"
assert_eq "$in3" "$((in_count + 2 + RESENT_AFTER))" "input after the replays"
assert_eq "$dlq3" "$dlq_count" "the learner's dead letters"
assert_eq "$((pred3 + dlq3 + dup3))" "$in3" "predictions + dead letters + duplicates, every run"
echo "PASS $TEST_NAME"
