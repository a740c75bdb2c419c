#!/usr/bin/env bash
#
# A CSV in UTF-16 or UTF-32 is named as such, with the iconv command that
# converts it, however its first bytes arrive: read from a pipe whose
# writer sends one byte at a time, as from a slow producer, the check
# sees the same first bytes as from a file (zlib's gzread() fills its
# buffer before it returns, plain or compressed). No broker.
source "$(dirname "$0")/lib.sh"

zcat data/elec2/electricity.csv.gz | sed -n 1,5p >"$WORK/rows.csv"
iconv -f UTF-8 -t UTF-16 "$WORK/rows.csv" >"$WORK/bom16.csv"   # with a mark
iconv -f UTF-8 -t UTF-32 "$WORK/rows.csv" >"$WORK/bom32.csv"
iconv -f UTF-8 -t UTF-16LE "$WORK/rows.csv" >"$WORK/le16.csv"  # without
gzip -c "$WORK/bom16.csv" >"$WORK/bom16.csv.gz"

# Writes file $1 to stdout a byte at a time, each its own write().
trickle() {
    python3 -c 'import os, sys, time
data = open(sys.argv[1], "rb").read()
for i in range(len(data)):
    os.write(1, data[i:i + 1])
    if i < 8:
        time.sleep(0.05)  # let the reader see each of the first bytes alone
' "$1"
}

for c in "bom16.csv|UTF-16 text (it begins with a UTF-16 byte order mark" \
    "bom32.csv|UTF-32 text (it begins with a UTF-32 byte order mark" \
    "le16.csv|UTF-16 text (every other byte of its first characters is 0)" \
    "bom16.csv.gz|UTF-16 text (it begins with a UTF-16 byte order mark"; do
    file=${c%%|*}
    rc=0
    "$RIFFLE" train -c config/elec2.cfg --file "$WORK/$file" >/dev/null \
        2>"$WORK/file.txt" || rc=$?
    err=$(cat "$WORK/file.txt")
    [[ $rc != 0 && $err == *"$WORK/$file:1: ${c#*|}"* && $err == *"iconv -f UTF-"* ]] ||
        fail "$file ($rc): $err"
    rc=0
    trickle "$WORK/$file" | "$RIFFLE" train -c config/elec2.cfg --file /dev/stdin \
        >/dev/null 2>"$WORK/pipe.txt" || rc=$?
    err=$(cat "$WORK/pipe.txt")
    [[ $rc != 0 && $err == *"/dev/stdin:1: ${c#*|}"* && $err == *"iconv -f UTF-"* ]] ||
        fail "$file a byte at a time through a pipe ($rc): $err"
done

echo "PASS $TEST_NAME"
