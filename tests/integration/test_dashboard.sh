#!/usr/bin/env bash
#
# The dashboard served by `riffle learn --http` shows a running pipeline
# live: Debian's headless Chromium, driven by Playwright's core library,
# loads the page once while `riffle produce` streams Elec2 into the
# learner, and the test checks that the same page's plots gain points,
# their newest values change and the model version moves on, with no
# script error. Screenshots of both moments are left in $WORK when it
# fails. Playwright's core (npm, pinned in browser/package.json) is
# installed once into .cache/node-browser.
source "$(dirname "$0")/lib.sh"

readonly NODE_DIR=$REPO_ROOT/.cache/node-browser
readonly RATE=1500   # events/s: Elec2 then lasts about 30 s
readonly WAIT_S=90   # for the learner's HTTP port; a bound

command -v chromium >/dev/null || fail "chromium missing: run scripts/install-deps"
command -v npm >/dev/null || fail "npm missing: run scripts/install-deps"
if ! cmp -s tests/integration/browser/package.json "$NODE_DIR/package.json" ||
   [[ ! -d $NODE_DIR/node_modules/playwright-core ]]; then
    mkdir -p "$NODE_DIR"
    cp tests/integration/browser/package.json "$NODE_DIR/"
    (cd "$NODE_DIR" && npm install --no-audit --no-fund --loglevel=error) >/dev/null ||
        fail "npm install of playwright-core failed"
fi
cp tests/integration/browser/check_dashboard.mjs "$NODE_DIR/"

cfg=$(make_config config/elec2.cfg)
run_riffle topics create -c "$cfg" >/dev/null

pids=()
stop_all()
{
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap 'stop_all; cleanup_work' EXIT

# The log exists before the learner opens it: the loop below may read it
# first.
: >"$WORK/learn.log"
"$RIFFLE" learn -c "$cfg" --brokers "$BROKERS" --http 127.0.0.1:0 \
    >"$WORK/learn.json" 2>"$WORK/learn.log" &
pids+=($!)
port=
for _ in $(seq "$WAIT_S"); do
    port=$(sed -n 's/.*serving \/metrics.*(port \([0-9]*\)).*/\1/p' "$WORK/learn.log")
    [[ -n $port ]] && break
    sleep 1
done
[[ -n $port ]] || fail "learn never logged its HTTP port: $(tail -3 "$WORK/learn.log")"

"$RIFFLE" produce -c "$cfg" --brokers "$BROKERS" --rate "$RATE" --no-progress \
    >"$WORK/produce.json" 2>"$WORK/produce.log" &
pids+=($!)

node "$NODE_DIR/check_dashboard.mjs" "http://127.0.0.1:$port/" "$WORK/shot" \
    >"$WORK/browser.json" 2>"$WORK/browser.log" ||
    fail "the dashboard did not update: $(tail -5 "$WORK/browser.log")"

check()
{
    python3 - "$WORK/browser.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
a, b = r["first"], r["second"]
problems = list(r["errors"])
for plot in ("plot-q1", "plot-q2", "plot-rate", "plot-lag"):
    pa, pb = a["plots"][plot], b["plots"][plot]
    if pb["points"] <= pa["points"]:
        problems.append(f"{plot}: {pa['points']} -> {pb['points']} points")
    if pb["polyline"] == pa["polyline"] or not pb["polyline"]:
        problems.append(f"{plot}: the drawn line did not change")
if int(b["version"]) <= int(a["version"]):
    problems.append(f"model version {a['version']} -> {b['version']}")
if int(b["events"]) <= int(a["events"]):
    problems.append(f"events {a['events']} -> {b['events']}")
if b["state"] != "live":
    problems.append(f"page state {b['state']!r}")
acc = float(b["plots"]["plot-q1"]["last"])
if not 0.5 < acc <= 1:
    problems.append(f"plotted accuracy {acc} is not a plausible Elec2 value")
print("; ".join(problems) if problems else
      f"ok: {a['plots']['plot-q1']['points']} -> {b['plots']['plot-q1']['points']} points, "
      f"version {a['version']} -> {b['version']}, accuracy {acc:.4f}")
PY
}
result=$(check)
[[ $result == ok:* ]] || fail "$result"
note "$result"
trap 'stop_all; rm -rf "$WORK"' EXIT
echo "PASS $TEST_NAME"
