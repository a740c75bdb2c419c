# tests/integration/lib.sh - shared helpers for the integration tests.
#
# Each test runs against the real broker that scripts/test started
# (RIFFLE_BROKERS), from the repo root, with its own topics: make_config
# copies a bundled configuration with every topic and the group renamed
# under a unique prefix, so tests never see each other's messages.
# Sourced, not run.

set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RIFFLE=${RIFFLE_BIN:-$REPO_ROOT/build/riffle}
BROKERS=${RIFFLE_BROKERS:-127.0.0.1:19092}
TEST_NAME=$(basename "$0" .sh)
WORK=$(mktemp -d "/tmp/riffle-$TEST_NAME.XXXXXX")
export RIFFLE_LOG_LEVEL=${RIFFLE_LOG_LEVEL:-info}
cd "$REPO_ROOT"

cleanup_work() { rm -rf "$WORK"; }
trap cleanup_work EXIT

fail() { echo "FAIL $TEST_NAME: $*" >&2; exit 1; }
note() { echo "  $TEST_NAME: $*"; }

# assert_eq ACTUAL EXPECTED WHAT
assert_eq()
{
    [[ "$1" == "$2" ]] || fail "$3: got '$1', expected '$2'"
}

# make_config BASE_CFG -> path of a copy with unique topics and group
make_config()
{
    local base=$1 prefix out
    prefix="t$(date +%s%N | tail -c 9)-$RANDOM"
    out=$WORK/$(basename "$base")
    sed -e "s/\"riffle\./\"$prefix./g" \
        -e "s/group_id = \"[^\"]*\"/group_id = \"$prefix-group\"/" \
        "$base" >"$out"
    echo "$out"
}

# riffle_json FILE EXPR -> evaluates a Python expression over the JSON
# lines in FILE, bound to `rows`.
riffle_json()
{
    python3 - "$1" "$2" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
print(eval(sys.argv[2]))
PY
}

run_riffle() { "$RIFFLE" "$@" --brokers "$BROKERS"; }

# cfg_topic CFG KEY -> the topic a configuration names under topics.KEY
# The topic named KEY in the config's `topics` group (other groups, such as
# `serve`, have keys of the same name).
cfg_topic()
{
    sed -n '/^topics = {/,/^};/p' "$1" | sed -n "s/^ *$2 = \"\([^\"]*\)\".*/\1/p"
}
