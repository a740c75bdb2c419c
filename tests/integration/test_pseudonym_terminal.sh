#!/usr/bin/env bash
#
# `riffle pseudonym` tells its answers apart: on a terminal each line is
# "ID<tab>PSEUDONYM" for the user who typed the ids, with control bytes
# of an id escaped; into a pipe it writes the pseudonyms alone, one per
# id in order, unless --with-ids asks for the pairs; and no raw id
# reaches the log. Runs the command under a pseudo-terminal; no broker.
source "$(dirname "$0")/lib.sh"

mkdir -p "$WORK/src"
cp config/elec2.cfg "$WORK/src/elec2.cfg"
pseudonymize_id "$WORK/src/elec2.cfg"
cfg=$(make_config "$WORK/src/elec2.cfg")

# The pseudonyms alone, as a script reads them.
"$RIFFLE" pseudonym -c "$cfg" alice-1 bob-2 >"$WORK/bare.txt" 2>"$WORK/bare.log" ||
    fail "pseudonym into a file failed: $(cat "$WORK/bare.log")"
assert_eq "$(wc -l <"$WORK/bare.txt")" 2 "pseudonyms written into a file"
grep -q 'alice\|bob' "$WORK/bare.txt" && fail "a raw id was written into the file unasked"
p1=$(sed -n 1p "$WORK/bare.txt")
p2=$(sed -n 2p "$WORK/bare.txt")
[[ -n $p1 && $p1 != "$p2" ]] || fail "two ids, two pseudonyms: '$p1', '$p2'"

# On a terminal, each line names its id; an escape byte is shown, not sent.
python3 - "$RIFFLE" "$cfg" "$WORK/tty.txt" "$WORK/tty.log" <<'PY'
import os, pty, sys
riffle, cfg, out, log = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    err = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(err, 2)
    os.execv(riffle, [riffle, "pseudonym", "-c", cfg, "alice-1", "bob-2", "x\x1b[2Jy"])
data = b""
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
_, status = os.waitpid(pid, 0)
open(out, "wb").write(data.replace(b"\r\n", b"\n"))
sys.exit(os.waitstatus_to_exitcode(status))
PY
[[ $? -eq 0 ]] || fail "pseudonym on a terminal failed: $(cat "$WORK/tty.log")"
assert_eq "$(sed -n 1p "$WORK/tty.txt")" "alice-1	$p1" "first line on a terminal"
assert_eq "$(sed -n 2p "$WORK/tty.txt")" "bob-2	$p2" "second line on a terminal"
assert_eq "$(sed -n 3p "$WORK/tty.txt" | cut -f1)" 'x\x1b[2Jy' "an escape byte, escaped"

# --with-ids pairs them into a pipe too, for ids read from stdin.
printf 'bob-2\nalice-1\n' | "$RIFFLE" pseudonym -c "$cfg" --with-ids >"$WORK/pairs.txt" \
    2>>"$WORK/bare.log" || fail "pseudonym --with-ids failed"
assert_eq "$(cat "$WORK/pairs.txt")" "bob-2	$p2
alice-1	$p1" "--with-ids from stdin"

if grep -q 'alice\|bob' "$WORK/bare.log" "$WORK/tty.log"; then
    fail "a raw id reached the log"
fi
echo "PASS $TEST_NAME"
