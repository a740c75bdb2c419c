#!/usr/bin/env bash
#
# One of two learner instances is killed mid-stream and the other takes
# its partition over; later the killed one comes back. The killed
# instance's model is lost beyond its last snapshot, but its outputs were
# committed up to its last transaction: the survivor must relearn exactly
# that gap, without publishing (the claim in the offset metadata says how
# far the dead instance's snapshot reached, consumers/handover.h), and
# the returning instance must relearn nothing of the partitions the
# survivor now claims. So: every event has exactly one committed
# prediction, and the learned counts of the returned instance (its
# restored snapshot) and of the survivor add up to the input.
#
# The kill falls in a pause of the stream, after a's last commit: a kill
# inside an open transaction works the same, but the group's offsets stay
# unreadable (unstable) until the broker aborts that transaction, after
# the learner's transaction.timeout.ms (60 s), which would make this test
# a minute longer (docs/SCALING.md).
#
# Bounded: 45,312 events in two halves at 4,000/s (12 s), the group
# notices the dead member after kafka.session_timeout_ms = 6 s, and b
# exits 20 s after catching up (it is idle while the test waits for a's
# predictions and for the session to time out: with 6 s it could leave
# under load before a's partition came to it), a on its return 4 s.
source "$(dirname "$0")/lib.sh"

readonly EVENTS=45312
readonly FIRST=24000
readonly RATE=4000

cfg=$(make_config config/elec2.cfg)
sed -i 's/^  partitions = 1;/  partitions = 2;/' "$cfg"
# Short session, so the survivor takes over soon; snapshots every 4,000
# events, so the killed one has almost surely learned past its last one.
sed -i 's/^kafka = {/kafka = {\n  session_timeout_ms = 6000;/' "$cfg"
sed -i 's/^  every_events = 10000;/  every_events = 4000;/' "$cfg"
grep -q "partitions = 2;" "$cfg" || fail "could not set two input partitions"
grep -q "session_timeout_ms = 6000;" "$cfg" || fail "could not set the session timeout"
# The second half under other event ids (the row numbers restart).
sed 's/^  id_prefix = "elec2";/  id_prefix = "more";/' "$cfg" >"$WORK/second.cfg"
python3 - "$WORK" "$FIRST" <<'PY'
import gzip, sys
work, first = sys.argv[1], int(sys.argv[2])
lines = gzip.open("data/elec2/electricity.csv.gz", "rt").read().splitlines()
open(f"{work}/first.csv", "w").write("\n".join([lines[0]] + lines[1:first + 1]) + "\n")
open(f"{work}/second.csv", "w").write("\n".join([lines[0]] + lines[first + 1:]) + "\n")
PY

# committed_predictions -> how many predictions readers see so far
committed_predictions()
{
    run_riffle watch -c "$cfg" predictions --idle-exit 1 2>/dev/null | wc -l
}

run_riffle topics create -c "$cfg" >/dev/null
# riffle itself, not run_riffle: $! must be the learner for SIGKILL.
"$RIFFLE" learn -c "$cfg" --brokers "$BROKERS" --instance a \
    >"$WORK/a1.json" 2>"$WORK/a1.log" &
learner_a=$!
run_riffle learn -c "$cfg" --instance b --idle-exit 20 >"$WORK/b.json" 2>"$WORK/b.log" &
learner_b=$!
for ((i = 0; i < 300; i++)); do
    grep -q "assigned, starting" "$WORK/a1.log" && grep -q "assigned, starting" "$WORK/b.log" &&
        break
    sleep 0.2
done

run_riffle produce -c "$cfg" --file "$WORK/first.csv" --rate "$RATE" --no-progress \
    >/dev/null 2>"$WORK/produce1.log" || fail "produce failed: $(tail -3 "$WORK/produce1.log")"
for ((i = 0; i < 30; i++)); do
    (($(committed_predictions) >= FIRST)) && break
    sleep 1
done
kill -KILL "$learner_a" 2>/dev/null ||
    fail "a stopped before the kill: $(grep -m3 -i -e error -e fatal "$WORK/a1.log")"
wait "$learner_a" 2>/dev/null || true
grep -q "learn: .*events (" "$WORK/a1.log" || fail "a learned nothing before the kill"
note "a killed; its last snapshot: $(grep "snapshot of model .*@a version" "$WORK/a1.log" |
    tail -1 | sed 's/.*version \([0-9]*\).*/version \1/')"

run_riffle produce -c "$WORK/second.cfg" --file "$WORK/second.csv" --rate "$RATE" \
    --no-progress >/dev/null 2>"$WORK/produce2.log" ||
    fail "produce failed: $(tail -3 "$WORK/produce2.log")"
wait "$learner_b" || fail "learner b failed: $(grep -m3 error "$WORK/b.log")"
note "b: $(cat "$WORK/b.json")"
grep -q "taking over from instance .*@a.*relearning" "$WORK/b.log" ||
    fail "b did not take a's partition over with its gap: $(grep -m3 taking "$WORK/b.log")"
note "b $(grep -m1 "taking over" "$WORK/b.log" | sed 's/.*consumer: //')"
(($(riffle_json "$WORK/b.json" 'rows[0]["replayed"]') > 0)) || fail "b relearned nothing"

# a comes back alone: it restores its snapshot and finds every partition
# claimed by b, whose clean exit committed a snapshot covering them.
run_riffle learn -c "$cfg" --instance a --idle-exit 4 >"$WORK/a2.json" 2>"$WORK/a2.log" ||
    fail "learner a failed on its return: $(grep -m3 error "$WORK/a2.log")"
note "a, back: $(cat "$WORK/a2.json")"
assert_eq "$(riffle_json "$WORK/a2.json" 'rows[0]["replayed"]')" 0 \
    "events a relearned on its return"
assert_eq "$(riffle_json "$WORK/a2.json" 'rows[0]["predicted"]')" 0 \
    "events a predicted on its return"

learned=$(( $(riffle_json "$WORK/a2.json" 'rows[0]["learned"]') +
            $(riffle_json "$WORK/b.json" 'rows[0]["learned"]') ))
assert_eq "$learned" "$EVENTS" "events learned by a (its snapshot) and b together"

run_riffle watch -c "$cfg" predictions --idle-exit 3 >"$WORK/pred.jsonl" 2>/dev/null
assert_eq "$(wc -l <"$WORK/pred.jsonl")" "$EVENTS" "committed predictions"
assert_eq "$(riffle_json "$WORK/pred.jsonl" 'len({r["event_id"] for r in rows})')" "$EVENTS" \
    "distinct event ids predicted"
echo "PASS $TEST_NAME"
