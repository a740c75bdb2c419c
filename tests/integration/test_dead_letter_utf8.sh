#!/usr/bin/env bash
#
# Every string of a dead letter is UTF-8, as an Avro string must be, so
# that any Avro reader (here fastavro, which decodes strictly) can read
# the whole dead-letter topic, whatever the refused input held:
# - an event id of two-byte characters far above the 1 KiB cap, cut to
#   1 KiB in the dead letter, the cut falling inside a character;
# - a label not in the configuration, of two-byte characters, which the
#   refusal used to quote cut inside a character (it now names the field
#   and never quotes the value: a label may be personal);
# - a delayed label on the labels topic whose text is not UTF-8, which
#   the label's refusal used to quote byte for byte.
# Each used to give a dead letter fastavro refuses ("unexpected end of
# data", "invalid continuation byte"): a poisoned topic for every
# consumer but riffle. A byte that is not UTF-8 now reads '?', and a
# label text that is not UTF-8 is refused as such.
source "$(dirname "$0")/lib.sh"

readonly VENV=$REPO_ROOT/.cache/venv-test
if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c 'import fastavro' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet fastavro==1.9.7 ||
        { echo "SKIP: fastavro could not be installed"; exit 77; }
fi

cfg=$(make_config config/elec2_delayed.cfg)
input=$(cfg_topic "$cfg" input)
dead=$(cfg_topic "$cfg" dead_letters)
labels=$(sed -n '/^labels = {/,/^};/s/^ *topic = "\([^"]*\)".*/\1/p' "$cfg")
[[ -n $labels ]] || fail "no labels topic in $cfg"
run_riffle topics create -c "$cfg" >/dev/null

# Two events waiting for their label, the first of which gets a label
# that is not UTF-8 and the second a good one.
zcat data/elec2/electricity.csv.gz | sed -n '1,3p' >"$WORK/events.csv"
run_riffle produce -c "$cfg" --file "$WORK/events.csv" --without-labels \
    --no-progress >/dev/null 2>&1

fingerprint=$("$RIFFLE" check -c "$cfg" | sed -n 's/.*fingerprint \([0-9a-f]*\).*/\1/p')
python3 - "$WORK" "$fingerprint" <<'PY'
import struct, sys
work, fp = sys.argv[1], int(sys.argv[2], 16)

def zigzag(n):
    n, out = (n << 1) ^ (n >> 63), bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    return bytes(out + bytes([n]))

def text(s):
    b = s.encode()
    return zigzag(len(b)) + b

def event(event_id, label):
    """An elec2 event: every number 0.5, day 3."""
    number = zigzag(1) + struct.pack("<d", 0.5)
    body = text(event_id) + number + zigzag(1) + zigzag(3) + number * 6
    return b"\xc3\x01" + struct.pack("<Q", fp) + body + zigzag(1) + text(label)

open(f"{work}/long_id.bin", "wb").write(event("a" + "\u00e9" * 1000, "UP"))
open(f"{work}/bad_label.bin", "wb").write(event("x-1", "x" + "\u00e9" * 40))
open(f"{work}/label_1.bin", "wb").write(b"\xffUP")
open(f"{work}/label_2.bin", "wb").write(b"UP")
PY
kcat -b "$BROKERS" -t "$input" -P -k long "$WORK/long_id.bin"
kcat -b "$BROKERS" -t "$input" -P -k x-1 "$WORK/bad_label.bin"
kcat -b "$BROKERS" -t "$labels" -P -k elec2-1 "$WORK/label_1.bin"
kcat -b "$BROKERS" -t "$labels" -P -k elec2-2 "$WORK/label_2.bin"

run_riffle learn -c "$cfg" --idle-exit 3 >"$WORK/learn.json" 2>"$WORK/learn.log" ||
    fail "learn failed: $(tail -3 "$WORK/learn.log")"
assert_eq "$(riffle_json "$WORK/learn.json" '(rows[0]["learned"], rows[0]["dead_letters"])')" \
    "(1, 3)" "learned events and dead letters"

kcat -b "$BROKERS" -C -t "$dead" -o beginning -e -q -f '%S:%s' >"$WORK/dead.bin" 2>/dev/null
"$VENV/bin/python" - "$WORK/dead.bin" "$labels" <<'PY' || fail "dead letters Avro cannot read"
import io, json, sys
import fastavro

schema = fastavro.parse_schema(json.load(open("schemas/dead_letter.avsc")))
data, pos, got = open(sys.argv[1], "rb").read(), 0, []
while pos < len(data):
    colon = data.index(b":", pos)
    n = int(data[pos:colon])
    body = io.BytesIO(data[colon + 11:colon + 1 + n])  # past the 10-byte header
    got.append(fastavro.schemaless_reader(body, schema))
    pos = colon + 1 + n
# The events and labels topics are read in no fixed order between them.
got.sort(key=lambda d: (d["source_topic"] == sys.argv[2], d["source_offset"]))
brief = [(d["reason"], d["field"], (d["event_id"] or "")[:8]) for d in got]

e = "\u00e9"
expected = [
    ("invalid_value", "event_id", "a" + e * 511 + "?"),
    ("invalid_label", "class", "x-1"),
    ("invalid_label", sys.argv[2], None),
]
assert [(d["reason"], d["field"], d["event_id"]) for d in got] == expected, brief
# named, never quoted: the label could be personal
assert got[1]["detail"] == ('the label is neither a positive nor a negative value '
                            'in the configuration'), brief
assert got[2]["detail"] == "the label text is not UTF-8 from byte 1", brief
print("  test_dead_letter_utf8: 3 dead letters, every string UTF-8")
PY
