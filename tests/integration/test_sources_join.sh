#!/usr/bin/env bash
#
# Several sources and an enrichment join, on the real broker. Clicks
# arrive on two topics with schemas of their own (the second names and
# orders its fields differently and is mapped into the first), and each
# click is joined by user with a profile stream that carries the user's
# region. The label depends on the region only, which no click carries:
# the model learns it only through the join. Checked: every click of
# both topics is predicted once, joins hit where a profile exists and
# miss where none does, the counters reach the metrics topic, and a
# restarted learner joins new clicks from the profiles it reloads.
source "$(dirname "$0")/lib.sh"

join_schemas
cat >"$WORK/schemas/app_clicks.avsc" <<'AVSC'
{"type": "record", "name": "AppClick", "namespace": "riffle.test", "fields": [
  {"name": "outcome", "type": "string"},
  {"name": "event_id", "type": "string"},
  {"name": "uid", "type": "string"},
  {"name": "score", "type": "float"}]}
AVSC

# Users u0..u9 have profiles (even: north, odd: south); u99 has none.
# A click is a "yes" exactly when its user's region is north.
python3 - "$WORK" <<'PY'
import sys
w = sys.argv[1]
def user(i): return "u99" if i % 25 == 7 else f"u{i % 10}"
def label(u, yes="yes", no="no"):
    return yes if u != "u99" and int(u[1:]) % 2 == 0 else no
with open(f"{w}/web.csv", "w") as f:
    f.write("event_id,user,x,clicked\n")
    for i in range(300):
        u = user(i); f.write(f"w{i},{u},{(i * 37 % 100) / 100},{label(u)}\n")
with open(f"{w}/web_more.csv", "w") as f:
    f.write("event_id,user,x,clicked\n")
    for i in range(300, 350):
        u = user(i); f.write(f"w{i},{u},{(i * 37 % 100) / 100},{label(u)}\n")
with open(f"{w}/app.csv", "w") as f:
    f.write("outcome,event_id,uid,score\n")
    for i in range(200):
        u = user(i + 1); f.write(f"{label(u)},a{i},{u},{(i * 53 % 100) / 100}\n")
with open(f"{w}/profiles.csv", "w") as f:
    f.write("event_id,user_id,region\n")
    for u in range(10):
        f.write(f"p{u},u{u},{'north' if u % 2 == 0 else 'south'}\n")
PY
misses_web=$(python3 -c 'print(sum(1 for i in range(300) if i % 25 == 7))')
misses_app=$(python3 -c 'print(sum(1 for i in range(200) if (i + 1) % 25 == 7))')

prefix="t$(date +%s%N | tail -c 9)-$RANDOM"
topics="input = \"$prefix.web\"; predictions = \"$prefix.predictions\";
  dead_letters = \"$prefix.dead-letters\"; models = \"$prefix.models\";
  metrics = \"$prefix.metrics\";"
cat >"$WORK/clicks.cfg" <<CFG
name = "clicks";
kafka = { group_id = "$prefix-group"; };
topics = { $topics };
sources = ( { topic = "$prefix.app"; schema = "$WORK/schemas/app_clicks.avsc";
              map = ( ["user", "uid"], ["x", "score"], ["clicked", "outcome"] ); } );
CFG
join_clicks_settings "$prefix.profiles" >>"$WORK/clicks.cfg"
# Producer-only configurations for the other two topics.
producer_cfg app app_clicks.avsc "$prefix.app" outcome
producer_cfg profiles profile.avsc "$prefix.profiles" region

# `riffle acls` lets the learner read every topic it consumes.
"$RIFFLE" acls -c "$WORK/clicks.cfg" --learner lrn --dry-run >"$WORK/acls.txt"
for t in web app profiles models; do
    for op in READ DESCRIBE; do
        grep -q "^would grant User:lrn (learner): ALLOW $op on TOPIC $prefix.$t\$" \
            "$WORK/acls.txt" || fail "acls: no $op on $prefix.$t for the learner"
    done
done
run_riffle topics create -c "$WORK/clicks.cfg" >/dev/null
run_riffle produce -c "$WORK/profiles.cfg" --file "$WORK/profiles.csv" --no-progress >/dev/null 2>&1
run_riffle produce -c "$WORK/clicks.cfg" --file "$WORK/web.csv" --no-progress >/dev/null 2>&1
run_riffle produce -c "$WORK/app.cfg" --file "$WORK/app.csv" --no-progress >/dev/null 2>&1

run_riffle learn -c "$WORK/clicks.cfg" --idle-exit 3 >"$WORK/learn.json" 2>"$WORK/learn.log" ||
    fail "learn failed: $(tail -3 "$WORK/learn.log")"
run_riffle watch -c "$WORK/clicks.cfg" predictions --idle-exit 2 >"$WORK/pred.jsonl" 2>/dev/null
run_riffle watch -c "$WORK/clicks.cfg" metrics --idle-exit 2 >"$WORK/metrics.jsonl" 2>/dev/null

assert_eq "$(riffle_json "$WORK/pred.jsonl" \
    'sorted((t.rsplit(".", 1)[1], sum(r["source_topic"] == t for r in rows))
            for t in {r["source_topic"] for r in rows})')" \
    "[('app', 200), ('web', 300)]" "predictions per source topic"
assert_eq "$(riffle_json "$WORK/pred.jsonl" 'len({r["event_id"] for r in rows})')" 500 \
    "distinct events predicted"
assert_eq "$(riffle_json "$WORK/learn.json" '(rows[0]["profiles"], rows[0]["dead_letters"])')" \
    "(10, 0)" "profiles applied, dead letters"
assert_eq "$(riffle_json "$WORK/metrics.jsonl" \
    '[rows[-1]["cleaning"][k] for k in ("join.hits", "join.misses", "join.expired")]')" \
    "[$((500 - misses_web - misses_app)), $((misses_web + misses_app)), 0]" "join counters"
acc=$(riffle_json "$WORK/pred.jsonl" \
    'round(sum(r["predicted_label"] == r["label"] for r in rows[100:]) / len(rows[100:]), 3)')
note "accuracy after the first 100 events: $acc (the label is the joined region)"
python3 -c "import sys; sys.exit(0 if $acc >= 0.9 else 1)" ||
    fail "accuracy $acc: the joined region did not reach the model"

# A restarted learner reloads the profiles and joins the new clicks.
run_riffle produce -c "$WORK/clicks.cfg" --file "$WORK/web_more.csv" --no-progress >/dev/null 2>&1
run_riffle learn -c "$WORK/clicks.cfg" --idle-exit 3 >"$WORK/learn2.json" 2>"$WORK/learn2.log" ||
    fail "second learn failed: $(tail -3 "$WORK/learn2.log")"
grep -q "10 enrichment record(s) read, 0 unusable; 10 key(s) kept" "$WORK/learn2.log" ||
    fail "profiles not reloaded: $(grep enrichment "$WORK/learn2.log")"
run_riffle watch -c "$WORK/clicks.cfg" metrics --idle-exit 2 >"$WORK/metrics2.jsonl" 2>/dev/null
assert_eq "$(riffle_json "$WORK/learn2.json" 'rows[0]["predicted"]')" 50 \
    "new clicks predicted after the restart"
assert_eq "$(riffle_json "$WORK/metrics2.jsonl" 'rows[-1]["cleaning"]["join.hits"]')" \
    "$(python3 -c 'print(sum(1 for i in range(300, 350) if i % 25 != 7))')" \
    "joins after the restart"
echo "PASS $TEST_NAME"
