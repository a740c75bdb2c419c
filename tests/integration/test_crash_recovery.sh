#!/usr/bin/env bash
#
# Exactly once through crashes: `learn` is killed with SIGKILL at ten
# random moments of a 100,000-event stream (99,800 valid events cycled
# from Elec2 and 200 that break a cleaning rule) and restarted each time,
# while the stream is still being produced. Afterwards, read with
# read_committed: every valid event has exactly one prediction, every bad
# one exactly one dead letter, and the final weights are bit-identical to
# an uninterrupted run over the same rows (one partition).
#
# Bounded: the stream is produced at 2,000 events/s (50 s), each learner
# lives 2 to 6 s (start-up takes part of that), and the final run exits
# 3 s after catching up.
source "$(dirname "$0")/lib.sh"

readonly EVENTS=100000
readonly KILLS=10
readonly RATE=2000

cfg=$(make_config config/elec2.cfg)
run_riffle topics create -c "$cfg" >/dev/null

# Every 1000th row from the 8th is out of range, and every 1000th from
# the 501st has an unknown label: 200 dead letters at known offsets.
python3 - "$WORK/stream.csv" "$EVENTS" <<'PY'
import gzip, sys
path, events = sys.argv[1], int(sys.argv[2])
lines = gzip.open("data/elec2/electricity.csv.gz", "rt").read().splitlines()
header, rows = lines[0], lines[1:]
cols = header.split(",")
out = [header]
for i in range(events):
    f = rows[i % len(rows)].split(",")
    if i % 1000 == 7:
        f[cols.index("nswprice")] = "1.5"
    if i % 1000 == 500:
        f[cols.index("class")] = "SIDEWAYS"
    out.append(",".join(f))
open(path, "w").write("\n".join(out) + "\n")
PY

# The reference: the same rows learned without a broker and without a
# crash (test_resume.sh checks that train and an uninterrupted learn
# agree; the digests below make the comparison bit for bit).
"$RIFFLE" train -c "$cfg" --file "$WORK/stream.csv" >"$WORK/train.json"
reference=$(riffle_json "$WORK/train.json" 'rows[0]["weights_digest"]')

run_riffle produce -c "$cfg" --file "$WORK/stream.csv" --rate "$RATE" \
    --no-progress >"$WORK/produce.json" 2>"$WORK/produce.log" &
producer=$!

for ((k = 1; k <= KILLS; k++)); do
    # riffle itself in the background, not the run_riffle function: $!
    # must be the learner's own pid for SIGKILL to reach it.
    "$RIFFLE" learn -c "$cfg" --brokers "$BROKERS" >"$WORK/learn$k.json" 2>"$WORK/learn$k.log" &
    learner=$!
    pause=$(python3 -c 'import random; print(round(random.uniform(2.0, 6.0), 2))')
    sleep "$pause"
    kill_hard "$learner" "learner $k"
    restored=$(grep -o 'restored model [^:]*' "$WORK/learn$k.log" || echo 'no snapshot yet')
    note "kill $k after ${pause}s: $restored"
done
wait "$producer" || fail "produce failed: $(tail -3 "$WORK/produce.log")"

run_riffle learn -c "$cfg" --idle-exit 3 >"$WORK/final.json" 2>"$WORK/final.log" ||
    fail "final learn failed: $(grep -m3 error "$WORK/final.log")"
note "final run: $(cat "$WORK/final.json")"

relearned=$(cat "$WORK"/learn*.log "$WORK/final.log" | grep -c "relearning up to offset" || true)
((relearned > 0)) ||
    fail "no restart relearned committed events: the kills came too early or too late"
note "$relearned restarts relearned committed events without publishing them"

run_riffle watch -c "$cfg" predictions --idle-exit 3 >"$WORK/pred.jsonl" 2>/dev/null
run_riffle watch -c "$cfg" dead-letters --idle-exit 3 >"$WORK/dlq.jsonl" 2>/dev/null

assert_eq "$(wc -l <"$WORK/pred.jsonl")" 99800 "committed predictions"
assert_eq "$(riffle_json "$WORK/pred.jsonl" \
    "(sorted(int(r['event_id'].split('-')[1]) for r in rows)
        == [i + 1 for i in range($EVENTS) if i % 1000 not in (7, 500)])")" \
    True "each valid event has exactly one prediction"
assert_versions_once "$WORK/pred.jsonl" "model versions: one update per valid event, none repeated"
assert_eq "$(wc -l <"$WORK/dlq.jsonl")" 200 "committed dead letters"
assert_eq "$(riffle_json "$WORK/dlq.jsonl" \
    "(sorted(r['source_offset'] for r in rows)
        == [i for i in range($EVENTS) if i % 1000 in (7, 500)])")" \
    True "each bad event has exactly one dead letter"

assert_eq "$(riffle_json "$WORK/final.json" 'rows[0]["weights_digest"]')" "$reference" \
    "weights after $KILLS crashes vs an uninterrupted run"
assert_eq "$(riffle_json "$WORK/final.json" 'rows[0]["model_version"]')" 99800 \
    "model version after the crashes"
echo "PASS $TEST_NAME"
