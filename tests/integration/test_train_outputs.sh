#!/usr/bin/env bash
#
# riffle train finds an output it cannot write before it learns: a
# --snapshot in a folder that does not exist, or naming a folder, was
# refused only when the model was saved, after the whole file had been
# learned. The predictions written on the way show whether learning ran.
# No broker needed.
source "$(dirname "$0")/lib.sh"

# expect_refused SNAPSHOT_PATH MESSAGE
expect_refused()
{
    local rc=0
    "$RIFFLE" train -c config/elec2.cfg --predictions "$WORK/p.jsonl" \
        --snapshot "$1" >"$WORK/out.json" 2>"$WORK/err.log" || rc=$?
    [[ $rc == 1 ]] || fail "--snapshot $1: exit status $rc"
    grep -qF -- "$2" "$WORK/err.log" ||
        fail "--snapshot $1: expected '$2' in: $(cat "$WORK/err.log")"
    assert_eq "$(wc -l <"$WORK/p.jsonl")" 0 "events learned before --snapshot $1 was refused"
    [[ ! -s $WORK/out.json ]] || fail "--snapshot $1: a summary was printed"
}

expect_refused "$WORK/no-such-folder/m.snap" \
    "--snapshot $WORK/no-such-folder/m.snap: cannot write the snapshot: No such file or directory (writing $WORK/no-such-folder/m.snap.tmp)"
mkdir "$WORK/folder"
expect_refused "$WORK/folder" "--snapshot $WORK/folder: cannot write the snapshot: a folder, not a file to write the model to"
note "an unwritable --snapshot is refused before any event is learned"

# A writable one is written, and the probe leaves no file of its own.
"$RIFFLE" train -c config/elec2.cfg --snapshot "$WORK/m.snap" >"$WORK/out.json" 2>"$WORK/err.log" ||
    fail "train with a writable --snapshot: $(cat "$WORK/err.log")"
[[ -s $WORK/m.snap && ! -e $WORK/m.snap.tmp ]] || fail "snapshot files: $(ls "$WORK")"
assert_eq "$(riffle_json "$WORK/out.json" 'rows[0]["learned"]')" 45312 "events learned"
echo "PASS $TEST_NAME"
