#!/usr/bin/env bash
#
# Long commands show a progress bar with the rate and the time left on a
# terminal and plain lines otherwise: `riffle produce` and `riffle train`
# run under a pseudo-terminal (util-linux `script`) draw redrawn bar
# frames ending in one summary line; through a pipe, no carriage return
# or escape sequence reaches the output.
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

run_riffle produce -c "$cfg" --limit 100 >"$WORK/pipe.json" 2>"$WORK/pipe.err"
if grep -q $'\r\|\033' "$WORK/pipe.err"; then
    fail "terminal control characters in piped output"
fi
echo "PASS $TEST_NAME"
