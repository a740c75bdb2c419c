#!/usr/bin/env bash
#
# Long commands show a progress bar with the rate and the time left on a
# terminal and plain lines otherwise: `riffle produce`, `riffle train` and
# `riffle dlq replay` run under a pseudo-terminal (util-linux `script`)
# draw redrawn frames ending in one summary line; through a pipe, no
# carriage return or escape sequence reaches the output.
source "$(dirname "$0")/lib.sh"

readonly ROWS=6000
readonly RATE=3000 # two seconds of frames

cfg=$(make_config config/elec2.cfg)
run_riffle topics create -c "$cfg" >/dev/null

script -qec "$RIFFLE produce -c $cfg --brokers $BROKERS --limit $ROWS --rate $RATE" \
    /dev/null >"$WORK/tty.txt" 2>&1 || fail "produce under a terminal failed"
tr '\r' '\n' <"$WORK/tty.txt" >"$WORK/frames.txt"
grep -Eq '^produce: \[[#-]{24}\] +[0-9]+% [0-9]+ rows, [0-9]+/s' "$WORK/frames.txt" ||
    fail "no bar frame: $(head -c 300 "$WORK/frames.txt")"
grep -Eq '^produce: .*, [0-9]+ s left; ' "$WORK/frames.txt" || fail "no time left shown"
grep -Eq "^produce: $ROWS rows, [0-9]+/s; $ROWS produced, 0 bad" "$WORK/frames.txt" ||
    fail "no final line"

script -qec "$RIFFLE train -c $cfg" /dev/null >"$WORK/train.txt" 2>&1 || fail "train failed"
tr '\r' '\n' <"$WORK/train.txt" | grep -Eq '^train: 45312 rows, [0-9]+/s' ||
    fail "train drew no progress"

# dlq replay: the four rows of the fixture that break a cleaning rule
# are dead-lettered, and replaying them (still failing) reports in the
# same way.
replay_cfg=$(make_config config/elec2.cfg)
run_riffle topics create -c "$replay_cfg" >/dev/null
run_riffle produce -c "$replay_cfg" --file tests/fixtures/elec2_bad_rows.csv \
    --no-progress >/dev/null 2>&1
run_riffle learn -c "$replay_cfg" --idle-exit 3 >"$WORK/learn.json" 2>/dev/null
dead=$(riffle_json "$WORK/learn.json" 'rows[0]["dead_letters"]')
((dead > 0)) || fail "the fixture gave no dead letters"
script -qec "$RIFFLE dlq replay -c $replay_cfg --brokers $BROKERS" /dev/null \
    >"$WORK/replay.txt" 2>&1 || fail "dlq replay failed: $(tail -3 "$WORK/replay.txt")"
tr '\r' '\n' <"$WORK/replay.txt" |
    grep -Eq "^replay: $dead dead letters, [0-9]+/s; 0 replayed, $dead still failing, 0 skipped" ||
    fail "no final replay line: $(tr '\r' '\n' <"$WORK/replay.txt" | grep replay | tail -2)"

run_riffle produce -c "$cfg" --limit 100 >"$WORK/pipe.json" 2>"$WORK/pipe.err"
if grep -q $'\r\|\033' "$WORK/pipe.err"; then
    fail "terminal control characters in piped output"
fi
# Into a topic nobody created, produce stops at once with the way out,
# rather than after every row failed at librdkafka's delivery timeout.
missing=$(make_config config/elec2.cfg) # topics not created
# The way out names the configuration as given, quoted for the shell
# where it needs it, so that it can be pasted.
mv "$missing" "$WORK/it's mine.cfg"
rc=0
run_riffle produce -c "$WORK/it's mine.cfg" --limit 100 >"$WORK/missing.json" \
    2>"$WORK/missing.err" || rc=$?
assert_eq "$rc" 1 "produce into a missing topic"
how="create the pipeline's topics with: riffle topics create -c '$WORK/it'\\''s mine.cfg'"
grep -qF "events: Broker: Unknown topic or partition ($how)" "$WORK/missing.err" ||
    fail "missing topic: $(grep -v rdkafka "$WORK/missing.err" | tail -2)"

echo "PASS $TEST_NAME"
