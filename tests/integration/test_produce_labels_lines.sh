#!/usr/bin/env bash
#
# `riffle produce --labels` sends each good line of a labels file and
# refuses each bad one at its line, saying what is wrong without quoting
# the line (an id or a label may be personal): too few or too many
# fields, an empty id or label, a timestamp that is not a whole number of
# ms from 1 to 10^15, and an id or label that is not UTF-8 text, which
# the learner would otherwise refuse far from the file, its line unknown;
# the first bad byte is counted from 1, as in a CSV's text field.
source "$(dirname "$0")/lib.sh"

cfg=$(make_config config/elec2_delayed.cfg)
run_riffle topics create -c "$cfg" >/dev/null
topic=$(labels_topic_of "$cfg")

printf '%s\n' 'elec2-1,UP' 'elec2-2,DOWN,1700000000000' 'elec2-3PIIMARKER' \
    ',UP' 'elec2-4,' 'elec2-5,UP,-5' 'elec2-6,UP,1.5' 'elec2-7,UP,1,2' \
    $'elec2-8\xffPIIMARKER,UP' $'elec2-9,U\xc3PIIMARKER' 'elec2-10,UP' \
    >"$WORK/labels.csv"
rc=0
run_riffle produce -c "$cfg" --labels "$WORK/labels.csv" --no-progress \
    >"$WORK/out.json" 2>"$WORK/err.txt" || rc=$?
assert_eq "$rc" 0 "produce --labels with bad lines"
assert_eq "$(riffle_json "$WORK/out.json" \
    '(rows[0]["rows"], rows[0]["produced"], rows[0]["bad_rows"])')" "(11, 3, 8)" \
    "rows, produced, bad"

whole="timestamp_ms: expected milliseconds since 1970, a whole number from 1 to"
for want in "labels.csv:3: 1 fields; expected event_id,label[,timestamp_ms]" \
    "labels.csv:4: empty event id" "labels.csv:5: empty label" \
    "labels.csv:6: $whole 1000000000000000" "labels.csv:7: $whole" \
    "labels.csv:8: 4 fields; expected" \
    "labels.csv:9: event id: found bytes that are not UTF-8 from byte 8 of the value" \
    "labels.csv:10: label: found bytes that are not UTF-8 from byte 2 of the value"; do
    grep -qF "$want" "$WORK/err.txt" || fail "no '$want' in: $(grep -v rdkafka "$WORK/err.txt")"
done
! grep -q PIIMARKER "$WORK/err.txt" || fail "a refused line was quoted: $(grep PIIMARKER "$WORK/err.txt")"

dump_topic "$topic" "$WORK/labels.txt"
assert_eq "$(sort "$WORK/labels.txt" | tr '\n' ' ')" \
    "key=elec2-1 value=UP key=elec2-10 value=UP key=elec2-2 value=DOWN " "the labels sent"

echo "PASS $TEST_NAME"
