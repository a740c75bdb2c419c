#!/usr/bin/env bash
#
# `riffle produce` reads an Avro object container file (named *.avro) as
# train does: fields by name, and the event ids from the file's id field
# (a producer's own ids, not <id_prefix>-<row>). Streamed and learned, the
# container gives exactly the model `train` gives on it.
source "$(dirname "$0")/lib.sh"

readonly ROWS=2000
readonly VENV=$REPO_ROOT/.cache/venv-test
if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c 'import fastavro' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet fastavro==1.9.7 ||
        { echo "SKIP: fastavro could not be installed"; exit 77; }
fi

"$VENV/bin/python" - "$WORK" "$ROWS" <<'PY'
import sys
import fastavro
sys.path.insert(0, "tests/integration")
from elec2_avro import elec2_records, elec2_schema
work, limit = sys.argv[1], int(sys.argv[2])
schema = elec2_schema()
rows = elec2_records("acct", limit)
with open(f"{work}/events.avro", "wb") as out:
    fastavro.writer(out, fastavro.parse_schema(schema), rows, codec="deflate")
PY

cfg=$(make_config config/elec2.cfg)
run_riffle topics create -c "$cfg" >/dev/null
run_riffle produce -c "$cfg" --file "$WORK/events.avro" --no-progress \
    >"$WORK/produce.json" 2>"$WORK/produce.log" ||
    fail "produce refused the container: $(grep -m1 error "$WORK/produce.log")"
assert_eq "$(riffle_json "$WORK/produce.json" 'rows[0]["produced"]')" "$ROWS" \
    "events produced from the container"

run_riffle watch -c "$cfg" input --limit 1 >"$WORK/first.json" 2>/dev/null
assert_eq "$(riffle_json "$WORK/first.json" 'rows[0]["event_id"]')" "acct-1" \
    "the first event's id, the file's own"

"$RIFFLE" train -c "$cfg" --file "$WORK/events.avro" >"$WORK/train.json"
run_riffle learn -c "$cfg" --idle-exit 2 >"$WORK/learn.json" 2>"$WORK/learn.log"
# A configuration whose id field the schema lacks is refused, as it is
# for a CSV file, and nothing is sent: produce once keyed each message
# with whatever lay in memory before the event's values.
sed 's/name = "event_id"; *kind = "id"/name = "acct_id"; kind = "id"/' "$cfg" \
    >"$WORK/no_id.cfg"
rc=0
run_riffle produce -c "$WORK/no_id.cfg" --file "$WORK/events.avro" --no-progress \
    >/dev/null 2>"$WORK/no_id.log" || rc=$?
[[ $rc -ne 0 ]] || fail "produce sent a container whose id field the schema lacks"
grep -q 'the id field "acct_id" must be a string field of riffle.elec2.Event' \
    "$WORK/no_id.log" || fail "no error naming the id field: $(tail -2 "$WORK/no_id.log")"
assert_eq "$(topic_end "$(cfg_topic "$cfg" input)" 1)" "$ROWS" \
    "events on the input topic after the refused produce"

assert_eq "$(riffle_json "$WORK/learn.json" 'rows[0]["learned"]')" "$ROWS" "events learned"
assert_eq "$(riffle_json "$WORK/learn.json" 'rows[0]["weights_digest"]')" \
    "$(riffle_json "$WORK/train.json" 'rows[0]["weights_digest"]')" \
    "weights after streaming the container vs train on it"
echo "PASS $TEST_NAME"
