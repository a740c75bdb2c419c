#!/usr/bin/env bash
#
# Exactly once through a commit that went through unanswered, for
# `learn` and then for `serve`: each reaches the broker only through the
# fault proxy (fault_proxy.py --kafka), armed in the middle of the stream
# to lose the answer of the next transaction commit and cut the network.
# The producer is paused while the proxy is armed, so that a commit with
# events after it follows the arming however far the client has read
# (armed after the client's last commit, the proxy waited for ever).
# The broker has committed the batch; the client does not know. While it
# cannot reach the broker, another producer registers its transactional
# id (kcat, straight to the broker), which fences it; when the network
# comes back its retried commit is refused as fenced, a fatal error, and
# it rebuilds its clients. The batch must then count as committed, which
# the group's committed offsets show (common/txn_outcome.h): the process's
# own counts equal the stream (they used to lag by the batch, which was
# counted as dropped), and the committed outputs are still one per event
# (per request), the learner's weights those of an uninterrupted run.
#
# A private broker is started for this test (the suite's broker port + 20,
# its proxied listener on + 22, the proxy on + 23), as in
# test_network_cut.sh, and stopped at the end. Bounded: 20,000 events at
# 2,000 events/s, then 4,000 requests at 400/s; the network is cut for as
# long as each fencing takes.
source "$(dirname "$0")/lib.sh"

readonly EVENTS=20000
readonly RATE=2000
readonly BATCH_MS=500 # many commits: the armed proxy catches the next
readonly MODEL_EVENTS=2000
readonly REQUESTS=4000
readonly REQUEST_RATE=400
readonly SUITE_PORT=${BROKERS##*:}
readonly PORT=$((SUITE_PORT + 20))
readonly PROXY_PORT=$((SUITE_PORT + 23))
readonly DIRECT=127.0.0.1:$PORT
readonly PROXIED=127.0.0.1:$PROXY_PORT
BROKERS=$DIRECT # topic_end and the checks read the broker directly

broker() { RIFFLE_KAFKA_PORT=$PORT RIFFLE_KAFKA_PROXY_PORT=$PROXY_PORT scripts/kafka "$@"; }
proxy_pid=""
stop_all()
{
    local pid
    for pid in "${started[@]}"; do kill -CONT "$pid" 2>/dev/null || true; done # a paused producer
    stop_started
    [[ -z $proxy_pid ]] || kill "$proxy_pid" 2>/dev/null || true
    broker stop >/dev/null 2>&1 || true
    [[ -n ${KEEP_WORK:-} ]] || cleanup_work
}
trap stop_all EXIT

broker start --fresh >/dev/null || fail "the private broker did not start"
python3 tests/integration/fault_proxy.py "$PROXY_PORT" "$((PORT + 2))" --kafka \
    >"$WORK/proxy.log" 2>&1 &
proxy_pid=$!
wait_for ready 1 "$WORK/proxy.log"

# pause_producer PID TOPIC PARTITIONS N OUTPUT: once N records are on
# TOPIC, stops the producer PID where it is, in the middle of the
# stream; then waits for a committed record on OUTPUT, so that the
# commit lost next is not the client's first (before which the learner
# knows no position to tell a commit by, see test_txn_outcome.c).
pause_producer()
{
    produced() { (($(topic_end "$2" "$3") >= $4)); }
    committed_any()
    {
        [[ -n $(kcat -C -b "$DIRECT" -t "$1" -X isolation.level=read_committed \
            -o beginning -c 1 -e -q -f '%o\n' 2>/dev/null) ]]
    }
    wait_until "$4 records on $2" produced "$@"
    kill -STOP "$1" || fail "the producer ended before $4 records were on $2"
    wait_until "a committed record on $5" committed_any "$5"
}

# lose_commit_answer TXN_ID TOPIC PRODUCER: arms the proxy, then lets
# the paused PRODUCER go on, so that a commit follows however fast the
# client has read what came before; the proxy loses that commit's answer
# and cuts the network. TXN_ID is then registered anew straight at the
# broker, with an empty transaction (nothing is written to TOPIC:
# registering is all it takes); then the network comes back.
lost=0
lose_commit_answer()
{
    kill -HUP "$proxy_pid"
    wait_for "armed" "$((lost + 1))" "$WORK/proxy.log"
    kill -CONT "$3"
    wait_for "lost EndTxn answer" "$((++lost))" "$WORK/proxy.log"
    kcat -P -b "$DIRECT" -t "$2" -X "transactional.id=$1" </dev/null \
        2>"$WORK/fence.log" || fail "kcat could not register $1: $(cat "$WORK/fence.log")"
    kill -USR2 "$proxy_pid"
}

# rebuilt_after_lost_commit PID WHO NAME: process PID (WHO: "learner",
# "replica"; its log and summary $WORK/NAME.log and NAME.json) exits 0,
# having found the commit whose answer was lost committed and rebuilt
# its clients once
rebuilt_after_lost_commit()
{
    local rc=0

    wait "$1" || rc=$?
    started=()
    assert_eq "$rc" 0 "exit status of the $2 ($(grep -m3 error "$WORK/$3.log"))"
    note "$3: $(cat "$WORK/$3.json")"
    grep -q "had committed before the clients failed" "$WORK/$3.log" ||
        fail "the $2 did not find its unanswered commit committed:" \
            "$(grep -m3 -E 'rebuilding|cannot tell' "$WORK/$3.log")"
    assert_eq "$(riffle_json "$WORK/$3.json" 'rows[0]["rebuilds"]')" 1 "client rebuilds"
}

# --- learn ---------------------------------------------------------------

cfg=$(make_config config/elec2.cfg)
printf 'delivery = { batch_ms = %d; };\n' "$BATCH_MS" >>"$cfg"
run_riffle topics create -c "$cfg" >/dev/null
predictions=$(cfg_topic "$cfg" predictions)
group=$(grep -o 'group_id = "[^"]*"' "$cfg" | cut -d'"' -f2)

python3 -c 'import gzip, sys; lines = gzip.open(sys.argv[1], "rt").readlines()
sys.stdout.writelines(lines[:int(sys.argv[2]) + 1])' \
    data/elec2/electricity.csv.gz "$EVENTS" >"$WORK/stream.csv"
"$RIFFLE" train -c "$cfg" --file "$WORK/stream.csv" >"$WORK/train.json"

"$RIFFLE" produce -c "$cfg" --brokers "$BROKERS" --file "$WORK/stream.csv" \
    --rate "$RATE" --no-progress >"$WORK/produce.json" 2>"$WORK/produce.log" &
producer=$!
started+=("$producer")
"$RIFFLE" learn -c "$cfg" --brokers "$PROXIED" --idle-exit 5 \
    >"$WORK/learn.json" 2>"$WORK/learn.log" &
learner=$!
started+=("$learner")

pause_producer "$producer" "$(cfg_topic "$cfg" input)" 1 $((EVENTS / 5)) "$predictions"
lose_commit_answer "$group-learner" "$predictions" "$producer"
note "learn: a commit's answer lost at $(topic_end "$predictions" 1) predictions"

wait "$producer" || fail "produce failed: $(tail -3 "$WORK/produce.log")"
rebuilt_after_lost_commit "$learner" learner learn
assert_eq "$(riffle_json "$WORK/learn.json" 'rows[0]["predicted"]')" "$EVENTS" \
    "predictions the learner counts"
assert_eq "$(riffle_json "$WORK/learn.json" 'rows[0]["processed"] - rows[0]["replayed"]')" \
    "$EVENTS" "new events the learner counts"

run_riffle watch -c "$cfg" predictions --idle-exit 3 >"$WORK/pred.jsonl" 2>/dev/null
assert_eq "$(wc -l <"$WORK/pred.jsonl")" "$EVENTS" "committed predictions"
assert_ids_once "$WORK/pred.jsonl" "every event id exactly once"
assert_versions_once "$WORK/pred.jsonl" "model versions: one update per event, none repeated"
assert_same_weights "$WORK/learn.json" "weights after the rebuild vs an uninterrupted run"

# --- serve ---------------------------------------------------------------

cfg=$(make_config config/elec2.cfg)
sed -i 's/^  partitions = 2;/  partitions = 2; delivery = "exactly_once"; commit_every_ms = 500;/' \
    "$cfg"
grep -q 'commit_every_ms = 500' "$cfg" || fail "could not set the serve settings in $cfg"
served=$(sed -n 's/^ *predictions = "\([^"]*\.served\)".*/\1/p' "$cfg")
group=$(grep -o 'group_id = "[^"]*"' "$cfg" | cut -d'"' -f2)
serve_model "$cfg" "$MODEL_EVENTS" "$WORK/model.log"

"$RIFFLE" serve -c "$cfg" --brokers "$PROXIED" --instance solo --idle-exit 5 \
    >"$WORK/serve.json" 2>"$WORK/serve.log" &
replica=$!
started+=("$replica")
wait_for "2 partition(s) of .* assigned" 1 "$WORK/serve.log"
"$RIFFLE" produce -c "$cfg" --brokers "$BROKERS" --requests --limit "$REQUESTS" \
    --rate "$REQUEST_RATE" --no-progress >"$WORK/requests.json" 2>"$WORK/requests.log" &
producer=$!
started+=("$producer")

requests=$(sed -n 's/^ *requests = "\([^"]*\)".*/\1/p' "$cfg")
pause_producer "$producer" "$requests" 2 $((REQUESTS / 4)) "$served"
lose_commit_answer "$group-serve-solo" "$served" "$producer"
note "serve: a commit's answer lost at $(topic_end "$served" 2) served offsets"

wait "$producer" || fail "producing requests failed: $(tail -3 "$WORK/requests.log")"
rebuilt_after_lost_commit "$replica" replica serve
assert_eq "$(riffle_json "$WORK/serve.json" 'rows[0]["requests"]')" "$REQUESTS" \
    "requests the replica counts"

run_riffle watch -c "$cfg" served --idle-exit 3 >"$WORK/served.jsonl" 2>/dev/null
assert_eq "$(wc -l <"$WORK/served.jsonl")" "$REQUESTS" "committed answers"
assert_eq "$(riffle_json "$WORK/served.jsonl" 'len({r["event_id"] for r in rows})')" \
    "$REQUESTS" "distinct requests answered"
echo "PASS $TEST_NAME"
