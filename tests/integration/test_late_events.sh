#!/usr/bin/env bash
#
# Late and out-of-order events by event time, on the real broker. A
# click stream whose time steps one second per event carries a few
# events two seconds behind (out of order, within the allowed lateness
# of five seconds: learned) and a few a minute behind (late). With
# on_late = "route" the late ones go, byte for byte, to the late topic,
# and with "reject" to the dead letters with reason late_event; either
# way the input is accounted for: predictions + dead letters + routed.
source "$(dirname "$0")/lib.sh"

readonly EVENTS=300

# An input schema of its own, with riffle's output schemas beside it.
output_schemas
cat >"$WORK/schemas/clicks.avsc" <<'AVSC'
{"type": "record", "name": "Click", "namespace": "riffle.test", "fields": [
  {"name": "event_id", "type": "string"},
  {"name": "ts", "type": "long"},
  {"name": "x", "type": "double"},
  {"name": "clicked", "type": "string"}]}
AVSC
python3 - "$WORK/clicks.csv" "$EVENTS" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write("event_id,ts,x,clicked\n")
    for i in range(n):
        ts = 1_700_000_000_000 + i * 1000
        if i % 50 == 25:
            ts -= 2000          # out of order, within 5 s
        if i % 50 == 40:
            ts -= 60000         # a minute late
        x = (i * 37 % 100) / 100
        f.write(f"c-{i},{ts},{x},{'yes' if x > 0.5 else 'no'}\n")
PY
readonly OUT_OF_ORDER=6 LATE=6

write_config()
{
    local action=$1 prefix="t$(date +%s%N | tail -c 9)-$RANDOM"
    cat >"$WORK/clicks-$action.cfg" <<CFG
name = "clicks";
kafka = { group_id = "$prefix-group"; };
topics = { input = "$prefix.events"; predictions = "$prefix.predictions";
           dead_letters = "$prefix.dead-letters"; models = "$prefix.models";
           metrics = "$prefix.metrics"; };
source = { schema = "$WORK/schemas/clicks.avsc"; };
fields = (
  { name = "event_id"; kind = "id"; },
  { name = "ts"; kind = "ignore"; },
  { name = "x"; kind = "numeric"; },
  { name = "clicked"; kind = "label"; positive = ["yes"]; negative = ["no"]; }
);
learner = { model_name = "clicks"; bits = 12; };
cleaning = { event_time = "ts"; allowed_lateness = 5; on_late = "$action";
             $([[ $action == route ]] && echo "late_topic = \"$prefix.late\";") };
CFG
    echo "$WORK/clicks-$action.cfg"
}

# route: the late events' original messages reach the late topic.
cfg=$(write_config route)
run_riffle topics create -c "$cfg" >/dev/null
run_riffle produce -c "$cfg" --file "$WORK/clicks.csv" --no-progress >/dev/null 2>&1
run_riffle learn -c "$cfg" --idle-exit 3 >"$WORK/learn.json" 2>"$WORK/learn.log"
run_riffle watch -c "$cfg" predictions --idle-exit 2 >"$WORK/pred.jsonl" 2>/dev/null
run_riffle watch -c "$cfg" dead-letters --idle-exit 2 >"$WORK/dlq.jsonl" 2>/dev/null
run_riffle watch -c "$cfg" metrics --idle-exit 2 >"$WORK/metrics.jsonl" 2>/dev/null
late_topic=$(sed -n 's/.*late_topic = "\([^"]*\)".*/\1/p' "$cfg")
kcat -b "$BROKERS" -C -t "$late_topic" -o beginning -e -q -f '%k\n' >"$WORK/late_keys.txt"
kcat -b "$BROKERS" -C -t "$late_topic" -o beginning -e -q -f '%h\n' >"$WORK/late_headers.txt"

assert_eq "$(wc -l <"$WORK/pred.jsonl")" "$((EVENTS - LATE))" "predictions (route)"
assert_eq "$(wc -l <"$WORK/dlq.jsonl")" 0 "dead letters (route)"
assert_eq "$(sort "$WORK/late_keys.txt" | tr '\n' ' ')" \
    "clicks-141 clicks-191 clicks-241 clicks-291 clicks-41 clicks-91 " \
    "late events on the late topic"
assert_eq "$(riffle_json "$WORK/learn.json" 'rows[0]["late_routed"]')" "$LATE" \
    "late_routed in the summary"
assert_eq "$(riffle_json "$WORK/metrics.jsonl" \
    '(rows[-1]["cleaning"]["late"], rows[-1]["cleaning"]["out_of_order"])')" \
    "($LATE, $OUT_OF_ORDER)" "late and out-of-order counters in the metrics topic"
grep -q "riffle.reason=late_event" "$WORK/late_headers.txt" ||
    fail "no reason header on the late topic"
# The routed bytes are the input message itself: same offsets' payloads.
input=$(sed -n 's/.* input = "\([^"]*\)".*/\1/p' "$cfg")
cmp <(kcat -b "$BROKERS" -C -t "$input" -o 40 -c 1 -e -q -f '%s') \
    <(kcat -b "$BROKERS" -C -t "$late_topic" -o beginning -c 1 -e -q -f '%s') ||
    fail "the first routed message differs from input offset 40"

# reject: the same events become dead letters with reason late_event.
cfg=$(write_config reject)
run_riffle topics create -c "$cfg" >/dev/null
run_riffle produce -c "$cfg" --file "$WORK/clicks.csv" --no-progress >/dev/null 2>&1
run_riffle learn -c "$cfg" --idle-exit 3 >"$WORK/learn2.json" 2>"$WORK/learn2.log"
run_riffle watch -c "$cfg" predictions --idle-exit 2 >"$WORK/pred2.jsonl" 2>/dev/null
run_riffle watch -c "$cfg" dead-letters --idle-exit 2 >"$WORK/dlq2.jsonl" 2>/dev/null
assert_eq "$(wc -l <"$WORK/pred2.jsonl")" "$((EVENTS - LATE))" "predictions (reject)"
expected="[('clicks-141', 'late_event', 'ts'), ('clicks-191', 'late_event', 'ts'),"
expected+=" ('clicks-241', 'late_event', 'ts'), ('clicks-291', 'late_event', 'ts'),"
expected+=" ('clicks-41', 'late_event', 'ts'), ('clicks-91', 'late_event', 'ts')]"
assert_eq "$(riffle_json "$WORK/dlq2.jsonl" \
    'sorted((r["event_id"], r["reason"], r["field"]) for r in rows)')" \
    "$expected" "late events dead-lettered"
riffle_json "$WORK/dlq2.jsonl" 'rows[0]["detail"]' | sed 's/^/    /'
echo "PASS $TEST_NAME"
