#!/usr/bin/env bash
#
# A bad configuration stops riffle at start-up with one error line naming
# the file, the line and the key, and what was expected. No broker needed.
source "$(dirname "$0")/lib.sh"

# expect_error "sed expression applied to elec2.cfg" "expected message"
expect_error()
{
    local cfg=$WORK/bad.cfg out
    sed -e "$1" config/elec2.cfg >"$cfg"
    if out=$("$RIFFLE" check -c "$cfg" 2>&1); then
        fail "accepted a bad config ($1): $out"
    fi
    [[ "$out" == *"$2"* ]] || fail "for '$1' expected '$2' in: $out"
}

line_of() { grep -n "$1" config/elec2.cfg | head -1 | cut -d: -f1; }

expect_error 's/  bits = 18;/  bits = 40;/' \
    "bad.cfg:$(line_of 'bits = 18'): learner.bits: 40 is out of range: expected an integer from 10 to 28"
expect_error 's/  loss = "logistic";/  loss = "cubic";/' \
    "learner.loss: unknown value \"cubic\": expected one of \"logistic\", \"squared\", \"hinge\""
expect_error 's/  partitions = 1;/  partitions = "one";/' \
    "bad.cfg:$(line_of 'partitions = 1'): topics.partitions: expected an integer, got a string"
expect_error 's/  group_id = "riffle-elec2";/  group_id = "x"; colour = "red";/' \
    "kafka.colour: unknown setting"
expect_error '/  input = "riffle.elec2.events";/d' "topics.input: missing required setting (a string)"
expect_error 's/kind = "numeric"; min = 0.0; max = 1.0; }/kind = "numeric"; mn = 0.0; }/' \
    "fields[2].mn: unknown setting"
expect_error 's/  bits = 18;/  bits = = 18;/' "bad.cfg:$(line_of 'bits = 18'): syntax error"
expect_error 's/{ name = "transfer";  kind = "numeric"/{ name = "nope"; kind = "numeric"/' \
    "field \"nope\" is not in schema riffle.elec2.Event"

out=$("$RIFFLE" check -c "$WORK/missing.cfg" 2>&1) && fail "accepted a missing file"
[[ "$out" == *"missing.cfg: cannot read the file"* ]] || fail "missing file: $out"
echo "PASS $TEST_NAME"
