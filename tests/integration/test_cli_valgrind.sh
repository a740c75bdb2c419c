#!/usr/bin/env bash
#
# The file commands under valgrind. The unit tests run under valgrind in
# scripts/test, but the command-line paths around them (reading a file
# row by row, reporting a bad row, writing snapshots and prediction
# files, scoring) are only exercised here: `riffle train` and `riffle
# score` run on the first rows of each bundled set, on a file of bad
# rows, on a truncated gzip file, on bytes that are not text and on good
# and damaged Avro containers, and any read of uninitialised memory,
# invalid access or definite leak fails.
# (A train run once copied an unset error buffer at the end of every
# file; valgrind reported it and nothing else did.)
#
# Needs no broker; skipped when valgrind is missing.
source "$(dirname "$0")/lib.sh"

command -v valgrind >/dev/null || { echo "SKIP $TEST_NAME: no valgrind"; exit 77; }

readonly ROWS=1500
# valgrind cannot run the sanitized build the other tests use
readonly PLAIN=${RIFFLE_PLAIN_BIN:-$REPO_ROOT/build/riffle}

under_valgrind()
{
    local log=$1
    shift
    valgrind -q --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite --log-file="$log" "$PLAIN" "$@"
}

# Each run is slow under valgrind and the runs are independent (each has
# its own files in $WORK), so they go JOBS at a time, one per core, and
# are checked afterwards in the order they were started.
readonly JOBS=2

# start_run NAME OUT ARGS...: riffle ARGS under valgrind in the background
# (its report in $WORK/NAME.vg, stdout to OUT, stderr to $WORK/NAME.log,
# its exit status to $WORK/NAME.rc), once fewer than JOBS others run
start_run()
{
    local name=$1 out=$2
    shift 2
    while (($(jobs -rp | wc -l) >= JOBS)); do wait -n || true; done
    (
        rc=0
        under_valgrind "$WORK/$name.vg" "$@" >"$out" 2>"$WORK/$name.log" || rc=$?
        echo "$rc" >"$WORK/$name.rc"
    ) &
}

# run_rc NAME: rc, the exit status of the run NAME, once all have ended
run_rc()
{
    [[ -s $WORK/$1.rc ]] || fail "$1: the run left no exit status"
    rc=$(<"$WORK/$1.rc")
}

# check_clean NAME RC: the command ran as expected and valgrind was silent
check_clean()
{
    local name=$1 rc=$2
    [[ $rc != 99 && ! -s $WORK/$name.vg ]] ||
        fail "$name: valgrind reported errors: $(head -30 "$WORK/$name.vg")"
}

first_rows()
{
    gzip -dc "$1" | head -n "$ROWS" >"$2" || true
}

first_rows data/elec2/electricity.csv.gz "$WORK/elec2.csv"
first_rows data/adult/adult.data.gz "$WORK/adult.csv"
first_rows data/adult/adult.test.gz "$WORK/adult_test.csv"
first_rows data/ctr_kddcup2012/Click_prediction_small.csv.gz "$WORK/ctr.csv"

# Each set: train with a snapshot and the progressive predictions, then
# score held-out rows with that snapshot; the results must be real ones.
for set in elec2 adult ctr; do
    start_run "$set-train" "$WORK/$set-train.json" train -c "config/$set.cfg" \
        --file "$WORK/$set.csv" --snapshot "$WORK/$set.snap" --predictions "$WORK/$set.jsonl"
done
wait
for set in elec2 adult ctr; do
    run_rc "$set-train"
    check_clean "$set-train" "$rc"
    [[ $rc == 0 ]] || fail "$set train exited $rc: $(tail -3 "$WORK/$set-train.log")"
    learned=$(riffle_json "$WORK/$set-train.json" 'rows[0]["learned"]')
    (( learned > ROWS - 10 )) || fail "$set: only $learned events learned"
    assert_eq "$(wc -l <"$WORK/$set.jsonl")" "$learned" "$set progressive predictions"
done

# The rest needs only adult's snapshot: all of it runs first, then each
# result is checked.
start_run score "$WORK/scores.jsonl" score -c config/adult.cfg \
    --from-snapshot "$WORK/adult.snap" --file "$WORK/adult_test.csv"
start_run bad-rows "$WORK/bad-rows.json" train -c config/elec2.cfg \
    --file tests/fixtures/elec2_bad_rows.csv
gzip -c "$WORK/elec2.csv" >"$WORK/whole.csv.gz"
head -c "$(( $(stat -c %s "$WORK/whole.csv.gz") / 2 ))" "$WORK/whole.csv.gz" \
    >"$WORK/truncated.csv.gz"
start_run truncated /dev/null train -c config/elec2.cfg --file "$WORK/truncated.csv.gz"
head -c 30000 /dev/urandom >"$WORK/noise.csv"
start_run noise /dev/null train -c config/elec2.cfg --file "$WORK/noise.csv"
for avro in tests/fixtures/avro/*.avro; do
    name=avro-$(basename "$avro" .avro)
    start_run "$name" "$WORK/$name.json" train -c config/elec2.cfg --file "$avro"
done
wait

run_rc score
check_clean score "$rc"
# the test split's first line is UCI's comment line: reported, skipped
assert_eq "$(wc -l <"$WORK/scores.jsonl")" "$((ROWS - 1))" "rows scored"

# Bad input: each is refused or reported with its place, never a crash.
run_rc bad-rows
check_clean bad-rows "$rc"
grep -q "elec2_bad_rows.csv:[0-9]" "$WORK/bad-rows.log" ||
    fail "bad rows were not reported with their line: $(head -3 "$WORK/bad-rows.log")"

run_rc truncated
check_clean truncated "$rc"
[[ $rc == 1 ]] && grep -q "truncated.csv.gz:[0-9]*: .*unexpected end of file" \
    "$WORK/truncated.log" ||
    fail "a truncated gzip file was not named: $(head -3 "$WORK/truncated.log")"

run_rc noise
check_clean noise "$rc"
grep -q "noise.csv:" "$WORK/noise.log" ||
    fail "bytes that are not text were not reported: $(head -3 "$WORK/noise.log")"

# Avro containers (tests/fixtures/avro, written by make.py there): the
# good ones train, each damaged one is refused naming the file, and none
# leaks. avro-c leaked when it failed to open a container (a truncated
# header, a schema that is not JSON, an unknown codec, a first block
# that cannot be read or decoded, deflate, snappy or lzma) and allocated
# what a block header or a snappy length claimed; riffle
# now checks the container before avro-c sees it (producers/avro_check.h).
for avro in tests/fixtures/avro/*.avro; do
    name=avro-$(basename "$avro" .avro)
    run_rc "$name"
    check_clean "$name" "$rc"
    case $name in
    avro-good) assert_eq "$(riffle_json "$WORK/$name.json" 'rows[0]["learned"]')" 10 "$name" ;;
    avro-good-deflate | avro-good-snappy | avro-good-lzma)
        assert_eq "$(riffle_json "$WORK/$name.json" 'rows[0]["learned"]')" 20 "$name" ;;
    avro-deflate-trailing)
        assert_eq "$(riffle_json "$WORK/$name.json" 'rows[0]["learned"]')" 10 "$name" ;;
    *) [[ $rc == 1 ]] && grep -q "error train: $avro: " "$WORK/$name.log" ||
        fail "$name: exit $rc, not refused by name: $(tail -2 "$WORK/$name.log")" ;;
    esac
done
grep -q "unknown-codec.avro: not a readable Avro container file: the codec \"brotli\"" \
    "$WORK/avro-unknown-codec.log" ||
    fail "unknown codec: $(tail -1 "$WORK/avro-unknown-codec.log")"
grep -q "block 2 is longer than the rest of the file (byte " \
    "$WORK/avro-second-size-over-file.log" ||
    fail "oversize block: $(tail -1 "$WORK/avro-second-size-over-file.log")"

echo "PASS $TEST_NAME"
