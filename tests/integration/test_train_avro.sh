#!/usr/bin/env bash
#
# `riffle train` reads Avro object container files as well as CSV: Elec2
# written as a container by fastavro (an independent Avro library, with
# and without deflate compression and without the event_id field, which
# riffle then generates) trains to exactly the model the CSV gives.
# No broker needed.
source "$(dirname "$0")/lib.sh"

readonly VENV=$REPO_ROOT/.cache/venv-test
if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c 'import fastavro' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet fastavro==1.9.7 ||
        { echo "SKIP: fastavro could not be installed"; exit 77; }
fi

"$VENV/bin/python" - "$WORK" <<'PY'
import sys
import fastavro
sys.path.insert(0, "tests/integration")
from elec2_avro import elec2_records, elec2_schema
work = sys.argv[1]
schema = elec2_schema()
rows = elec2_records("elec2")
with open(f"{work}/elec2.avro", "wb") as out:
    fastavro.writer(out, fastavro.parse_schema(schema), rows)
no_id = dict(schema, fields=[f for f in schema["fields"] if f["name"] != "event_id"])
with open(f"{work}/elec2-noid.avro", "wb") as out:
    fastavro.writer(out, fastavro.parse_schema(no_id),
                    ({k: v for k, v in r.items() if k != "event_id"} for r in rows),
                    codec="deflate")
# The day as text where the schema has a number...
as_text = dict(schema, fields=[dict(f, type=["null", "string"]) if f["name"] == "day" else f
                               for f in schema["fields"]])
with open(f"{work}/day-as-text.avro", "wb") as out:
    fastavro.writer(out, fastavro.parse_schema(as_text),
                    [dict(r, day=str(r["day"])) for r in rows[:10]])
# ...and three events whose class is not UTF-8: written as "UQ", whose
# "Q" is then overwritten with 0xff (no codec, so no checksum to mend).
with open(f"{work}/not-utf8.avro", "wb") as out:
    fastavro.writer(out, fastavro.parse_schema(schema),
                    [dict(r, **{"class": "UQ"}) if n % 4 == 1 else r
                     for n, r in enumerate(rows[:12])])
raw = open(f"{work}/not-utf8.avro", "rb").read()
assert raw.count(b"\x04UQ") == 3
open(f"{work}/not-utf8.avro", "wb").write(raw.replace(b"\x04UQ", b"\x04U\xff"))
PY

"$RIFFLE" train -c config/elec2.cfg >"$WORK/csv.json"
"$RIFFLE" train -c config/elec2.cfg --file "$WORK/elec2.avro" >"$WORK/avro.json"
"$RIFFLE" train -c config/elec2.cfg --file "$WORK/elec2-noid.avro" >"$WORK/noid.json"
for f in avro noid; do
    for key in learned accuracy logloss auc; do
        assert_eq "$(riffle_json "$WORK/$f.json" "rows[0]['$key']")" \
            "$(riffle_json "$WORK/csv.json" "rows[0]['$key']")" "$key from $f.avro vs CSV"
    done
done
note "Elec2 from Avro containers: $(riffle_json "$WORK/avro.json" 'rows[0]["learned"]') events," \
    "same model as from CSV"
# Text where the schema has a number is refused before learning, naming
# the field; text that is not UTF-8 is a bad row, as in a CSV file.
out=$("$RIFFLE" train -c config/elec2.cfg --file "$WORK/day-as-text.avro" 2>&1) &&
    fail "train read text into the numeric day: $out"
[[ "$out" == *'day-as-text.avro: field "day" is text in the file, but a number in'* ]] ||
    fail "day as text: $out"
"$RIFFLE" train -c config/elec2.cfg --file "$WORK/not-utf8.avro" >"$WORK/not-utf8.json" \
    2>"$WORK/not-utf8.log"
assert_eq "$(riffle_json "$WORK/not-utf8.json" 'rows[0]["bad_rows"]')" 3 "records not UTF-8"
assert_eq "$(riffle_json "$WORK/not-utf8.json" 'rows[0]["learned"]')" 9 "the others learned"
grep -q 'not-utf8.avro: record 2: field "class" cannot be read' "$WORK/not-utf8.log" ||
    fail "the record was not named: $(cat "$WORK/not-utf8.log")"

# A container that is not there says why (avro-c's own message is empty).
out=$("$RIFFLE" train -c config/elec2.cfg --file "$WORK/missing.avro" 2>&1) &&
    fail "train read a missing container: $out"
[[ "$out" == *"missing.avro: not a readable Avro container file: No such file or directory"* ]] ||
    fail "missing container: $out"
# A pipe could not be read twice, checked and then read by avro-c: it is
# refused by name, and the run ends rather than waiting on it.
mkfifo "$WORK/fifo.avro"
cat tests/fixtures/avro/good.avro >"$WORK/fifo.avro" 2>/dev/null &
out=$(timeout 60 "$RIFFLE" train -c config/elec2.cfg --file "$WORK/fifo.avro" 2>&1) &&
    fail "train read a container from a pipe: $out"
wait || true # the writer may die of SIGPIPE when riffle closes the pipe
[[ "$out" == *"fifo.avro: not a readable Avro container file: not a regular file"* ]] ||
    fail "pipe: $out"

echo "PASS $TEST_NAME"
