# tests/integration/lib.sh - shared helpers for the integration tests.
#
# Each test runs against the real broker that scripts/test started
# (RIFFLE_BROKERS), from the repo root, with its own topics: make_config
# copies a bundled configuration with every topic and the group renamed
# under a unique prefix, so tests never see each other's messages.
# Sourced, not run.

set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RIFFLE=${RIFFLE_BIN:-$REPO_ROOT/build/riffle}
BROKERS=${RIFFLE_BROKERS:-127.0.0.1:19092}
TEST_NAME=$(basename "$0" .sh)
WORK=$(mktemp -d "/tmp/riffle-$TEST_NAME.XXXXXX")
export RIFFLE_LOG_LEVEL=${RIFFLE_LOG_LEVEL:-info}
cd "$REPO_ROOT"

cleanup_work() { rm -rf "$WORK"; }
trap cleanup_work EXIT

fail() { echo "FAIL $TEST_NAME: $*" >&2; exit 1; }
note() { echo "  $TEST_NAME: $*"; }

# assert_eq ACTUAL EXPECTED WHAT
assert_eq()
{
    [[ "$1" == "$2" ]] || fail "$3: got '$1', expected '$2'"
}

# make_config BASE_CFG -> path of a copy with unique topics and group
make_config()
{
    local base=$1 prefix out
    prefix="t$(date +%s%N | tail -c 9)-$RANDOM"
    out=$WORK/$(basename "$base")
    sed -e "s/\"riffle\./\"$prefix./g" \
        -e "s/group_id = \"[^\"]*\"/group_id = \"$prefix-group\"/" \
        "$base" >"$out"
    echo "$out"
}

# make_config_with BASE_CFG TEXT -> like make_config, with TEXT (more
# settings, such as a labels group) appended to the copy first
make_config_with()
{
    local src=$WORK/src/$(basename "$1")
    mkdir -p "$WORK/src"
    cp "$1" "$src"
    printf '%s\n' "$2" >>"$src"
    make_config "$src"
}

# riffle_json FILE EXPR -> evaluates a Python expression over the JSON
# lines in FILE, bound to `rows`.
riffle_json()
{
    python3 - "$1" "$2" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
print(eval(sys.argv[2]))
PY
}

# output_schemas: $WORK/schemas holding riffle's output schemas, for a
# test that writes its own input schema beside them
output_schemas()
{
    mkdir -p "$WORK/schemas"
    cp schemas/prediction.avsc schemas/dead_letter.avsc schemas/model_snapshot.avsc \
        schemas/metrics.avsc schemas/alert.avsc "$WORK/schemas/"
}

run_riffle() { "$RIFFLE" "$@" --brokers "$BROKERS"; }

# cfg_topic CFG KEY -> the topic a configuration names under topics.KEY
# The topic named KEY in the config's `topics` group (other groups, such as
# `serve`, have keys of the same name).
cfg_topic()
{
    sed -n '/^topics = {/,/^};/p' "$1" | sed -n "s/^ *$2 = \"\([^\"]*\)\".*/\1/p"
}

# assert_ids_once PRED WHAT: the predictions in PRED (JSON lines) are of
# events 1..N, each once
assert_ids_once()
{
    assert_eq "$(riffle_json "$1" '(sorted(int(r["event_id"].split("-")[1]) for r in rows)
        == list(range(1, len(rows) + 1)))')" True "$2"
}

# assert_versions_once PRED WHAT: the predictions in PRED were made by
# model versions 0..N-1, each once: one update per event, none repeated
assert_versions_once()
{
    assert_eq "$(riffle_json "$1" \
        'sorted(r["model_version"] for r in rows) == list(range(len(rows)))')" True "$2"
}

# assert_same_weights SUMMARY WHAT: the weights in SUMMARY are, bit for
# bit, those of the riffle train summary in $WORK/train.json
assert_same_weights()
{
    assert_eq "$(riffle_json "$1" 'rows[0]["weights_digest"]')" \
        "$(riffle_json "$WORK/train.json" 'rows[0]["weights_digest"]')" "$2"
}

# topic_end TOPIC PARTITIONS: the end offsets of TOPIC's partitions
# 0..PARTITIONS-1, summed; aborted records and transaction markers count,
# but not the records of a transaction still open (kcat's query reads as
# read_committed, librdkafka's default: the last stable offsets)
topic_end()
{
    local args=() p

    for ((p = 0; p < $2; p++)); do
        args+=(-t "$1:$p:-1")
    done
    kcat -b "$BROKERS" -Q "${args[@]}" 2>/dev/null |
        sed -n 's/.*\] offset \([0-9]*\).*/\1/p' | awk '{s += $1} END {print s + 0}'
}

# --- processes a test starts in the background ------------------------

# A test appends the pid of each process it starts (`started+=($!)`, the
# riffle process itself, not a subshell, so that it gets the signal) and
# traps `stop_started; cleanup_work` on EXIT. stop_started asks each to
# stop (SIGTERM: a graceful exit) and waits for it.
started=()
stop_started()
{
    local pid
    for pid in "${started[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${started[@]}"; do wait "$pid" 2>/dev/null || true; done
    started=()
}

# wait_for PATTERN COUNT FILE...: until PATTERN occurs COUNT times in the
# FILEs together; fails after WAIT_S seconds (120 unless the test sets
# it), so that a hang fails instead of blocking the suite.
wait_for()
{
    local pattern=$1 count=$2 waited=0
    shift 2
    while (($(cat "$@" 2>/dev/null | grep -c -- "$pattern") < count)); do
        ((waited++ < ${WAIT_S:-120} * 5)) || fail "timed out waiting for '$pattern' in $*"
        sleep 0.2
    done
}

# wait_until WHAT CMD...: runs CMD every 0.2 s until it succeeds; fails,
# naming WHAT, after WAIT_S seconds (120 unless the test sets it).
wait_until()
{
    local what=$1 k
    shift
    for ((k = 0; k < ${WAIT_S:-120} * 5; k++)); do
        "$@" && return 0
        sleep 0.2
    done
    fail "$what did not happen within ${WAIT_S:-120}s"
}

# kill_hard PID WHAT: SIGKILL to PID, a process this test started, and
# checks that it died of it (exit status 137).
kill_hard()
{
    local rc=0
    kill -KILL "$1"
    wait "$1" 2>/dev/null || rc=$?
    assert_eq "$rc" 137 "exit status of $2 (killed by SIGKILL)"
}

# start_learner CFG INSTANCE NAME IDLE_S: `riffle learn --instance
# INSTANCE` in the background, exiting IDLE_S seconds after catching up
# (its summary in $WORK/NAME.json, its log in $WORK/NAME.log). Its pid,
# riffle's own so that signals reach it, is added to `started` and left
# in $last.
start_learner()
{
    "$RIFFLE" learn -c "$1" --brokers "$BROKERS" --instance "$2" --idle-exit "$4" \
        >"$WORK/$3.json" 2>"$WORK/$3.log" &
    last=$!
    started+=("$last")
}

# topic_reader_end TOPIC PARTITIONS ISOLATION: the end offsets of TOPIC's
# partitions 0..PARTITIONS-1, summed, as a reader with ISOLATION sees
# them: read_uncommitted, the high watermarks; read_committed, the last
# stable offsets, short of them by the records of every transaction still
# open. Only while no one writes TOPIC: the reader stops at the end it
# catches up with.
topic_reader_end()
{
    local ends
    ends=$(kcat -b "$BROKERS" -C -t "$1" -X "isolation.level=$3" -o end -e \
        2>&1 >/dev/null | sed -n 's/.*Reached end of topic .* at offset \([0-9]*\).*/\1/p')
    (($(grep -c . <<<"$ends") == $2)) || fail "no end for each of $2 partitions of $1"
    awk '{s += $1} END {print s + 0}' <<<"$ends"
}

# committed_records TOPIC: how many records of TOPIC a read_committed
# reader sees
committed_records()
{
    kcat -b "$BROKERS" -C -t "$1" -X isolation.level=read_committed -o beginning -e -q \
        -f '.\n' 2>/dev/null | wc -l
}

# pause_until_aborted PID TOPIC PARTITIONS PRODUCER WAIT_S: stops PID, a
# transactional riffle process this test started that writes TOPIC, and
# PRODUCER, the process that feeds it, until the broker aborts the
# transaction PID left open (its timeout passed); then resumes both.
# Nothing here rests on timing:
# - the producer stands still while PID does, so however slowly PID is
#   resumed, its stream cannot end before the abort has been seen;
# - a transaction is open when TOPIC's last stable offset is short of
#   its high watermark; a pause that finds none (it fell between a
#   commit and the next record) lets both go on until PID commits again,
#   and stops it once more;
# - a move of the last stable offset is an abort only if it made no more
#   records committed: a commit already on the wire when PID stopped may
#   land after, and the pause is then tried again.
# WAIT_S bounds the wait for the broker's abort, 120 s each other wait.
pause_until_aborted()
{
    local pid=$1 topic=$2 parts=$3 producer=$4 wait_s=$5 try end stable committed

    # topic_end: the last stable offsets, cheaply, while PID writes
    moved_past() { (($(topic_end "$topic" "$parts") > $1)); }
    for ((try = 1; try <= 10; try++)); do
        kill -STOP "$pid" 2>/dev/null || fail "process $pid ended before the pause"
        kill -STOP "$producer" 2>/dev/null || fail "producer $producer ended before the pause"
        sleep 1 # requests already on the wire land
        # in this order, so that a commit landing meanwhile is never
        # taken for an abort
        committed=$(committed_records "$topic")
        end=$(topic_reader_end "$topic" "$parts" read_uncommitted)
        stable=$(topic_reader_end "$topic" "$parts" read_committed)
        if ((stable < end)); then
            note "process $pid stopped in a transaction ($topic: stable $stable, end $end)"
            WAIT_S=$wait_s wait_until "the broker's abort of process $pid's transaction" \
                moved_past "$stable"
            if (($(committed_records "$topic") == committed)); then
                note "the broker aborted the open transaction; resuming"
                kill -CONT "$producer" "$pid"
                return 0
            fi
            note "the transaction was committed (its commit was on the wire); pausing again"
        else
            note "process $pid stopped with no transaction open; pausing again"
        fi
        stable=$(topic_end "$topic" "$parts")
        kill -CONT "$producer" "$pid"
        wait_until "a commit of process $pid on $topic" moved_past "$stable"
    done
    fail "process $pid was never stopped in a transaction in $((try - 1)) pauses"
}

# labels_two_batches EVENTS SEED: the first EVENTS Elec2 rows without
# their labels, in two batches in $WORK (events-one.csv with ids elec2-1..,
# events-two.csv with second-1.., for a config whose id_prefix is
# "second"), and each batch's labels (labels-one.csv, labels-two.csv):
# shuffled by SEED, 20 of them twice, 30 events of each never labelled
labels_two_batches()
{
    python3 - "$WORK" "$1" "$2" <<'PY'
import gzip, random, sys
work, events, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lines = gzip.open("data/elec2/electricity.csv.gz", "rt").read().splitlines()
header, rows = lines[0], lines[1:events + 1]
col = header.split(",").index("class")
rng = random.Random(seed)
half = events // 2
for name, prefix, part in (("one", "elec2", rows[:half]), ("two", "second", rows[half:])):
    with open(f"{work}/events-{name}.csv", "w") as out:
        out.write(header + "\n")
        for r in part:
            f = r.split(","); f[col] = ""; out.write(",".join(f) + "\n")
    labelled = sorted(rng.sample(range(1, half + 1), half - 30))
    labels = [f"{prefix}-{i},{part[i - 1].split(',')[col]}" for i in labelled]
    rng.shuffle(labels)
    labels += rng.sample(labels, 20)
    open(f"{work}/labels-{name}.csv", "w").write("\n".join(labels) + "\n")
PY
}

# produce_at_rate CFG NAME ARGS...: riffle produce -c CFG ARGS at $RATE,
# its log in $WORK/NAME.log; fails the test if it fails
produce_at_rate()
{
    local c=$1 name=$2

    shift 2
    run_riffle produce -c "$c" --rate "$RATE" --no-progress "$@" >/dev/null \
        2>"$WORK/$name.log" || fail "produce $name failed: $(tail -3 "$WORK/$name.log")"
}

# assert_labels_balance CFG EVENTS LABELS SUMMARY...: CFG's predictions
# topic holds EVENTS predictions, one per event, and the summed delayed-
# label counts of the learners' SUMMARY files account for every one of
# the LABELS labels and EVENTS events, each model update a joined label
assert_labels_balance()
{
    local cfg=$1 events=$2 labels=$3 l='rows[0]["labels"]'

    shift 3
    run_riffle watch -c "$cfg" predictions --idle-exit 3 >"$WORK/pred.jsonl" 2>/dev/null
    assert_eq "$(riffle_json "$WORK/pred.jsonl" 'len(rows), len({r["event_id"] for r in rows})')" \
        "($events, $events)" "predictions, distinct events predicted"
    assert_eq "$(riffle_json_sum 'rows[0]["learned"]' "$@")" \
        "$(riffle_json_sum "$l[\"joined\"]" "$@")" "model updates: one per joined label"
    assert_eq "$(riffle_json_sum "($l['joined'] + $l['duplicate'] + $l['waiting']
        + $l['unknown'] + $l['expired'])" "$@")" \
        "$labels" "labels = joined + duplicate + waiting + unknown + expired"
    assert_eq "$(riffle_json_sum \
        "$l['joined'] + $l['pending'] + $l['events_expired'] + $l['events_evicted']" "$@")" \
        "$events" "events = learned + waiting + expired"
}

# assert_learned_once_by_two CFG EVENTS: learners a and b (summaries
# $WORK/a.json, $WORK/b.json) learned the EVENTS events between them,
# none twice, and CFG's predictions topic holds EVENTS committed
# predictions (left in $WORK/pred.jsonl)
assert_learned_once_by_two()
{
    local learned

    learned=$(( $(riffle_json "$WORK/a.json" 'rows[0]["learned"]') +
                $(riffle_json "$WORK/b.json" 'rows[0]["learned"]') ))
    assert_eq "$learned" "$2" "events learned by a and b together"
    assert_eq "$(riffle_json "$WORK/a.json" 'rows[0]["replayed"]')" 0 "events a relearned"
    assert_eq "$(riffle_json "$WORK/b.json" 'rows[0]["replayed"]')" 0 "events b relearned"
    run_riffle watch -c "$1" predictions --idle-exit 3 >"$WORK/pred.jsonl" 2>/dev/null
    assert_eq "$(wc -l <"$WORK/pred.jsonl")" "$2" "committed predictions"
}

# predicted CFG N: whether CFG's predictions topic holds N or more
predicted()
{
    (($(run_riffle watch -c "$1" predictions --idle-exit 1 2>/dev/null | wc -l) >= $2))
}

# riffle_json_sum EXPR FILE...: the sum of EXPR (see riffle_json) over
# the FILEs, as for the summaries of several learner instances
riffle_json_sum()
{
    local expr=$1 f sum=0
    shift
    for f in "$@"; do sum=$((sum + $(riffle_json "$f" "$expr"))); done
    echo "$sum"
}

# --- delayed-label tests ----------------------------------------------

# labels_config PARTITIONS [SETTINGS] -> like make_config for the Elec2
# pipeline, with delayed labels (its labels topic, a TTL of a day, and
# SETTINGS, more lines of the labels group) and PARTITIONS partitions
# for each topic
labels_config()
{
    local out
    out=$(make_config_with config/elec2.cfg "labels = {
  topic = \"riffle.elec2.labels\";
  ttl = 86400.0;${2:+
$2}
};")
    sed -i "s/^  partitions = 1;/  partitions = $1;/" "$out"
    grep -q "^  partitions = $1;" "$out" || fail "could not set $1 partitions in $out"
    echo "$out"
}

# labels_moves_run CFG EVENTS PARTITIONS: the run of the delayed-label
# moves tests. Creates CFG's topics (PARTITIONS each); learner a starts
# alone, reads the first half of EVENTS unlabelled Elec2 events and 200
# of their labels (labels_two_batches, seed 8080); then b joins while
# events wait in every partition of a, and the second batch and the rest
# of the labels follow. Returns when both learners have exited (each 15 s
# after catching up; summaries $WORK/a.json, $WORK/b.json, logs
# $WORK/a.log, $WORK/b.log), the count of labels sent in labels_total.
labels_moves_run()
{
    local cfg=$1 events=$2 partitions=$3 learner_a learner_b

    run_riffle topics create -c "$cfg" >/dev/null
    sed 's/id_prefix = "elec2"/id_prefix = "second"/' "$cfg" >"$WORK/second.cfg"

    labels_two_batches "$events" 8080
    labels_total=$(cat "$WORK"/labels-*.csv | wc -l)

    start_learner "$cfg" a a 15
    learner_a=$last
    wait_for "assigned, starting" $((2 * partitions)) "$WORK/a.log"
    produce_at_rate "$cfg" events-one --file "$WORK/events-one.csv" --without-labels
    head -n 200 "$WORK/labels-one.csv" >"$WORK/labels-one-early.csv"
    tail -n +201 "$WORK/labels-one.csv" >"$WORK/labels-one-late.csv"
    produce_at_rate "$cfg" labels-one --labels "$WORK/labels-one-early.csv"
    wait_until "a's first predictions" predicted "$cfg" $((events / 2))

    # b joins while events wait in every partition of a: half move at once.
    start_learner "$cfg" b b 15
    learner_b=$last
    wait_for "assigned, starting" "$partitions" "$WORK/b.log"
    produce_at_rate "$WORK/second.cfg" events-two --file "$WORK/events-two.csv" \
        --without-labels
    produce_at_rate "$cfg" labels-one-late --labels "$WORK/labels-one-late.csv"
    produce_at_rate "$cfg" labels-two --labels "$WORK/labels-two.csv"
    wait "$learner_a" || fail "learner a failed: $(grep -m3 error "$WORK/a.log")"
    wait "$learner_b" || fail "learner b failed: $(grep -m3 error "$WORK/b.log")"
    note "a: $(cut -c1-200 "$WORK/a.json")"
    note "b: $(cut -c1-200 "$WORK/b.json")"
}

# --- enrichment join tests --------------------------------------------

# join_schemas: the output schemas, and the click and profile schemas of
# tests/fixtures as $WORK/schemas/clicks.avsc and profile.avsc
join_schemas()
{
    output_schemas
    cp tests/fixtures/user_clicks.avsc "$WORK/schemas/clicks.avsc"
    cp tests/fixtures/user_profile.avsc "$WORK/schemas/profile.avsc"
}

# join_rounds: three rounds of data in $WORK for r = 1, 2, 3:
# clicks<r>.csv, 200 clicks c<r>-<i> of the users u0..u9, and
# profiles<r>.csv, the profiles of the same users in version r (region
# "v<r>-u<user>")
join_rounds()
{
    python3 - "$WORK" <<'PY'
import sys
w = sys.argv[1]
for r in (1, 2, 3):
    with open(f"{w}/clicks{r}.csv", "w") as f:
        f.write("event_id,user,x,clicked\n")
        for i in range(200):
            f.write(f"c{r}-{i},u{i % 10},{(i * 37 % 100) / 100},{'yes' if i % 2 else 'no'}\n")
    with open(f"{w}/profiles{r}.csv", "w") as f:
        f.write("event_id,user_id,region\n")
        for u in range(10):
            f.write(f"p{r}-{u},u{u},v{r}-u{u}\n")
PY
}

# join_clicks_settings JOIN_TOPIC: the settings the join tests' click
# learners share, for the rest of a configuration: clicks.avsc with the
# id prefix "web", the clicks' fields with the joined region, the model
# "clicks", and the join of each click by user with the profiles of
# JOIN_TOPIC
join_clicks_settings()
{
    cat <<CFG
source = { schema = "$WORK/schemas/clicks.avsc"; id_prefix = "web"; };
fields = (
  { name = "event_id"; kind = "id"; },
  { name = "user"; kind = "ignore"; },
  { name = "x"; kind = "numeric"; },
  { name = "region"; kind = "categorical"; },
  { name = "clicked"; kind = "label"; positive = ["yes"]; negative = ["no"]; }
);
learner = { model_name = "clicks"; bits = 12; };
join = { topic = "$1"; schema = "$WORK/schemas/profile.avsc";
         key = "user"; profile_key = "user_id"; map = ( ["region", "region"] );
         window = 3600; max_keys = 1000; };
CFG
}

# producer_cfg NAME SCHEMA TOPIC LABEL: $WORK/NAME.cfg, a configuration
# only for producing $WORK/schemas/SCHEMA records to TOPIC (produce needs
# an id and a label kind, LABEL; no learner reads it)
producer_cfg()
{
    cat >"$WORK/$1.cfg" <<CFG
name = "$1";
topics = { input = "$3"; predictions = "unused"; dead_letters = "unused";
           models = "unused"; };
source = { schema = "$WORK/schemas/$2"; id_prefix = "$1"; };
fields = ( { name = "event_id"; kind = "id"; },
           { name = "$4"; kind = "label"; positive = ["yes"]; } );
learner = { model_name = "unused"; };
CFG
}

# produce_file NAME FILE [ARGS...]: riffle produce -c $WORK/NAME.cfg of
# $WORK/FILE with ARGS, its log in $WORK/produce-FILE.log; fails the test
# if it fails
produce_file()
{
    run_riffle produce -c "$WORK/$1.cfg" --file "$WORK/$2" --no-progress "${@:3}" >/dev/null \
        2>"$WORK/produce-$2.log" || fail "produce $2 failed: $(tail -3 "$WORK/produce-$2.log")"
}

# join_keyless_record TOPIC: $WORK/keyless.bin, a profile that decodes
# but whose key (user_id) is empty, in single-object encoding with the
# header (the schema's fingerprint) of the first profile riffle produced
# to TOPIC
join_keyless_record()
{
    kcat -b "$BROKERS" -C -t "$1" -o beginning -c 1 -e -q -f '%s' \
        >"$WORK/profile.bin" || fail "cannot read a profile back"
    python3 - "$WORK" <<'PY'
import sys
w = sys.argv[1]
header = open(f"{w}/profile.bin", "rb").read()[:10]
assert header[:2] == b"\xc3\x01", header
def avro_string(s):
    b = s.encode(); return bytes([len(b) << 1]) + b  # zigzag, short strings
body = avro_string("keyless") + avro_string("") + avro_string("nowhere")
open(f"{w}/keyless.bin", "wb").write(header + body)
PY
}

# clicks_predicted N: at least N distinct clicks have a committed
# prediction on the predictions topic of $WORK/clicks.cfg (at least once
# may publish some twice)
clicks_predicted()
{
    run_riffle watch -c "$WORK/clicks.cfg" predictions --idle-exit 1 >"$WORK/seen.jsonl" \
        2>/dev/null
    (($(riffle_json "$WORK/seen.jsonl" 'len({r["event_id"] for r in rows})') >= $1))
}

# --- riffle serve tests -----------------------------------------------

# serve_model CFG EVENTS LOG: creates CFG's topics (serve's included) and
# publishes a model learned from the first EVENTS events of its data set,
# for replicas to load; the learner's log goes to LOG.
serve_model()
{
    run_riffle topics create -c "$1" >/dev/null
    run_riffle produce -c "$1" --limit "$2" --no-progress >/dev/null 2>&1
    run_riffle learn -c "$1" --idle-exit 2 >/dev/null 2>"$3"
}

# start_replica CFG NAME LOG: a `riffle serve` replica named NAME in the
# background (its summary appended to $WORK/NAME.json, its log to LOG),
# added to `started` only by the caller: its pid is left in $last.
start_replica()
{
    "$RIFFLE" serve -c "$1" --brokers "$BROKERS" --instance "$2" \
        >>"$WORK/$2.json" 2>>"$3" &
    last=$!
}

# serve_through_kills CFG KILLS MAX_REQUESTS: replicas steady and crashy
# answer a stream of up to MAX_REQUESTS requests at 400/s while crashy is
# killed with SIGKILL KILLS times, each time after 150 more answers, and
# restarted under its name (logs $WORK/steady.log, $WORK/crashy-K.log).
# Both end in `started`; sets requests to how many were sent, and fails
# when the stream ended before the kills did.
serve_through_kills()
{
    local cfg=$1 kills=$2 max=$3 victim producer seen=0 k

    start_replica "$cfg" steady "$WORK/steady.log"
    started+=("$last")
    start_replica "$cfg" crashy "$WORK/crashy-0.log"
    victim=$last
    wait_for "partition(s) of .* assigned" 2 "$WORK"/steady.log "$WORK"/crashy-0.log

    "$RIFFLE" produce -c "$cfg" --brokers "$BROKERS" --requests \
        --limit "$max" --rate 400 --no-progress >"$WORK/requests.json" \
        2>"$WORK/requests.log" &
    producer=$!
    for ((k = 1; k <= kills; k++)); do
        # let the victim answer some requests, then kill it mid-transaction
        seen=$((seen + 150))
        run_riffle watch -c "$cfg" served --limit "$seen" >/dev/null 2>&1
        kill -KILL "$victim"
        wait "$victim" 2>/dev/null || true
        start_replica "$cfg" crashy "$WORK/crashy-$k.log"
        victim=$last
        wait_for "partition(s) of .* assigned" 1 "$WORK/crashy-$k.log"
    done
    started+=("$victim")
    seen=$((seen + 150))
    run_riffle watch -c "$cfg" served --limit "$seen" >/dev/null 2>&1
    kill -TERM "$producer" 2>/dev/null || true
    wait "$producer" || fail "producing requests failed: $(tail -3 "$WORK/requests.log")"
    requests=$(riffle_json "$WORK/requests.json" 'rows[-1]["produced"]')
    ((requests < max)) || fail "the request stream ended before the kills"
}

# --- chunked snapshots ------------------------------------------------

# chunked_snapshots FIRST_RUN: an Elec2 pipeline whose snapshots go out
# in 1 KiB chunks: its topics, the whole data set produced, the summary
# of an uninterrupted run in $WORK/train.json, and a learner stopped after
# FIRST_RUN events ($WORK/learn1.json and .log). Sets cfg and models, and
# for the newest snapshot on the model topic id, count (its chunks) and
# bytes, with chunk i's value in $WORK/chunk<i>; $WORK/models.tsv holds
# the offset, key and headers of every message of the model topic.
chunked_snapshots()
{
    local i offset last_line
    cfg=$(make_config config/elec2.cfg)
    sed -i 's/^  every_events = 10000;/  every_events = 10000;\n  chunk_bytes = 1024;/' "$cfg"
    grep -q "chunk_bytes = 1024" "$cfg" || fail "could not set snapshot.chunk_bytes in $cfg"
    models=$(cfg_topic "$cfg" models)

    run_riffle topics create -c "$cfg" >/dev/null
    run_riffle produce -c "$cfg" --no-progress >/dev/null 2>&1
    "$RIFFLE" train -c "$cfg" >"$WORK/train.json"
    run_riffle learn -c "$cfg" --max-events "$1" >"$WORK/learn1.json" 2>"$WORK/learn1.log"

    kcat -b "$BROKERS" -C -t "$models" -o beginning -e -q -f '%o\t%k\t%h\n' >"$WORK/models.tsv"
    last_line=$(tail -1 "$WORK/models.tsv")
    id=$(sed -n 's/.*riffle.snapshot.id=\([^,]*\).*/\1/p' <<<"$last_line")
    count=$(sed -n 's/.*riffle.snapshot.chunks=\([0-9]*\).*/\1/p' <<<"$last_line")
    bytes=$(sed -n 's/.*riffle.snapshot.bytes=\([0-9]*\).*/\1/p' <<<"$last_line")
    [[ -n $id && -n $count && -n $bytes ]] || fail "no chunked snapshot at the end of $models"
    for ((i = 0; i < count; i++)); do
        offset=$(awk -F'\t' -v k="elec2/chunk/$i" -v id="riffle.snapshot.id=$id," \
            '$2 == k && index($3, id) {print $1}' "$WORK/models.tsv")
        kcat -b "$BROKERS" -C -t "$models" -p 0 -o "$offset" -c 1 -e -q -f '%s' \
            >"$WORK/chunk$i"
    done
}

# publish_chunk FILE I ID: FILE as chunk I of snapshot ID of the model
# elec2 on $models, with the headers of chunked_snapshots' snapshot.
publish_chunk()
{
    kcat -b "$BROKERS" -P -t "$models" -k "elec2/chunk/$2" \
        -H "riffle.snapshot.id=$3" -H "riffle.snapshot.chunk=$2" \
        -H "riffle.snapshot.chunks=$count" -H "riffle.snapshot.bytes=$bytes" "$1"
}

# publish_manifest ID TEXT: the manifest of snapshot ID, after its chunks.
publish_manifest()
{
    printf '%s' "$2" >"$WORK/manifest"
    kcat -b "$BROKERS" -P -t "$models" -k elec2 -H "riffle.snapshot.id=$1" \
        -H "riffle.snapshot.chunks=$count" -H "riffle.snapshot.bytes=$bytes" "$WORK/manifest"
}

# --- personal ids -----------------------------------------------------

# pseudonymize_id CFG: marks the Elec2 event id of CFG personal =
# "pseudonym" (in place) and appends the privacy group with the example
# pseudonym and dead-letter keys (key id "ex1")
pseudonymize_id()
{
    local id='{ name = "event_id";  kind = "id";'

    sed -i "s/$id }/$id personal = \"pseudonym\"; }/" "$1"
    grep -q 'kind = "id"; personal = "pseudonym"' "$1" ||
        fail "config/elec2.cfg's id field changed: the test cannot mark it personal"
    cat >>"$1" <<'CFG'
privacy = {
  key_file = "config/secrets/pseudonym.key.example";
  key_id = "ex1";
  dead_letter_key_file = "config/secrets/dead_letter.key.example";
};
CFG
}

# unlabelled_events EVENTS [TTL_S]: the first EVENTS Elec2 rows without
# their label in $WORK/events.csv (ids elec2-1..) and their labels, in
# order, in $WORK/labels.csv; with TTL_S, one more label, of elec2-9999,
# stamped TTL_S + 600 s ahead, whose time gives every waiting label up
unlabelled_events()
{
    python3 - "$WORK" "$1" "${2:-}" <<'PY'
import gzip, sys, time
work, events, ttl = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lines = gzip.open("data/elec2/electricity.csv.gz", "rt").read().splitlines()
header, rows = lines[0], lines[1:events + 1]
col = header.split(",").index("class")
with open(f"{work}/events.csv", "w") as out:
    out.write(header + "\n")
    for r in rows:
        f = r.split(","); f[col] = ""; out.write(",".join(f) + "\n")
labels = [f"elec2-{i},{r.split(',')[col]}" for i, r in enumerate(rows, 1)]
if ttl:
    late_ms = int(time.time() * 1000) + (int(ttl) + 600) * 1000
    labels.append(f"elec2-9999,UP,{late_ms}")
open(f"{work}/labels.csv", "w").write("\n".join(labels) + "\n")
PY
}

# produce_quietly CFG ARGS...: riffle produce -c CFG ARGS (events, or
# labels with --labels), its log appended to $WORK/produce.log; fails the
# test if it fails
produce_quietly()
{
    local c=$1

    shift
    run_riffle produce -c "$c" --no-progress "$@" >/dev/null 2>>"$WORK/produce.log" ||
        fail "produce $* failed: $(tail -3 "$WORK/produce.log")"
}

# dump_outputs CFG: every output topic of CFG (predictions, dead letters,
# models, metrics, alerts), keys, headers and values, in
# $WORK/out-TOPIC.raw for scan_raw_ids
dump_outputs()
{
    local t

    for t in predictions dead_letters models metrics alerts; do
        kcat -b "$BROKERS" -C -t "$(cfg_topic "$1" "$t")" -o beginning -e -q \
            -f 'key=%k headers=%h value=%s\n' >"$WORK/out-$t.raw" 2>/dev/null
    done
}

# labels_topic_of CFG -> the topic of CFG's labels group
labels_topic_of()
{
    sed -n 's/^ *topic = "\([^"]*\.labels\)".*/\1/p' "$1"
}

# dump_topic TOPIC FILE: TOPIC's keys and values, from its start, in FILE
dump_topic()
{
    kcat -b "$BROKERS" -C -t "$1" -o beginning -e -q -f 'key=%k value=%s\n' >"$2" 2>/dev/null
}

# scan_raw_ids PREFIX FILES [REFERENCE MIN]...: fails the test unless
# exactly FILES files match $WORK/out-* (output topics, summaries, debug
# logs) and none holds PREFIX, the start of every raw id; each REFERENCE
# file (an input topic's dump) must hold PREFIX MIN times at least, which
# shows the scan would find the ids where they are
scan_raw_ids()
{
    python3 - "$WORK" "$@" <<'PY'
import glob, sys
work, prefix, count, refs = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3]), sys.argv[4:]
for ref, least in zip(refs[::2], refs[1::2]):
    if open(ref, "rb").read().count(prefix) < int(least):
        sys.exit(f"FAIL: the scan does not find the raw ids even in {ref}")
outputs = {p: open(p, "rb").read() for p in glob.glob(f"{work}/out-*")}
if len(outputs) != count:
    sys.exit(f"FAIL: {len(outputs)} outputs to scan, expected {count}: {sorted(outputs)}")
hits = [p for p, b in outputs.items() if prefix in b]
print(f"  scanned {len(outputs)} outputs ({sum(map(len, outputs.values()))} bytes) "
      f"for raw ids; {len(hits)} hold one")
if hits:
    sys.exit(f"FAIL: raw ids in {hits}")
PY
}
