#!/usr/bin/env bash
#
# The help agrees with the code: every command `riffle --help` lists
# answers --help with its usage; every option a command's help names is
# one the command accepts; a command line a command cannot use exits 2
# and says where the options are, while a configuration that cannot be
# loaded says what is wrong with it instead. No broker.
source "$(dirname "$0")/lib.sh"

"$RIFFLE" --help >"$WORK/help.txt" || fail "riffle --help failed"
commands=$(sed -n 's/^  \([a-z]\+\) .*/\1/p' "$WORK/help.txt" | sort -u)
[[ $(wc -w <<<"$commands") -ge 14 ]] || fail "commands listed: $commands"

for c in $commands; do
    out=$("$RIFFLE" "$c" --help 2>&1) || fail "riffle $c --help failed: $out"
    [[ $out == "usage: riffle $c"* ]] || fail "riffle $c --help: $out"

    # Unknown option: status 2 and a pointer to the help, with or without
    # a configuration that would load.
    for cfg_args in "" "-c config/elec2.cfg"; do
        rc=0
        # shellcheck disable=SC2086
        "$RIFFLE" "$c" $cfg_args --no-such-option >"$WORK/out.txt" 2>"$WORK/err.txt" \
            </dev/null || rc=$?
        err=$(cat "$WORK/err.txt")
        [[ $rc == 2 ]] || fail "riffle $c $cfg_args --no-such-option: exit status $rc"
        [[ ! -s $WORK/out.txt ]] ||
            fail "riffle $c --no-such-option wrote on stdout: $(cat "$WORK/out.txt")"
        [[ $err == *"Run 'riffle $c --help' for its options."* ]] ||
            fail "riffle $c $cfg_args --no-such-option does not point at --help: $err"
    done

    # A word the command takes no word for (a path meant for --file, say)
    # is refused before the configuration is read, not ignored.
    case $c in
        topics | watch | pseudonym) ;; # their words: tested below, and ids
        *)
            words=("$c")
            [[ $c == dlq ]] && words+=(replay)
            rc=0
            err=$("$RIFFLE" "${words[@]}" data.csv -c "$WORK/none.cfg" 2>&1) || rc=$?
            [[ $rc == 2 && $err == *"riffle ${words[*]}: unexpected argument 'data.csv'"* &&
               $err == *"Run 'riffle $c --help' for its options."* ]] ||
                fail "riffle ${words[*]} data.csv ($rc): $err"
            ;;
    esac

    # Each option the help names parses: an option the code lacks would
    # be "unrecognized"; one that needs an argument the help omits, would
    # take the next word. The configuration that follows cannot be read,
    # so nothing runs.
    for opt in $(grep -o -- '--[a-z][a-z-]*' <<<"$out" | sort -u); do
        [[ $opt == --help ]] && continue
        args=("$opt")
        grep -q -- "$opt [A-Z]" <<<"$out" && args+=(1)
        err=$("$RIFFLE" "$c" "${args[@]}" -c "$WORK/none.cfg" 2>&1) || true
        [[ $err != *"unrecognized option"* && $err != *"requires an argument"* &&
           $err != *"doesn't allow an argument"* ]] ||
            fail "riffle $c: the help names $opt, which the command refuses: $err"
    done

    # Each option of the usage lines says what it does, on a line that
    # begins with it (or with it and a sibling, "--field, --envelope");
    # --brokers is every command's and described by `riffle --help`.
    usage=$(grep -E '^usage:|^ +(\[|riffle )' <<<"$out")
    for opt in $(grep -o -- '--[a-z][a-z-]*' <<<"$usage" | sort -u); do
        [[ $opt == --brokers ]] ||
            grep -qE -- "^ +(--[a-z-]+, )?$opt([ ,]|\$)" <<<"$out" ||
            fail "riffle $c: the usage names $opt without saying what it does"
    done
done

# A configuration that cannot be read: its own error, no pointer to --help.
rc=0
err=$("$RIFFLE" train -c "$WORK/none.cfg" 2>&1) || rc=$?
[[ $rc == 2 && $err == *"none.cfg: cannot read the file"* && $err != *"--help"* ]] ||
    fail "train with a missing configuration ($rc): $err"

# produce sends one thing: options that would quietly win over another
# are refused together.
for args in "--requests --without-labels|one at most" \
    "--requests --labels l.csv|one at most" \
    "--labels l.csv --file e.csv|the labels come from --labels' own file"; do
    rc=0
    # shellcheck disable=SC2086
    err=$("$RIFFLE" produce -c config/elec2_delayed.cfg --brokers 127.0.0.1:1 \
        ${args%|*} 2>&1) || rc=$?
    [[ $rc == 2 && $err == *"${args#*|}"* && $err == *"--help' for its options."* ]] ||
        fail "produce ${args%|*} ($rc): $err"
done

# Rows sent without their label need the topic the configuration lacks:
# refused from the configuration at once, before any broker is asked
# (the requests topic was asked for as "", which the broker calls
# invalid).
for args in "config/elec2.cfg --without-labels|config/elec2.cfg: labels: --without-labels needs a labels group" \
    "config/adult.cfg --requests|config/adult.cfg: serve.requests: requests need a serve group"; do
    rc=0
    # shellcheck disable=SC2086
    err=$("$RIFFLE" produce -c ${args%|*} --brokers 127.0.0.1:1 --limit 1 2>&1) || rc=$?
    [[ $rc == 1 && $err == *"${args#*|}"* && $err != *"Invalid topic"* ]] ||
        fail "produce ${args%|*} ($rc): $err"
done

# decrypt opens one envelope or reads a topic, not both.
rc=0
err=$("$RIFFLE" decrypt -c config/elec2.cfg --brokers 127.0.0.1:1 --served --field f \
    --envelope x 2>&1) || rc=$?
[[ $rc == 2 && $err == *"--served reads a topic, --field and --envelope open one envelope"* ]] ||
    fail "decrypt --served --field --envelope ($rc): $err"

# A log level or format the logger does not know is refused, not passed
# over (an empty one is as unset).
for env in RIFFLE_LOG_LEVEL=degub RIFFLE_LOG_FORMAT=xml; do
    rc=0
    err=$(env "$env" "$RIFFLE" check -c config/elec2.cfg 2>&1) || rc=$?
    [[ $rc == 2 && $err == "riffle: $env: expected "* ]] || fail "$env ($rc): $err"
done
RIFFLE_LOG_LEVEL= RIFFLE_LOG_FORMAT= "$RIFFLE" check -c config/elec2.cfg >/dev/null 2>&1 ||
    fail "empty RIFFLE_LOG_LEVEL and RIFFLE_LOG_FORMAT refused"

# A missing or unknown word is named before the usage. A word echoed
# back shows its control bytes escaped: a terminal escape pasted by
# mistake neither reaches the terminal nor breaks the line. A
# subcommand's refusals name it after its command. A long option may be
# abbreviated: a refusal names the option it stands for, or those it
# could stand for.
esc=$'\e[31m'
for args in "topics -c config/elec2.cfg|expected create or delete" \
    "topics list -c config/elec2.cfg|unknown action or option 'list'" \
    "topics create delete -c config/elec2.cfg|expected one action, got 2 words" \
    "topics create --bogus -c config/elec2.cfg|unrecognized option '--bogus'" \
    "topics create -c|option requires an argument -- 'c'" \
    "watch -c config/elec2.cfg|riffle watch: expected a TOPIC" \
    "watch -c config/elec2.cfg predictions models|expected one TOPIC, got 2" \
    "dlq list|expected the subcommand 'replay'" \
    "check -c config/elec2.cfg a${esc}b|unexpected argument 'a\\x1b[31mb'" \
    "learn --a${esc}b|riffle learn: unrecognized option '--a\\x1b[31mb'" \
    "learn -${esc}|riffle learn: invalid option -- '\\x1b'" \
    "topics l${esc}st -c config/elec2.cfg|unknown action or option 'l\\x1b[31mst'" \
    "dlq replay --x${esc}|riffle dlq replay: unrecognized option '--x\\x1b[31m'" \
    "dlq replay -c|riffle dlq replay: option requires an argument -- 'c'" \
    "serve --config|riffle serve: option '--config' requires an argument" \
    "watch --help=${esc}|riffle watch: option '--help' doesn't allow an argument" \
    "learn --brok|riffle learn: option '--brokers' requires an argument" \
    "learn --start=x|riffle learn: option '--start-fresh' doesn't allow an argument" \
    "learn --i 3|riffle learn: option '--i' is ambiguous; possibilities: '--idle-exit' '--instance'"; do
    rc=0
    # shellcheck disable=SC2086
    "$RIFFLE" ${args%|*} >"$WORK/out.txt" 2>"$WORK/err.txt" || rc=$?
    err=$(cat "$WORK/err.txt")
    [[ $rc == 2 && $err == *"${args#*|}"* && $err == *"--help' for its options."* &&
       $err != *$'\e'* ]] || fail "riffle ${args%|*} ($rc): $err"
    [[ ! -s $WORK/out.txt ]] || fail "riffle ${args%|*} wrote on stdout: $(cat "$WORK/out.txt")"
done

rc=0
err=$("$RIFFLE" "x${esc}" 2>&1) || rc=$?
[[ $rc == 2 && $err == "riffle: unknown command 'x\x1b[31m'"* ]] ||
    fail "unknown command x\\e[31m ($rc): $err"
cp config/elec2.cfg "$WORK/ok${esc}.cfg"
out=$("$RIFFLE" check -c "$WORK/ok${esc}.cfg" 2>/dev/null) || fail "check ok\\e[31m.cfg: $out"
[[ $out == "$WORK/ok\x1b[31m.cfg: ok ("* ]] || fail "check ok\\e[31m.cfg said: $out"
rc=0
err=$("$RIFFLE" train -c "$WORK/a${esc}"$'\n.cfg' 2>&1) || rc=$?
[[ $rc == 2 && $err == *"a\x1b[31m\x0a.cfg: cannot read the file"* && $err != *$'\e'* ]] ||
    fail "a configuration path with controls ($rc): $err"

# An option's value is refused in the option's own unit.
rc=0
err=$("$RIFFLE" produce -c config/elec2.cfg --rate fast 2>&1) || rc=$?
[[ $rc == 2 && $err == *"--rate fast: expected a number of events per second"* ]] ||
    fail "produce --rate fast ($rc): $err"

# score refuses train's options, which it would ignore or act on unasked.
for opt in --snapshot --predictions; do
    rc=0
    err=$("$RIFFLE" score -c config/elec2.cfg --from-snapshot x.snap "$opt" "$WORK/out" 2>&1) ||
        rc=$?
    [[ $rc == 2 && $err == *"$opt is train's option, not score's"* &&
       $err == *"Run 'riffle score --help'"* && ! -e $WORK/out ]] ||
        fail "score $opt ($rc): $err"
done

# A snapshot that cannot be written is named as given, with the reason
# (before the file is learned: test_train_outputs.sh), and leaves no
# temporary file behind.
mkdir "$WORK/snap-dir"
for target in "$WORK/no-dir/e.snap" "$WORK/snap-dir"; do
    rc=0
    err=$("$RIFFLE" train -c config/elec2.cfg --snapshot "$target" 2>&1 >/dev/null) || rc=$?
    [[ $rc == 1 && $err == *"error train: --snapshot $target: "* ]] ||
        fail "train --snapshot $target ($rc): $err"
    [[ ! -e $target.tmp ]] || fail "train --snapshot $target left $target.tmp"
done

# A run that fails prints no summary that would read like an empty run:
# status 1 and an error line naming what failed (here, before a broker
# is needed).
for args in "produce -c config/elec2.cfg --file $WORK/absent.csv" \
    "produce -c config/elec2_delayed.cfg --labels $WORK/absent.csv"; do
    rc=0
    # shellcheck disable=SC2086
    "$RIFFLE" $args --no-progress >"$WORK/out.txt" 2>"$WORK/err.txt" || rc=$?
    [[ $rc == 1 && $(cat "$WORK/err.txt") == *"absent.csv"* ]] ||
        fail "riffle $args ($rc): $(cat "$WORK/err.txt")"
    [[ ! -s $WORK/out.txt ]] || fail "riffle $args printed: $(cat "$WORK/out.txt")"
done

# score writes what its help says where it says: rows on stdout, the
# held-out metrics on stderr.
"$RIFFLE" score --help | grep -q "metrics as one JSON line on stderr" ||
    fail "score's help does not say where the metrics go"
"$RIFFLE" train -c config/elec2.cfg --snapshot "$WORK/e.snap" >/dev/null 2>&1 ||
    fail "train --snapshot failed"
"$RIFFLE" score -c config/elec2.cfg --from-snapshot "$WORK/e.snap" \
    --file tests/fixtures/elec2_bad_rows.csv >"$WORK/rows.jsonl" 2>"$WORK/score.err" ||
    fail "score failed: $(tail -2 "$WORK/score.err")"
assert_eq "$(riffle_json "$WORK/rows.jsonl" 'all("event_id" in r for r in rows)')" True \
    "score's stdout: rows only"
assert_eq "$(tail -1 "$WORK/score.err" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"])')" \
    207 "score's held-out summary on stderr"

# simulate learns with one learner unless told otherwise, as its help says.
"$RIFFLE" simulate --help | grep -q -- '\[--learners N\].*' ||
    fail "simulate's help shows --learners as required"
"$RIFFLE" simulate -c config/elec2.cfg --limit 100 >"$WORK/sim.json" 2>/dev/null ||
    fail "simulate without --learners failed"
assert_eq "$(riffle_json "$WORK/sim.json" 'rows[0]["learners"]')" 1 "simulate's default learners"
echo "PASS $TEST_NAME"
