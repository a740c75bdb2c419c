#!/usr/bin/env bash
#
# Any Avro client with riffle's .avsc files decodes riffle's topics: a
# Python consumer using fastavro (an independent Avro implementation)
# checks the single-object marker and CRC-64-AVRO fingerprint of every
# prediction, dead letter and snapshot, decodes the bodies, and finds the
# same values `riffle watch` prints.
source "$(dirname "$0")/lib.sh"

readonly VENV=$REPO_ROOT/.cache/venv-test
if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c 'import fastavro' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet fastavro==1.9.7 ||
        { echo "SKIP: fastavro could not be installed"; exit 77; }
fi

cfg=$(make_config config/elec2.cfg)
topic() { cfg_topic "$cfg" "$1"; }
run_riffle topics create -c "$cfg" >/dev/null
run_riffle produce -c "$cfg" --file tests/fixtures/elec2_bad_rows.csv --no-progress >/dev/null 2>&1
run_riffle learn -c "$cfg" --idle-exit 3 >/dev/null 2>&1

for t in predictions dead_letters models; do
    # Length-prefixed, so binary payloads survive: "<bytes>:<payload>".
    kcat -b "$BROKERS" -C -t "$(topic "$t")" -o beginning -e -q -f '%S:%s' \
        >"$WORK/$t.bin" 2>/dev/null
done
run_riffle watch -c "$cfg" predictions --idle-exit 2 >"$WORK/predictions.jsonl" 2>/dev/null
run_riffle watch -c "$cfg" dead-letters --idle-exit 2 >"$WORK/dead_letters.jsonl" 2>/dev/null

"$VENV/bin/python" - "$WORK" <<'PY'
import io, json, sys
import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

work = sys.argv[1]

def messages(path):
    data, pos = open(path, "rb").read(), 0
    while pos < len(data):
        colon = data.index(b":", pos)
        n = int(data[pos:colon]); yield data[colon + 1:colon + 1 + n]; pos = colon + 1 + n

def decode_all(topic, avsc):
    schema = fastavro.parse_schema(json.load(open(avsc)))
    fp = fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO")
    out = []
    for m in messages(f"{work}/{topic}.bin"):
        assert m[:2] == b"\xc3\x01", f"{topic}: marker {m[:2]!r}"
        assert m[2:10].hex() == fp, f"{topic}: fingerprint {m[2:10].hex()} != {fp}"
        body = io.BytesIO(m[10:])
        out.append(fastavro.schemaless_reader(body, schema))
        assert body.read() == b"", f"{topic}: trailing bytes"
    return out

preds = decode_all("predictions", "schemas/prediction.avsc")
dlq = decode_all("dead_letters", "schemas/dead_letter.avsc")
snaps = decode_all("models", "schemas/model_snapshot.avsc")
watched = [json.loads(l) for l in open(f"{work}/predictions.jsonl")]
assert len(preds) == 200 and preds == watched, "predictions differ from riffle watch"
watched = [json.loads(l) for l in open(f"{work}/dead_letters.jsonl")]
assert [d["reason"] for d in dlq] == [w["reason"] for w in watched] and len(dlq) == 5
assert snaps and snaps[-1]["version"] == 200 and snaps[-1]["model_name"] == "elec2"
# Every learned example is in the normalized optimizer's totals, the bias
# adding 1 to N each time.
assert snaps[-1]["normalized_examples"] == 200 and snaps[-1]["normalized_norm_sum"] > 200

# Schema evolution: a format 3 snapshot (before the normalized totals)
# and a format 4 one (before the join's checked positions), each read
# with its writer's schema (today's without the later fields, as its
# fingerprint proves) and today's as the reader's, get the defaults
# model_snapshot.avsc declares, which riffle's own reader applies too.
def snapshot_schema(without):
    s = json.load(open("schemas/model_snapshot.avsc"))
    s["fields"] = [f for f in s["fields"] if f["name"] not in without]
    return fastavro.parse_schema(s)
def read_old(path, without):
    writer, reader = snapshot_schema(without), snapshot_schema(())
    old = open(path, "rb").read()
    assert old[2:10].hex() == fingerprint(to_parsing_canonical_form(writer), "CRC-64-AVRO")
    return fastavro.schemaless_reader(io.BytesIO(old[10:]), writer, reader)
since_5 = ("join_checked",)
since_4 = ("normalized_examples", "normalized_norm_sum") + since_5
rec = read_old("tests/fixtures/elec2_snapshot_format3.bin", since_4)
assert rec["format_version"] == 3 and rec["version"] == 200, rec["version"]
assert rec["normalized_examples"] == 0 and rec["normalized_norm_sum"] == 0.0
assert rec["join_checked"] == []
rec = read_old("tests/fixtures/elec2_snapshot_format4.bin", since_5)
assert rec["format_version"] == 4 and rec["version"] == 200, rec["version"]
assert rec["normalized_examples"] == 200 and rec["join_checked"] == []
print(f"  fastavro decoded {len(preds)} predictions, {len(dlq)} dead letters, "
      f"{len(snaps)} snapshot(s); fingerprints and values match; format 3 "
      f"and 4 snapshots resolve to today's schema with the declared defaults")
PY
echo "PASS $TEST_NAME"
