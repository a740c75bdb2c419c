#!/usr/bin/env bash
#
# Liveness and cost of merging learner instances (docs/SCALING.md,
# "Merging instances on the broker"). Two instances a and b merge every
# 500 events on UCI Adult; b then stops. Once b's last snapshot is older
# than scaling.instance_expiry_seconds, a says b is no longer merged and
# merges alone. Every merge reports how many model-topic messages it
# read: after an instance's first merge, each reads only what was
# published since its previous one, so the count stays under BOUND while
# the topic grows well past it. A third instance c, started afterwards
# with a long expiry, reads the topic's whole liveness window at its
# first merge: that count, the topic's size, must be several times what
# any later merge of a or b read, or the bound would prove nothing (the
# old full scan read the whole topic at every merge).
#
# Bounded: the stream at 8,000 events/s (4 s), the expiry (5 s), a
# short second stream, and c's run over both streams.
source "$(dirname "$0")/lib.sh"

readonly EXPIRY_S=5
readonly BOUND=40 # messages one merge may read; both instances' merges
                  # between two of one's, four messages each, at most
readonly WAIT_S=90
readonly MIN_MERGES=3 # each instance's, while both run

trap 'stop_started; cleanup_work' EXIT

# merge_reads LOG -> the messages each merge of LOG read, one a line
merge_reads() { sed -n 's/.*(\([0-9]*\) new message(s).*/\1/p' "$1"; }

cfg=$(make_config config/adult.cfg)
sed -i 's/^  partitions = 1;/  partitions = 2;/' "$cfg"
grep -q "partitions = 2;" "$cfg" || fail "could not set two input partitions"
# c: a group of its own (a and b keep their partitions as static members),
# merging only when it stops, with an expiry that keeps a and b alive.
sed 's/group_id = "\([^"]*\)"/group_id = "\1-c"/' "$cfg" >"$WORK/long.cfg"
echo "scaling = { merge_every_events = 1000000; instance_expiry_seconds = 3600; };" \
    >>"$WORK/long.cfg"
echo "scaling = { merge_every_events = 500; instance_expiry_seconds = $EXPIRY_S; };" >>"$cfg"
run_riffle topics create -c "$cfg" >/dev/null

# Both instances learn the whole stream, merging with each other.
"$RIFFLE" learn -c "$cfg" --brokers "$BROKERS" --instance a --idle-exit 60 \
    >"$WORK/a.json" 2>"$WORK/a.log" &
learner_a=$!
started+=("$learner_a")
"$RIFFLE" learn -c "$cfg" --brokers "$BROKERS" --instance b --idle-exit 60 \
    >"$WORK/b.json" 2>"$WORK/b.log" &
learner_b=$!
started+=("$learner_b")
wait_for "assigned, starting" 1 "$WORK/a.log"
wait_for "assigned, starting" 1 "$WORK/b.log"
run_riffle produce -c "$cfg" --rate 8000 --no-progress >"$WORK/produce1.json" \
    2>"$WORK/produce1.log" || fail "produce failed: $(tail -3 "$WORK/produce1.log")"
# b stops gracefully once both have merged a few times, with or without
# the rest of its share
wait_for "merged model adult@a with 1 other" "$MIN_MERGES" "$WORK/a.log"
wait_for "merged model adult@b with 1 other" "$MIN_MERGES" "$WORK/b.log"
kill -TERM "$learner_b"
wait "$learner_b" || fail "learner b failed: $(grep -m3 error "$WORK/b.log")"
grep -q "merged model adult@a with 1 other" "$WORK/a.log" || fail "a never merged b"
grep -q "merged model adult@b with 1 other" "$WORK/b.log" || fail "b never merged a"
# topics create made the model topic LogAppendTime: ages on the broker's clock
grep -q "instances' ages by the broker's clock (LogAppendTime)" "$WORK/a.log" ||
    fail "a does not age snapshots by the broker's clock: $(grep -m1 "ages by" "$WORK/a.log")"

# b is gone; after the expiry a's merges leave it out. a learns its own
# partition's share of a second stream (b's stays unread: b is a static
# member whose session has not timed out).
sleep $((EXPIRY_S + 2))
run_riffle produce -c "$cfg" --limit 8000 --rate 8000 --no-progress >"$WORK/produce2.json" \
    2>"$WORK/produce2.log" || fail "produce failed: $(tail -3 "$WORK/produce2.log")"
wait_for "instance adult@b is [0-9]* s old" 1 "$WORK/a.log"
wait_for "model adult@a: no other live instance" 1 "$WORK/a.log"
kill -TERM "$learner_a"
wait "$learner_a" || fail "learner a failed: $(grep -m3 error "$WORK/a.log")"
note "a: $(grep -m1 "no longer merged" "$WORK/a.log" | cut -c1-160)"
after=$(sed -n '/instance adult@b is [0-9]* s old/,$p' "$WORK/a.log")
! grep -q "merged model adult@a with" <<<"$after" || fail "a merged b after it expired"
assert_eq "$(riffle_json "$WORK/a.json" 'rows[0]["merge_peers_expired"]')" 1 \
    "instances a saw expire"

# Each merge after an instance's first reads only what is new.
most=0
for i in a b; do
    reads=$(merge_reads "$WORK/$i.log")
    (($(wc -l <<<"$reads") >= MIN_MERGES)) || fail "$i merged fewer than $MIN_MERGES times"
    worst=$(tail -n +2 <<<"$reads" | sort -n | tail -1)
    note "$i: $(wc -l <<<"$reads") merges, at most $worst messages read by one after the first"
    ((worst <= BOUND)) || fail "a merge of $i read $worst messages, more than $BOUND"
    ((worst > most)) && most=$worst
    assert_eq "$(paste -sd+ <<<"$reads" | bc)" \
        "$(riffle_json "$WORK/$i.json" 'rows[0]["merge_messages_read"]')" \
        "messages read by $i's merges against its summary"
done

# c learns the stream on its own, then, stopping, merges for the first
# time: it reads the whole liveness window, the topic so far.
run_riffle learn -c "$WORK/long.cfg" --instance c --idle-exit 1 >"$WORK/c.json" \
    2>"$WORK/c.log" || fail "learner c failed: $(grep -m3 error "$WORK/c.log")"
first=$(merge_reads "$WORK/c.log" | head -1)
note "c's first merge read $first messages"
grep -q "merged model adult@c with 2 other" "$WORK/c.log" ||
    fail "c did not merge both a and b: $(grep -m2 merge "$WORK/c.log")"
((first > 3 * most)) ||
    fail "the model topic holds $first messages, merges read up to $most: the bound says nothing"
echo "PASS $TEST_NAME"
