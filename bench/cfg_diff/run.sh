#!/usr/bin/env bash
#
# bench/cfg_diff/run.sh - checks that a change to config/cfg.c changes
# nothing the loader does: the loader at BASE_REV and the working tree's
# load the same files, and what each makes of them (return code, error
# message, every byte of struct cfg; bench/cfg_diff/cfg_dump.c) must be
# byte-identical.
#
# Usage: bench/cfg_diff/run.sh [--all] [BASE_REV [NEW_CFG_C]]
#   --all      compare struct cfg after failed loads too (see cfg_dump.c)
#   BASE_REV   the old loader's revision (default main)
#   NEW_CFG_C  the new loader's source (default config/cfg.c)
# CFG_DIFF_OUT names the work folder (default build-cfgdiff/), so that
# two runs can go side by side.
#
# Files: config/*.cfg, every .cfg under tests/, the cfg fuzz corpus and
# regressions (tests/fuzz/ and build-fuzz/corpus/cfg/ when present), and
# the variants gen_broken.py writes of config/*.cfg. Needs build/ (for
# libriffle_core.a; scripts/build). Prints the counts compared and exits
# 1 on any difference, leaving both outputs in the work folder.

set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
readonly REPO_ROOT
readonly OUT=${CFG_DIFF_OUT:-$REPO_ROOT/build-cfgdiff}
readonly CFLAGS=(-std=c11 -O2 -g -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
                 -I"$REPO_ROOT" -isystem
                 /usr/include/x86_64-linux-gnu/openblas-pthread)

all=()
if [[ ${1:-} == --all ]]; then all=(--all); shift; fi
base=${1:-main}
new_c=$(realpath "${2:-$REPO_ROOT/config/cfg.c}")

link_dump()
{
    local cfg_c=$1 exe=$2
    local link
    link=$(sed -e 's/^.*test_cfg\.c\.o -o test_cfg //' \
        -e 's/libriffle_testutil\.a//' -e 's/[^ ]*libcmocka[^ ]*//' \
        "$REPO_ROOT/build/CMakeFiles/test_cfg.dir/link.txt")
    cc "${CFLAGS[@]}" -c "$cfg_c" -o "$exe.cfg.o"
    cc "${CFLAGS[@]}" -c "$REPO_ROOT/bench/cfg_diff/cfg_dump.c" \
        -o "$exe.dump.o"
    # cfg.o of the archive is never pulled in: $exe.cfg.o defines it all.
    (cd "$REPO_ROOT/build" && eval cc "$exe.dump.o" "$exe.cfg.o" \
        -o "$exe" "$link")
}

mkdir -p "$OUT"
git -C "$REPO_ROOT" show "$base:config/cfg.c" >"$OUT/cfg_old.c"
link_dump "$OUT/cfg_old.c" "$OUT/dump_old"
link_dump "$new_c" "$OUT/dump_new"

rm -rf "$OUT/broken"
python3 "$REPO_ROOT/bench/cfg_diff/gen_broken.py" "$OUT/broken" \
    "$REPO_ROOT"/config/*.cfg
cd "$REPO_ROOT"
{
    ls config/*.cfg
    find tests -name '*.cfg'
    ls tests/fuzz/corpus/cfg/* tests/fuzz/regressions/cfg/*
    if [[ -d build-fuzz/corpus/cfg ]]; then
        find build-fuzz/corpus/cfg -type f
    fi
    find "$OUT/broken" -type f | sort
} >"$OUT/files"

xargs -a "$OUT/files" -d '\n' "$OUT/dump_old" "${all[@]}" >"$OUT/old.txt"
xargs -a "$OUT/files" -d '\n' "$OUT/dump_new" "${all[@]}" >"$OUT/new.txt"

files=$(wc -l <"$OUT/files")
loaded=$(grep -c '^rc=0$' "$OUT/old.txt" || true)
echo "cfg_diff: $files files ($loaded load, $((files - loaded)) fail)" \
    "against $base"
if cmp -s "$OUT/old.txt" "$OUT/new.txt"; then
    echo "cfg_diff: identical ($(wc -c <"$OUT/old.txt") bytes each)"
    exit 0
fi
echo "cfg_diff: DIFFERENT, first differences:"
diff "$OUT/old.txt" "$OUT/new.txt" | head -40
exit 1
