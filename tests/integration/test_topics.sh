#!/usr/bin/env bash
#
# `riffle topics create` and `delete` return once the brokers' metadata
# shows the topics as asked: a command run right after create finds every
# topic with the configured partitions, one run right after delete finds
# none, and create right after delete makes them all again. A repeated
# create says "exists" and a repeated delete "absent", both with status 0.
#
# The broker answers metadata from a cache it brings up to date after
# its controller made or removed a topic; before the wait, a produce run
# right after create was told "Unknown topic or partition" on a loaded
# machine. The cycle runs several times, with elec2's eight topics (the
# pipeline's on three partitions, serving's on two, the model topic on
# one), to give that lag its chances.
#
# Bounded: five create/delete cycles of eight topics, a few seconds each.
source "$(dirname "$0")/lib.sh"

readonly CYCLES=5
cfg=$(make_config config/elec2.cfg)
sed -i 's/^  partitions = 1; .*/  partitions = 3;/' "$cfg"
prefix=$(cfg_topic "$cfg" input)
prefix=${prefix%.events}

# metadata_topics -> "TOPIC PARTITIONS" for every topic of this test that
# the broker's metadata holds, sorted
metadata_topics()
{
    kcat -b "$BROKERS" -L -J 2>/dev/null | python3 -c '
import json, sys
md = json.load(sys.stdin)
for t in sorted(md["topics"], key=lambda t: t["topic"]):
    if t["topic"].startswith(sys.argv[1] + "."):
        print(t["topic"], len(t["partitions"]))' "$prefix"
}

expected=$(printf '%s\n' "$prefix.alerts 3" "$prefix.dead-letters 3" "$prefix.events 3" \
    "$prefix.metrics 3" "$prefix.models 1" "$prefix.predictions 3" "$prefix.requests 2" \
    "$prefix.served 2")
for ((k = 1; k <= CYCLES; k++)); do
    run_riffle topics create -c "$cfg" >"$WORK/create.out" || fail "cycle $k: create failed"
    assert_eq "$(grep -c '^created ' "$WORK/create.out")" "$(wc -l <<<"$expected")" \
        "cycle $k: topics created"
    assert_eq "$(metadata_topics)" "$expected" "cycle $k: metadata right after create"

    run_riffle topics delete -c "$cfg" >"$WORK/delete.out" || fail "cycle $k: delete failed"
    assert_eq "$(grep -c '^deleted ' "$WORK/delete.out")" "$(wc -l <<<"$expected")" \
        "cycle $k: topics deleted"
    assert_eq "$(metadata_topics)" "" "cycle $k: metadata right after delete"
done

run_riffle topics create -c "$cfg" >/dev/null || fail "the last create failed"
run_riffle topics create -c "$cfg" >"$WORK/again.out" || fail "a repeated create failed"
assert_eq "$(grep -c '^exists  ' "$WORK/again.out")" "$(wc -l <<<"$expected")" \
    "a repeated create: topics that exist"
run_riffle topics delete -c "$cfg" >/dev/null || fail "the last delete failed"
run_riffle topics delete -c "$cfg" >"$WORK/again.out" || fail "a repeated delete failed"
assert_eq "$(grep -c '^absent  ' "$WORK/again.out")" "$(wc -l <<<"$expected")" \
    "a repeated delete: topics that are absent"
note "$CYCLES create/delete cycles of $(wc -l <<<"$expected") topics"
echo "PASS $TEST_NAME"
