#!/usr/bin/env bash
#
# Dead letters of a source with personal fields keep the refused event's
# bytes sealed with the dead-letter key (no raw value in the topic, but
# nothing lost), and `riffle dlq replay` brings them back: after a rule
# is relaxed it re-injects what now passes, which the learner then
# predicts, dead-letters again what still fails, never replays one dead
# letter twice, and stops at a payload its keyring cannot open. A
# producer may key its messages by a personal value (an e-mail): the
# dead letter seals that key too, and the replay restores it.
source "$(dirname "$0")/lib.sh"

readonly ROWS=300
readonly PERSONAL_KEY="kay.marker-4471@example.test"

cfg=$(make_config config/adult.cfg)
topic() { cfg_topic "$cfg" "$1"; }
# counts SUMMARY -> (read, replayed, still failing) of a dlq replay
counts() { riffle_json "$1" '(rows[0]["read"], rows[0]["replayed"], rows[0]["still_failing"])'; }
run_riffle topics create -c "$cfg" >/dev/null

# Adult rows; rows 10, 20, 30 work 120 hours a week (over max = 99), row
# 40 is 150 years old (over max = 120). Columns: age is 1, hours 13.
python3 - "$WORK/rows.csv" "$ROWS" <<'PY'
import gzip, sys
out, n = open(sys.argv[1], "w"), int(sys.argv[2])
for i, line in enumerate(gzip.open("data/adult/adult.data.gz", "rt"), 1):
    if i > n:
        break
    f = line.rstrip("\n").split(", ")
    if i in (10, 20, 30):
        f[12] = "120"
    if i == 40:
        f[0] = "150"
    out.write(", ".join(f) + "\n")
PY
run_riffle produce -c "$cfg" --file "$WORK/rows.csv" --no-progress >/dev/null 2>&1
# One more refused event, adult-k1 (row 10's bytes under another id of
# the same length), keyed by an e-mail as another producer might key it.
kcat -b "$BROKERS" -C -t "$(topic input)" -o 9 -c 1 -e -q -f '%s' 2>/dev/null |
    python3 -c 'import sys; d = sys.stdin.buffer.read(); assert d.count(b"adult-10") == 1
sys.stdout.buffer.write(d.replace(b"adult-10", b"adult-k1"))' >"$WORK/keyed.bin"
kcat -b "$BROKERS" -P -t "$(topic input)" -k "$PERSONAL_KEY" "$WORK/keyed.bin"
run_riffle learn -c "$cfg" --idle-exit 3 >"$WORK/learn1.json" 2>"$WORK/learn1.log"
assert_eq "$(riffle_json "$WORK/learn1.json" '(rows[0]["predicted"], rows[0]["dead_letters"])')" \
    "($((ROWS - 4)), 5)" "first learn: (predicted, dead letters)"

# Sealed: the raw bytes of the dead-letter topic hold no raw value of
# the refused rows, though the input topic does (the scan can find them).
kcat -b "$BROKERS" -C -t "$(topic dead_letters)" -o beginning -e -q -f '%k %h %s\n' \
    >"$WORK/dlq.raw" 2>/dev/null
kcat -b "$BROKERS" -C -t "$(topic input)" -o beginning -e -q -f '%k %s\n' \
    >"$WORK/input.raw" 2>/dev/null
python3 - "$WORK" "$PERSONAL_KEY" <<'PY'
import sys
work = sys.argv[1]
rows = [l.rstrip("\n").split(", ") for l in open(f"{work}/rows.csv")]
# marital status, relationship, native country of the refused rows, and
# the e-mail one of them was keyed by
values = {rows[i - 1][c] for i in (10, 20, 30, 40) for c in (5, 7, 13)}
values.add(sys.argv[2])
dlq, inp = open(f"{work}/dlq.raw", "rb").read(), open(f"{work}/input.raw", "rb").read()
missing = [v for v in values if v.encode() not in inp]
if missing:
    sys.exit(f"FAIL: the scan cannot find {missing} even in the input topic")
hits = [v for v in values if v.encode() in dlq]
if hits:
    sys.exit(f"FAIL: raw personal values in dead letters: {hits}")
print(f"  {len(values)} raw values of the refused rows: in the input topic, not in dead letters")
PY
run_riffle watch -c "$cfg" dead-letters --idle-exit 2 >"$WORK/dlq1.jsonl" 2>/dev/null
assert_eq "$(riffle_json "$WORK/dlq1.jsonl" \
    '[(r["event_id"], r["reason"], r["field"], r["payload_encryption"]) for r in rows]')" \
    "$(printf "('adult-%s', 'out_of_range', '%s', 'aes-256-gcm')," 10 hours_per_week \
        20 hours_per_week 30 hours_per_week 40 age k1 hours_per_week |
        sed 's/^/[/; s/,$/]/; s/),(/), (/g')" \
    "dead letters (id, reason, field, encryption)"

# A keyring without the key that sealed them: the run stops at the first
# one and commits nothing past it. A failed run prints no summary: its
# error line says how far it got.
RIFFLE_DEAD_LETTER_KEY="other=9aa22acf8091d1866b016944eb021ca7b4aa1cf4ba07e1cbb94097cb7ebe31d2" \
    run_riffle dlq replay -c "$cfg" \
    --no-progress >"$WORK/wrong.json" 2>"$WORK/wrong.log" && fail "replay without the key succeeded"
grep -q 'sealed under key id "example-dlq-1", which the keyring does not hold' "$WORK/wrong.log" ||
    fail "no key-id message: $(cat "$WORK/wrong.log")"
grep -q '(dead letters read: 1, replayed: 0, undecryptable: 1)' "$WORK/wrong.log" ||
    fail "the failed replay's error does not say how far it got: $(cat "$WORK/wrong.log")"
[[ ! -s $WORK/wrong.json ]] || fail "a failed replay printed a summary: $(cat "$WORK/wrong.json")"

# Relax the hours rule; a dry run counts, then the real run re-injects.
sed -i 's/max = 99.0;/max = 130.0;/' "$cfg"
run_riffle dlq replay -c "$cfg" --dry-run --no-progress >"$WORK/dry.json" 2>/dev/null
assert_eq "$(counts "$WORK/dry.json")" \
    "(5, 4, 1)" "dry run: (read, would replay, still failing)"
run_riffle dlq replay -c "$cfg" --no-progress >"$WORK/replay1.json" 2>"$WORK/replay1.log"
assert_eq "$(counts "$WORK/replay1.json")" \
    "(5, 4, 1)" "replay: (read, replayed, still failing)"

# Replayed once only: a second run sees just the dead letter it wrote,
# judged under the same rules already, so it is parked, not written again.
run_riffle dlq replay -c "$cfg" --no-progress >"$WORK/replay2.json" 2>/dev/null
assert_eq "$(riffle_json "$WORK/replay2.json" \
    '(rows[0]["read"], rows[0]["replayed"], rows[0]["still_failing"], rows[0]["parked"])')" \
    "(1, 0, 0, 1)" "second replay: (read, replayed, still failing, parked)"

run_riffle learn -c "$cfg" --idle-exit 3 >"$WORK/learn2.json" 2>"$WORK/learn2.log"
assert_eq "$(riffle_json "$WORK/learn2.json" '(rows[0]["processed"], rows[0]["predicted"])')" \
    "(4, 4)" "second learn: (processed, predicted)"
run_riffle watch -c "$cfg" predictions --idle-exit 2 >"$WORK/pred.jsonl" 2>/dev/null
assert_eq "$(riffle_json "$WORK/pred.jsonl" \
    '(len(rows), len({r["event_id"] for r in rows}), [r["event_id"] for r in rows[-3:]])')" \
    "($ROWS, $ROWS, ['adult-20', 'adult-30', 'adult-k1'])" \
    "predictions: (count, distinct ids, last three)"
kcat -b "$BROKERS" -C -t "$(topic input)" -o -4 -e -q -f '%h\n' \
    >"$WORK/replay-headers.txt" 2>/dev/null
assert_eq "$(grep -c "riffle.replay.of=$(topic dead_letters)/0/" "$WORK/replay-headers.txt")" 4 \
    "re-injected events name their dead letter"
# Re-injected under the key it came with, opened from its dead letter.
assert_eq "$(kcat -b "$BROKERS" -C -t "$(topic input)" -o -1 -e -q -f '%k' 2>/dev/null)" \
    "$PERSONAL_KEY" "the key of the re-injected adult-k1"
echo "PASS $TEST_NAME"
