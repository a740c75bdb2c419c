#!/usr/bin/env bash
#
# Two learner instances merging through the model topic against one
# learner on the whole stream, on UCI Adult (independent rows, so that
# splitting the stream by key costs little by itself). Each instance
# scores every event before learning it, so the group's progressive
# accuracy is the instances' correct predictions over all events. With
# scaling.merge_every_events = 2000 the two instances must stay within
# TOLERANCE of one learner: the simulation of the same split
# (docs/SCALING.md) loses 0.0014 at 2 instances, and a real run adds the
# asynchrony of merging (an instance merges the other's last snapshot,
# up to one merge period old) and a split by Kafka's key hash instead of
# the simulation's; 0.01 is about a quarter of what never merging at 4
# instances costs on the click data, and is what an operator would call
# "the same model". The learned counts add up to the input (merging
# never counts an event twice), and a scoring replica ends on the merged
# model, whose version is the total learned by both.
#
# Bounded: 32,561 events at 4,000/s (8 s) for the pair, the single run
# as fast as it goes; the pair exits 8 s after catching up (they start idle, before the stream).
source "$(dirname "$0")/lib.sh"

readonly RATE=4000
readonly TOLERANCE=0.01
readonly WAIT_S=60

replica=
stop_replica() { [[ -z $replica ]] || kill -TERM "$replica" 2>/dev/null || true; }
trap 'stop_replica; cleanup_work' EXIT

# The single learner: its own topics and group, one partition.
one=$(make_config config/adult.cfg)
mv "$one" "$WORK/one.cfg"
one=$WORK/one.cfg
run_riffle topics create -c "$one" >/dev/null
run_riffle produce -c "$one" --no-progress >"$WORK/produce1.json" 2>"$WORK/produce1.log" ||
    fail "produce failed: $(tail -3 "$WORK/produce1.log")"
run_riffle learn -c "$one" --idle-exit 4 >"$WORK/one.json" 2>"$WORK/one.log" ||
    fail "the single learner failed: $(grep -m3 error "$WORK/one.log")"

# The pair: two partitions, merging, and a serve group for the replica.
cfg=$(make_config config/adult.cfg)
prefix=$(cfg_topic "$cfg" input | sed 's/\.adult\.events$//')
sed -i 's/^  partitions = 1;/  partitions = 2;/' "$cfg"
grep -q "partitions = 2;" "$cfg" || fail "could not set two input partitions"
cat >>"$cfg" <<CFG
scaling = { merge_every_events = 2000; };
serve = { requests = "$prefix.adult.requests"; predictions = "$prefix.adult.served"; };
CFG
run_riffle topics create -c "$cfg" >/dev/null

for i in a b; do
    run_riffle learn -c "$cfg" --instance "$i" --idle-exit 8 >"$WORK/$i.json" 2>"$WORK/$i.log" &
    declare "learner_$i=$!"
done
for ((i = 0; i < WAIT_S * 5; i++)); do
    grep -q "assigned, starting" "$WORK/a.log" && grep -q "assigned, starting" "$WORK/b.log" &&
        break
    sleep 0.2
done
run_riffle produce -c "$cfg" --rate "$RATE" --no-progress >"$WORK/produce2.json" \
    2>"$WORK/produce2.log" || fail "produce failed: $(tail -3 "$WORK/produce2.log")"
wait "$learner_a" || fail "learner a failed: $(grep -m3 error "$WORK/a.log")"
wait "$learner_b" || fail "learner b failed: $(grep -m3 error "$WORK/b.log")"
note "one: $(cut -c1-200 "$WORK/one.json")"
note "a: $(cut -c1-200 "$WORK/a.json")"
note "b: $(cut -c1-200 "$WORK/b.json")"

events=$(riffle_json "$WORK/one.json" 'rows[0]["predicted"]')
learned=$(( $(riffle_json "$WORK/a.json" 'rows[0]["learned"]') +
            $(riffle_json "$WORK/b.json" 'rows[0]["learned"]') ))
assert_eq "$learned" "$events" "events learned by a and b together"
for i in a b; do
    (($(riffle_json "$WORK/$i.json" 'rows[0]["merges"]') > 0)) || fail "$i never merged"
done

result=$(python3 - "$WORK" "$TOLERANCE" <<'PY'
import json, sys
work, tol = sys.argv[1], float(sys.argv[2])
one = json.load(open(f"{work}/one.json"))
pair = [json.load(open(f"{work}/{i}.json")) for i in "ab"]
acc = sum(p["accuracy"] * p["learned"] for p in pair) / sum(p["learned"] for p in pair)
print(f"{'ok' if abs(acc - one['accuracy']) <= tol else 'off'} one {one['accuracy']:.4f} "
      f"two {acc:.4f}")
PY
)
note "progressive accuracy: $result"
[[ $result == ok* ]] || fail "two merging learners are further than $TOLERANCE from one: $result"

# a once more: nothing new to learn; its final merge covers both final
# snapshots, so the merged model's version is everything learned.
run_riffle learn -c "$cfg" --instance a --idle-exit 1 >"$WORK/a2.json" 2>"$WORK/a2.log" ||
    fail "learner a failed on its last run: $(grep -m3 error "$WORK/a2.log")"
assert_eq "$(riffle_json "$WORK/a2.json" 'rows[0]["model_version"]')" "$events" \
    "version of the merged model"

"$RIFFLE" serve -c "$cfg" --brokers "$BROKERS" >"$WORK/serve.json" 2>"$WORK/serve.log" &
replica=$!
for ((i = 0; i < WAIT_S * 5; i++)); do
    grep -q "now serving model adult version $events\b" "$WORK/serve.log" && break
    sleep 0.2
done
grep -q "now serving model adult version $events\b" "$WORK/serve.log" ||
    fail "the replica does not serve the merged model: $(grep -m3 serving "$WORK/serve.log")"
echo "PASS $TEST_NAME"
