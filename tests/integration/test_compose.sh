#!/usr/bin/env bash
#
# tests/integration/test_compose.sh - docker-compose.yml is valid and
# defines the stack operators run, and the monitoring it ships is sound.
#
# Runs `docker compose config`, which parses, interpolates and checks the
# file without a Docker engine, so it works on machines that have only the
# client. It does not build the image or start anything (scripts/stack and
# test_stack.sh run the same services natively). Then checks what the
# file promises: health checks, restart policies, named volumes, secrets
# from files, configs mounted read-only, two scoring replicas whose
# health check asks their HTTP /healthz, listening on the compose network
# and scraped by Prometheus (one target per replica); that every
# folder the Dockerfile's build needs is copied into it; and, with
# promtool, Prometheus's config and alert rules (and their unit tests);
# and that every metric the Grafana dashboard and the alerts query is one
# riffle exports (ops/exporter.c).
#
# Exit status: 0 pass, 1 fail, 77 skipped (no docker client or no compose
# plugin) - the automake/ctest convention for "skipped".

set -euo pipefail

readonly REQUIRED_SERVICES=(kafka topics learner scorer producer requests
                           prometheus grafana)

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

# What the resolved file says about each service, checked in Python.
check_properties()
{
    local out

    out=$(docker compose -f "$COMPOSE_FILE" config --format json |
          python3 -c '
import json, sys
d = json.load(sys.stdin)
s = d["services"]
problems = []
for name in ("kafka", "learner", "scorer", "prometheus", "grafana"):
    if not s[name].get("healthcheck", {}).get("test"):
        problems.append(f"{name} has no healthcheck")
for name in ("kafka", "learner", "scorer", "producer", "prometheus", "grafana"):
    if s[name].get("restart") in (None, "no"):
        problems.append(f"{name} has no restart policy")
if s["scorer"].get("deploy", {}).get("replicas", 1) < 2:
    problems.append("fewer than 2 scoring replicas")
for v in ("kafka-data", "prometheus-data", "grafana-data"):
    if v not in d.get("volumes", {}):
        problems.append(f"named volume {v} missing")
for name, sec in d.get("secrets", {}).items():
    if not sec.get("file"):
        problems.append(f"secret {name} is not read from a file")
cfg = [m for m in s["learner"].get("volumes", []) if m.get("target") == "/opt/riffle/config"]
if not cfg or not cfg[0].get("read_only"):
    problems.append("config/ is not mounted read-only into the learner")
if "--http" not in s["learner"]["command"]:
    problems.append("the learner does not serve /metrics")
if "--http-port" not in s["scorer"]["command"] or "/healthz" not in " ".join(
        s["scorer"].get("healthcheck", {}).get("test", [])):
    problems.append("the scorer health check does not ask its /healthz")
cmd = s["scorer"]["command"]
if "--http-address" not in cmd or cmd[cmd.index("--http-address") + 1] != "0.0.0.0":
    problems.append("the scorers listen where Prometheus cannot reach them")
if s["scorer"].get("ports"):
    problems.append("the scorers publish ports on the host")
print("; ".join(problems))
') || fail "docker compose config --format json failed"
    [[ -z $out ]] || fail "$out"
}

# Every module folder CMakeLists.txt compiles must be copied into the
# image's build stage, or `docker build` fails on a fresh machine.
check_dockerfile()
{
    local dirs dir
    dirs=$(sed -n '/^set(RIFFLE_MODULE_DIRS/,/)/p' "$REPO_ROOT/CMakeLists.txt" |
           tr -d '()' | sed 's/set//; s/RIFFLE_MODULE_DIRS//' | tr -s ' \n' '\n')
    for dir in $dirs; do
        grep -q "^COPY $dir/ $dir/" "$REPO_ROOT/Dockerfile" ||
            fail "Dockerfile does not copy $dir/ into the build stage"
    done
}

# The Debian packages behind each pkg-config module riffle links: the
# headers for the image's build stage (and scripts/install-deps), the
# shared library for its run-time stage. A module missing here fails the
# test, so that a new dependency reaches all three lists together.
readonly -A MODULE_BUILD_PACKAGE=(
    [rdkafka]=librdkafka-dev [avro-c]=libavro-dev [libconfig]=libconfig-dev
    [openblas]=libopenblas-dev [libcrypto]=libssl-dev [zlib]=zlib1g-dev
    [snappy]=libsnappy-dev [liblzma]=liblzma-dev
    [libmicrohttpd]=libmicrohttpd-dev [jansson]=libjansson-dev
)
readonly -A MODULE_RUNTIME_PACKAGE=(
    [rdkafka]=librdkafka1 [avro-c]=libavro23 [libconfig]=libconfig9
    [openblas]=libopenblas0 [libcrypto]=libssl3 [zlib]=zlib1g
    [snappy]=libsnappy1v5 [liblzma]=liblzma5
    [libmicrohttpd]=libmicrohttpd12 [jansson]=libjansson4
)

# The Dockerfile's stages and install-deps name every package riffle's
# own binary needs (the image build once lacked jansson's).
check_dockerfile_packages()
{
    local modules module build_stage runtime_stage
    modules=$(sed -n 's/^pkg_check_modules([A-Z_]* REQUIRED IMPORTED_TARGET \([^)]*\))$/\1/p' \
              "$REPO_ROOT/CMakeLists.txt")
    [[ -n $modules ]] || fail "no pkg_check_modules() lines found in CMakeLists.txt"
    build_stage=$(sed -n '/^FROM .* AS build/,/^FROM /p' "$REPO_ROOT/Dockerfile")
    runtime_stage=$(sed -n '/^FROM .* AS build/,$p' "$REPO_ROOT/Dockerfile" |
                    sed -n '2,$p' | sed -n '/^FROM /,$p')
    for module in $modules; do
        [[ -n ${MODULE_BUILD_PACKAGE[$module]:-} ]] ||
            fail "CMakeLists.txt links $module: add its packages to test_compose.sh"
        grep -qw -- "${MODULE_BUILD_PACKAGE[$module]}" <<<"$build_stage" ||
            fail "Dockerfile's build stage lacks ${MODULE_BUILD_PACKAGE[$module]} ($module)"
        grep -qw -- "${MODULE_RUNTIME_PACKAGE[$module]}" <<<"$runtime_stage" ||
            fail "Dockerfile's run-time stage lacks ${MODULE_RUNTIME_PACKAGE[$module]} ($module)"
        grep -qw -- "${MODULE_BUILD_PACKAGE[$module]}" "$REPO_ROOT/scripts/install-deps" ||
            fail "scripts/install-deps lacks ${MODULE_BUILD_PACKAGE[$module]} ($module)"
    done
}

check_monitoring()
{
    local prom=$REPO_ROOT/deploy/prometheus out
    command -v promtool >/dev/null 2>&1 || fail "promtool missing: run scripts/install-deps"
    out=$(promtool check config "$prom/prometheus.yml" 2>&1) || fail "promtool check config: $out"
    out=$(promtool check rules "$prom/alerts.yml" 2>&1) || fail "promtool check rules: $out"
    out=$(cd "$prom" && promtool test rules alerts_test.yml 2>&1) ||
        fail "promtool test rules: $out"
    out=$(python3 - "$prom/prometheus.yml" <<'PY'
import sys, yaml
jobs = {j["job_name"]: j for j in yaml.safe_load(open(sys.argv[1]))["scrape_configs"]}
scorer = jobs.get("riffle-scorer", {}).get("dns_sd_configs", [{}])[0]
ok = "learner:9464" in str(jobs.get("riffle-learner")) and \
     scorer.get("names") == ["scorer"] and scorer.get("port") == 8080
print("" if ok else f"Prometheus does not scrape the learner and every scorer: {jobs}")
PY
) || fail "scrape config check failed"
    [[ -z $out ]] || fail "$out"

    out=$(python3 - "$REPO_ROOT" <<'PY'
import json, re, sys, pathlib, yaml
root = pathlib.Path(sys.argv[1])
exporter = (root / "ops/exporter.c").read_text()
exported = set(re.findall(r'"(riffle_[a-z_]+)"', exporter))
exported |= {"riffle_progressive_" + m for m in ("accuracy", "logloss", "auc", "rmse", "mae")}
hist = {n for n in exported if n.endswith("_seconds")}
exported |= {h + s for h in hist for s in ("_bucket", "_sum", "_count")}
dash = json.loads((root / "deploy/grafana/dashboards/riffle.json").read_text())
exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
alerts = yaml.safe_load((root / "deploy/prometheus/alerts.yml").read_text())
exprs += [r["expr"] for g in alerts["groups"] for r in g["rules"]]
used = {m for e in exprs for m in re.findall(r"riffle_[a-z_]+", e)}
unknown = sorted(used - exported)
print(f"unknown metrics: {unknown}" if unknown else "")
PY
) || fail "dashboard check failed"
    [[ -z $out ]] || fail "$out"
}

main()
{
    # The Dockerfile checks need no docker client: they run first.
    check_dockerfile
    check_dockerfile_packages
    require_compose
    check_config_valid
    check_services
    check_properties
    check_monitoring
    echo "PASS: docker-compose.yml is valid and defines" \
         "${REQUIRED_SERVICES[*]}; monitoring checked by promtool"
}

main "$@"
