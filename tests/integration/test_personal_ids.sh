#!/usr/bin/env bash
#
# A personal event id (personal = "pseudonym" on the id field) on the
# real broker: 300 Elec2 events whose ids look like medical record numbers
# (patient-mrn-N) arrive without their label, keyed by the raw id as a
# user's producer keys them; one of them is late (event time behind the
# watermark, on_late = "reject") and one comes twice (a duplicate). Their
# labels, keyed by the raw id, come later: 249 of them name a waiting
# event, one names no event (unknown, given up when a label stamped past
# labels.ttl moves the store's clock). A learner runs before and after the
# labels, so the waiting events cross a restart through the snapshot.
#
# Checked: the labels still join (249) and the counts add up; every
# prediction names an event by the pseudonym `riffle pseudonym` computes
# from its raw id, each once; the late event's dead letter names its
# pseudonym and the unknown label's dead letter keeps its raw key only
# sealed; and no raw id appears in any output topic (predictions, dead
# letters, models, metrics, alerts: raw bytes with keys and headers, and
# riffle watch's JSON) nor in the learners' debug logs. The scan is
# checked to find the raw ids in the input and labels topics.
#
# Then riffle serve answers 20 requests from Kafka and one over HTTP, each
# carrying a raw id: the served predictions and the HTTP answer name the
# pseudonyms, and they join the scan with serve's debug log.
#
# Last, learn --instance on topics of its own: 20 events keyed by their
# raw id wait and join their labels, none dead-lettered as keyed by
# something else than its id (the check compares the key's pseudonym).
#
# Bounded: 321 events, 271 labels, three short learner runs, 21 requests.
source "$(dirname "$0")/lib.sh"

readonly TTL_S=300
readonly LATE_ROW=200
readonly RAW_PREFIX=patient-mrn
readonly REQUESTS=20
# serve's HTTP port: 25 above the broker's, inside the range of whoever
# runs the suite and taken by no other test
readonly HTTP_PORT=$((${BROKERS##*:} + 25))

server=
stop_server() { [[ -z $server ]] || kill -TERM "$server" 2>/dev/null || true; }
trap 'stop_server; cleanup_work' EXIT

mkdir -p "$WORK/src"
sed -e 's/id_prefix = "elec2"/id_prefix = "'$RAW_PREFIX'"/' config/elec2.cfg >"$WORK/src/elec2.cfg"
pseudonymize_id "$WORK/src/elec2.cfg"
cat >>"$WORK/src/elec2.cfg" <<EOF
cleaning = {
  dedup_window = 1000;
  event_time = "date";
  event_time_unit = "s";
  allowed_lateness = 0;
  on_late = "reject";
};
labels = {
  topic = "riffle.elec2.labels";
  ttl = $TTL_S.0;
  max_pending = 1000;
};
EOF
cfg=$(make_config "$WORK/src/elec2.cfg")
topic() { cfg_topic "$cfg" "$1"; }
labels_topic=$(labels_topic_of "$cfg")
run_riffle topics create -c "$cfg" >/dev/null

# events.csv: rows 1-300 without their label, row LATE_ROW dated back to
# the first day (behind the watermark); dup.csv: row 1 again, which
# produce numbers 1 as well. labels.csv: the labels of rows 1-250 but the
# late one, shuffled, then one of an event that never comes, then one
# stamped past the TTL whose time gives the unknown one up.
python3 - "$WORK" "$TTL_S" "$LATE_ROW" "$RAW_PREFIX" <<'PY'
import gzip, random, sys, time
work, ttl_s, late_row, prefix = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
lines = gzip.open("data/elec2/electricity.csv.gz", "rt").read().splitlines()
header, rows = lines[0], lines[1:301]
cols = header.split(",")
label_col, date_col = cols.index("class"), cols.index("date")
truth = {i + 1: r.split(",")[label_col] for i, r in enumerate(rows)}
def unlabel(r, i):
    f = r.split(","); f[label_col] = ""
    if i == late_row:
        f[date_col] = "0"
    return ",".join(f)
with open(f"{work}/events.csv", "w") as out:
    out.write(header + "\n")
    for i, r in enumerate(rows, 1):
        out.write(unlabel(r, i) + "\n")
with open(f"{work}/dup.csv", "w") as out:
    out.write(header + "\n" + unlabel(rows[0], 1) + "\n")
joined = [i for i in range(1, 251) if i != late_row]
random.Random(6).shuffle(joined)
late_ms = int(time.time() * 1000) + (ttl_s + 600) * 1000
labels = [f"{prefix}-{i},{truth[i]}" for i in joined]
labels.append(f"{prefix}-9999,UP")
labels.append(f"{prefix}-9998,UP,{late_ms}")
open(f"{work}/labels.csv", "w").write("\n".join(labels) + "\n")
open(f"{work}/ids.txt", "w").write("".join(f"{prefix}-{i}\n" for i in range(1, 301)))
PY

learn_until_idle()
{
    RIFFLE_LOG_LEVEL=debug run_riffle learn -c "$cfg" --idle-exit 2 \
        >"$WORK/learn$1.json" 2>"$WORK/out-learn$1.log" ||
        fail "learn $1 failed: $(grep -m3 error "$WORK/out-learn$1.log")"
}

produce_quietly "$cfg" --file "$WORK/events.csv" --without-labels
produce_quietly "$cfg" --file "$WORK/dup.csv" --without-labels
learn_until_idle 1
assert_eq "$(riffle_json "$WORK/learn1.json" 'rows[0]["labels"]["pending"]')" 299 \
    "events waiting for their label (300, less the late one)"
assert_eq "$(riffle_json "$WORK/learn1.json" '(rows[0]["duplicates"], rows[0]["dead_letters"])')" \
    "(1, 1)" "(duplicates, dead letters) of the events: row 1 twice, the late one"
produce_quietly "$cfg" --labels "$WORK/labels.csv"
learn_until_idle 2
note "last run: $(cat "$WORK/learn2.json")"

summary=$WORK/learn2.json
expect_label()
{
    assert_eq "$(riffle_json "$summary" "rows[0]['labels']['$1']")" "$2" "labels: $1"
}
expect_label joined 249
expect_label unknown 1
expect_label waiting 1
assert_eq "$(riffle_json "$summary" 'rows[0]["model_version"]')" 249 \
    "updates: one per joined label"

# The pseudonyms, as a consumer holding the key computes them.
"$RIFFLE" pseudonym -c "$cfg" <"$WORK/ids.txt" >"$WORK/pseudonyms.txt" 2>/dev/null ||
    fail "riffle pseudonym failed"
assert_eq "$(wc -l <"$WORK/pseudonyms.txt")" 300 "pseudonyms computed"
assert_eq "$("$RIFFLE" pseudonym -c "$cfg" "$RAW_PREFIX-$LATE_ROW" 2>/dev/null)" \
    "$(sed -n "${LATE_ROW}p" "$WORK/pseudonyms.txt")" "a pseudonym from the arguments"

# riffle serve: requests from Kafka (produce --requests keys them by the
# raw id) and over HTTP (the raw id in the body) are answered under the
# pseudonym.
serve_topic() { sed -n '/^serve = {/,/^};/p' "$cfg" | sed -n "s/^ *$1 = \"\([^\"]*\)\".*/\1/p"; }
sed -i "s/http_port = 0;/http_port = $HTTP_PORT;/" "$cfg"
grep -q "http_port = $HTTP_PORT" "$cfg" || fail "could not set the HTTP port"
RIFFLE_LOG_LEVEL=debug "$RIFFLE" serve -c "$cfg" --brokers "$BROKERS" >"$WORK/serve.json" \
    2>"$WORK/out-serve.log" &
server=$!
produce_quietly "$cfg" --requests --file "$WORK/events.csv" --limit "$REQUESTS"
python3 - "$HTTP_PORT" "$WORK" "$RAW_PREFIX" <<'PY'
import http.client, json, sys, time
port, work, prefix = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def request(method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(method, path, body=body, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data
deadline = time.time() + 60
while True:
    try:
        if request("GET", "/healthz")[0] == 200:
            break
    except OSError:
        pass
    if time.time() > deadline:
        sys.exit("FAIL: serve's HTTP endpoint never served the model")
    time.sleep(0.2)
body = {"event_id": f"{prefix}-5000", "date": 0.5, "day": 3, "period": 0.25,
        "nswprice": 0.1, "nswdemand": 0.4, "vicprice": 0.003, "vicdemand": 0.42,
        "transfer": 0.41}
status, data = request("POST", "/v1/predict", json.dumps(body))
if status != 200:
    sys.exit(f"FAIL: /v1/predict answered {status}: {data[:200]!r}")
open(f"{work}/out-serve-http.json", "wb").write(data)
PY
served_topic=$(serve_topic predictions)
served_all() { (($(topic_end "$served_topic" 2) >= REQUESTS)); }
WAIT_S=60 wait_until "serve's answers to $REQUESTS requests" served_all
kill -TERM "$server" && wait "$server" || fail "serve did not stop cleanly"
server=
kcat -b "$BROKERS" -C -t "$served_topic" -o beginning -e -q \
    -f 'key=%k headers=%h value=%s\n' >"$WORK/out-served.raw" 2>/dev/null
"$RIFFLE" pseudonym -c "$cfg" "$RAW_PREFIX-5000" >"$WORK/http-pseudonym.txt" 2>/dev/null
assert_eq "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["event_id"])' \
    "$WORK/out-serve-http.json")" "$(cat "$WORK/http-pseudonym.txt")" \
    "serve's HTTP answer names the pseudonym"
assert_eq "$(python3 - "$WORK" "$REQUESTS" <<'PY'
import sys
work, n = sys.argv[1], int(sys.argv[2])
served = open(f"{work}/out-served.raw", "rb").read()
pseudonyms = open(f"{work}/pseudonyms.txt").read().split()[:n]
print(sum(p.encode() in served for p in pseudonyms))
PY
)" "$REQUESTS" "served predictions named by the requests' pseudonyms"

dump_outputs "$cfg"
for t in predictions dead-letters models metrics alerts; do
    run_riffle watch -c "$cfg" "$t" --idle-exit 2 >"$WORK/out-$t.jsonl" 2>/dev/null
done
dump_topic "$(topic input)" "$WORK/input.raw"
dump_topic "$labels_topic" "$WORK/labels.raw"

(($(wc -c <"$WORK/out-models.raw") >= 1000)) || fail "no snapshot to scan"
# The scan finds the raw ids where they are: the input and labels topics.
scan_raw_ids "$RAW_PREFIX" 15 "$WORK/input.raw" 250 "$WORK/labels.raw" 250

python3 - "$WORK" "$RAW_PREFIX" "$LATE_ROW" <<'PY'
import json, sys
work, late_row = sys.argv[1], int(sys.argv[3])
pseudonyms = open(f"{work}/pseudonyms.txt").read().split()
def fail(why):
    sys.exit(f"FAIL: {why}")

# One prediction per event but the late one, named by its pseudonym.
pred = [json.loads(l) for l in open(f"{work}/out-predictions.jsonl")]
expected = sorted(p for i, p in enumerate(pseudonyms, 1) if i != late_row)
if sorted(r["event_id"] for r in pred) != expected:
    fail(f"prediction ids are not the events' pseudonyms, each once "
         f"({len(pred)} predictions)")

# Dead letters: the late event under its pseudonym; the unknown label
# keyed by a pseudonym, its raw key sealed.
dlq = [json.loads(l) for l in open(f"{work}/out-dead-letters.jsonl")]
reasons = sorted(r["reason"] for r in dlq)
if reasons != ["label_unknown", "late_event"]:
    fail(f"dead letters: {reasons}")
late = [r for r in dlq if r["reason"] == "late_event"][0]
if late["event_id"] != pseudonyms[late_row - 1]:
    fail(f"the late event's dead letter names {late['event_id']}")
raw = open(f"{work}/out-dead_letters.raw", "rb").read().decode("latin-1").splitlines()
sealed = [l for l in raw if "riffle.key.sealed=" in l]
if len(sealed) != 2:
    fail(f"{len(sealed)} of the dead letters seal their raw key")
print(f"  {len(pred)} predictions under pseudonyms; dead letters {reasons}, keys sealed")
PY
# learn --instance checks that a waiting event's message is keyed by its
# id: with the id pseudonymized, the raw key's pseudonym must be the
# event's. On topics of their own, 20 events wait and their labels join.
icfg=$(make_config "$WORK/src/elec2.cfg")
run_riffle topics create -c "$icfg" >/dev/null
head -21 "$WORK/events.csv" >"$WORK/events20.csv"
python3 - "$WORK" "$RAW_PREFIX" <<'PY'
import sys
work, prefix = sys.argv[1], sys.argv[2]
truth = dict(l.strip().split(",")[:2] for l in open(f"{work}/labels.csv") if l.count(",") == 1)
open(f"{work}/labels20.csv", "w").write(
    "".join(f"{prefix}-{i},{truth[f'{prefix}-{i}']}\n" for i in range(1, 21)))
PY
produce_quietly "$icfg" --file "$WORK/events20.csv" --without-labels
produce_quietly "$icfg" --labels "$WORK/labels20.csv"
RIFFLE_LOG_LEVEL=debug run_riffle learn -c "$icfg" --instance solo --idle-exit 3 \
    >"$WORK/instance.json" 2>"$WORK/instance.log" ||
    fail "learn --instance failed: $(grep -m3 error "$WORK/instance.log")"
assert_eq "$(riffle_json "$WORK/instance.json" \
    '(rows[0]["labels"]["joined"], rows[0]["dead_letters"])')" "(20, 0)" \
    "learn --instance: (labels joined, dead letters) of 20 events keyed by their raw id"
grep -q "$RAW_PREFIX" "$WORK/instance.log" && fail "a raw id in learn --instance's log"
echo "PASS $TEST_NAME"
