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
    local rc=0
    out=$("$RIFFLE" check -c "$cfg" 2>&1) || rc=$?
    # 1: not usable, whether the file or its schema is at fault; 2 is
    # kept for a missing -c
    [[ $rc == 1 ]] || fail "exit status $rc for a bad config ($1): $out"
    [[ "$out" == *"$2"* ]] || fail "for '$1' expected '$2' in: $out"
}

line_of() { grep -n "$1" config/elec2.cfg | head -1 | cut -d: -f1; }

at=$(line_of 'bits = 18')
expect_error 's/  bits = 18;/  bits = 40;/' \
    "bad.cfg:$at: learner.bits: 40 is out of range: expected an integer from 10 to 28"
expect_error 's/  loss = "logistic";/  loss = "cubic";/' \
    "learner.loss: unknown value \"cubic\": expected one of \"logistic\", \"squared\", \"hinge\""
expect_error 's/  partitions = 1;/  partitions = "one";/' \
    "bad.cfg:$(line_of 'partitions = 1'): topics.partitions: expected an integer, got a string"
expect_error 's/  group_id = "riffle-elec2";/  group_id = "x"; colour = "red";/' \
    "kafka.colour: unknown setting"
expect_error '/  input = "riffle.elec2.events";/d' \
    "topics.input: missing required setting (a string)"
expect_error 's/kind = "numeric"; min = 0.0; max = 1.0; }/kind = "numeric"; mn = 0.0; }/' \
    "fields[2].mn: unknown setting"
expect_error 's/  bits = 18;/  bits = = 18;/' "bad.cfg:$(line_of 'bits = 18'): syntax error"
# Checks made against the schema and the key name the setting's line too.
at=$(line_of 'name = "transfer"')
expect_error 's/{ name = "transfer";  kind = "numeric"/{ name = "nope"; kind = "numeric"/' \
    "bad.cfg:$at: fields[9].name: field \"nope\" is not in schema riffle.elec2.Event"
expect_error 's|  schema = "schemas/elec2.avsc";|  schema = "schemas/nope.avsc";|' \
    "bad.cfg:$(line_of 'schema = '): source.schema: schemas/nope.avsc: No such file or directory"
# Every command that reads the input schema names where it is set, not
# only the schema's file. Each reads it before it needs a broker (the
# one named is no broker), pseudonym before it looks at the id.
sed -e 's|  schema = "schemas/elec2.avsc";|  schema = "schemas/nope.avsc";|' \
    config/elec2.cfg >"$WORK/bad.cfg"
for cmd in train simulate pseudonym produce learn serve "dlq replay"; do
    # shellcheck disable=SC2086
    out=$("$RIFFLE" $cmd -c "$WORK/bad.cfg" --brokers 127.0.0.1:1 </dev/null 2>&1) &&
        fail "$cmd ran without its schema: $out"
    [[ "$out" == *"bad.cfg:$(line_of 'schema = '): source.schema: schemas/nope.avsc: No such file"* ]] ||
        fail "$cmd does not name source.schema's line: $out"
done

# Two sed commands: make a field personal, then add a privacy group whose
# key variable is unset (`i` takes the rest of the expression as its text).
no_key='s/kind = "categorical"; required = true; }/'
no_key+='kind = "categorical"; personal = "pseudonym"; }/; '
no_key+='/^learner = {/i privacy = { key_env = "RIFFLE_TEST_NO_SUCH_KEY"; };'
expect_error "$no_key" \
    "bad.cfg:$(line_of '^learner = {'): privacy.key_file: pseudonyms need a key"
# Learner ranges are the model's (learner/model.h), checked at the key.
expect_error 's/  l2 = 0.0;/  l2 = 2.0;/' \
    "bad.cfg:$(line_of 'l2 = 0.0'): learner.l2: 2 is out of range: expected a number from 0 to 1"
at=$(line_of 'learning_rate = 22.0')
expect_error 's/  learning_rate = 22.0;/  learning_rate = 0;/' \
    "bad.cfg:$at: learner.learning_rate: 0 is out of range: expected a number above 0, at most 1000"

# check needs no broker, but takes --brokers like every command.
out=$("$RIFFLE" check -c config/elec2.cfg --brokers 127.0.0.1:1 2>&1) ||
    fail "check refused --brokers: $out"
[[ "$out" == *"elec2.cfg: ok"* ]] || fail "check --brokers: $out"
# So does simulate, which needs none either.
out=$("$RIFFLE" simulate -c config/elec2.cfg --learners 1 --limit 10 \
    --brokers 127.0.0.1:1 2>&1) || fail "simulate refused --brokers: $out"
[[ "$out" == *'"rows":10,'* ]] || fail "simulate --brokers: $out"
out=$("$RIFFLE" check --help 2>&1) || fail "check --help failed: $out"
[[ "$out" == *"needs no broker"* ]] || fail "check --help: $out"
out=$("$RIFFLE" topics --help 2>&1) || fail "topics --help failed: $out"
[[ "$out" == *"--brokers"* ]] || fail "topics --help: $out"
# Every option the README gives train and score is in their help.
out=$("$RIFFLE" train --help 2>&1) || fail "train --help failed: $out"
for option in --file --from-snapshot --snapshot --predictions .avro; do
    [[ "$out" == *"$option"* ]] || fail "train --help lacks $option: $out"
done
out=$("$RIFFLE" score --help 2>&1) || fail "score --help failed: $out"
[[ "$out" == *"--from-snapshot FILE"*".avro"* ]] || fail "score --help: $out"

rc=0
"$RIFFLE" check >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 2 "exit status of check without -c"
out=$("$RIFFLE" check -c "$WORK/missing.cfg" 2>&1) && fail "accepted a missing file"
[[ "$out" == *"missing.cfg: cannot read the file: No such file or directory"* ]] ||
    fail "missing file: $out"
out=$("$RIFFLE" check -c "$WORK" 2>&1) && fail "accepted a directory"
[[ "$out" == *": cannot read the file: Is a directory"* ]] || fail "directory: $out"

# A misspelt field name leaves its interaction without a namespace; the
# error lists the namespaces there are, so the misspelling shows.
expect_error 's/{ name = "vicprice"; /{ name = "vicprise"; /' \
    "bad.cfg:$(line_of 'interactions = '): learner.interactions: entry 1: no field is in"\
" namespace \"vicprice\" (the fields' namespaces are: date, day, period, nswprice,"\
" nswdemand, vicprise, vicdemand, transfer)"

# riffle's output schemas are read from the input schema's folder: with
# a schema alone in a folder of its own, learn and serve (which failed
# only once they published) refuse to start at its line, check warns, and
# train --snapshot says where model_snapshot.avsc was looked for.
mkdir -p "$WORK/alone"
cp schemas/elec2.avsc "$WORK/alone/"
sed -e "s|schemas/elec2.avsc|$WORK/alone/elec2.avsc|" config/elec2.cfg >"$WORK/alone.cfg"
alone="alone.cfg:$(line_of 'schema = '): source.schema: riffle reads its own output"
alone+=" schemas from this schema's folder"
missing="$WORK/alone/prediction.avsc cannot be read (No such file or directory)"
for command in learn serve; do
    # 127.0.0.1:1: refused at once, should the check not stop it first
    out=$("$RIFFLE" "$command" -c "$WORK/alone.cfg" --brokers 127.0.0.1:1 2>&1) &&
        fail "$command accepted a schema without the output schemas: $out"
    [[ "$out" == *"$alone, and $missing"* ]] ||
        fail "$command, output schemas missing: $out"
done
out=$("$RIFFLE" check -c "$WORK/alone.cfg" 2>&1) || fail "check refused: $out"
[[ "$out" == *"warn"*"$alone, and $WORK/alone/prediction.avsc cannot be read"* &&
   "$out" == *"alone.cfg: ok"* ]] || fail "check, output schemas missing: $out"
out=$("$RIFFLE" train -c "$WORK/alone.cfg" --snapshot "$WORK/x.snap" 2>&1) &&
    fail "train --snapshot without model_snapshot.avsc: $out"
[[ "$out" == *"$alone: $WORK/alone/model_snapshot.avsc: No such file or directory"* ]] ||
    fail "train --snapshot, schema missing: $out"
cp schemas/{prediction,dead_letter,model_snapshot,metrics,alert}.avsc "$WORK/alone/"
out=$("$RIFFLE" check -c "$WORK/alone.cfg" 2>&1) || fail "output schemas copied: $out"
[[ "$out" != *warn* ]] || fail "output schemas copied, still a warning: $out"

# A configuration without source.path (config/adult_pii.cfg has none)
# says what to do, in every command that reads a file; train once tried
# to open "" and said only "No such file or directory".
for command in train "simulate --learners 2"; do
    rc=0
    out=$("$RIFFLE" $command -c config/adult_pii.cfg 2>&1) || rc=$?
    [[ $rc == 1 ]] || fail "$command without an input: exit status $rc: $out"
    [[ "$out" == *"config/adult_pii.cfg: no input: set source.path or pass --file"* ]] ||
        fail "$command without an input: $out"
done
# check accepts such a configuration (--file can name the input) but
# says so, as it says when source.path names no readable file.
out=$("$RIFFLE" check -c config/adult_pii.cfg 2>&1) || fail "check refused adult_pii.cfg: $out"
[[ $out == *"warn"*"config/adult_pii.cfg: no input: set source.path or pass --file"* &&
   $out == *"adult_pii.cfg: ok"* ]] || fail "check, no source.path: $out"
sed 's|path = "data/elec2/electricity.csv.gz"|path = "data/elec2/nope.csv"|' config/elec2.cfg \
    >"$WORK/nope.cfg"
out=$("$RIFFLE" check -c "$WORK/nope.cfg" 2>&1) || fail "check refused nope.cfg: $out"
[[ $out == *"warn"*"source.path data/elec2/nope.csv cannot be read: No such file"* &&
   $out == *"nope.cfg: ok"* ]] || fail "check, unreadable source.path: $out"
echo "PASS $TEST_NAME"
