#!/usr/bin/env bash
#
# tests/integration/test_compose.sh - docker-compose.yml is valid and
# defines the services the demo needs.
#
# Runs `docker compose config`, which parses, interpolates and checks the
# file without a Docker engine, so it works on machines that have only the
# client. It does not build the image or start anything.
#
# Exit status: 0 pass, 1 fail, 77 skipped (no docker client or no compose
# plugin) - the automake/ctest convention for "skipped".

set -euo pipefail

readonly REQUIRED_SERVICES=(kafka topics learner producer)

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
COMPOSE_FILE=$REPO_ROOT/docker-compose.yml
readonly REPO_ROOT COMPOSE_FILE

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

# A client without the compose plugin cannot validate anything either;
# that is a missing tool, not a broken file, so it skips too.
require_compose()
{
    command -v docker >/dev/null 2>&1 || skip "docker client not installed"
    docker compose version >/dev/null 2>&1 ||
        skip "docker compose plugin not installed"
}

check_config_valid()
{
    local out

    [[ -f $COMPOSE_FILE ]] || fail "$COMPOSE_FILE not found"
    out=$(docker compose -f "$COMPOSE_FILE" config -q 2>&1) ||
        fail "docker compose config rejected $COMPOSE_FILE: $out"
}

check_services()
{
    local services svc missing=()

    services=$(docker compose -f "$COMPOSE_FILE" config --services 2>&1) ||
        fail "docker compose config --services failed: $services"
    for svc in "${REQUIRED_SERVICES[@]}"; do
        grep -qx -- "$svc" <<<"$services" || missing+=("$svc")
    done
    ((${#missing[@]} == 0)) ||
        fail "services missing from $COMPOSE_FILE: ${missing[*]}" \
             "(found: $(tr '\n' ' ' <<<"$services"))"
}

main()
{
    require_compose
    check_config_valid
    check_services
    echo "PASS: docker-compose.yml is valid and defines" \
         "${REQUIRED_SERVICES[*]}"
}

main "$@"
