#!/usr/bin/env bash
#
# The HTTP endpoint of `riffle serve`: 503 before a model exists, then a
# valid request, malformed JSON, missing and unknown fields, an event
# cleaning refuses, oversize bodies (declared and chunked), a wrong
# content type, method and path, heads over the limits (long query string,
# many arguments, large headers), and slow clients (one that stalls, one
# that trickles its body, one its head): each gets its status or a cut,
# and the service answers valid requests throughout and stops cleanly.
source "$(dirname "$0")/lib.sh"

# The HTTP port sits 20 above the broker's, inside the range of whoever
# runs the suite.
readonly HTTP_PORT=$((${BROKERS##*:} + 20))
readonly MODEL_EVENTS=2000
readonly WAIT_S=60

server=
stop_server() { [[ -z $server ]] || kill -TERM "$server" 2>/dev/null || true; }
trap 'stop_server; cleanup_work' EXIT

cfg=$(make_config config/elec2.cfg)
sed -i -e "s/http_port = 0;/http_port = $HTTP_PORT; http_timeout_seconds = 1.0;/" \
    -e 's/partitions = 2;/partitions = 2; http_max_body_bytes = 2048;/' "$cfg"
grep -q "http_port = $HTTP_PORT" "$cfg" || fail "could not set the HTTP port"
run_riffle topics create -c "$cfg" >/dev/null

"$RIFFLE" serve -c "$cfg" --brokers "$BROKERS" >"$WORK/serve.json" \
    2>"$WORK/serve.log" &
server=$!

python3 - "$HTTP_PORT" "$WAIT_S" "$MODEL_EVENTS" "$RIFFLE" "$cfg" "$BROKERS" <<'PY'
import http.client, json, socket, subprocess, sys, time

port, wait_s, model_events = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
riffle, cfg, brokers = sys.argv[4:7]
JSON = {"Content-Type": "application/json"}
NUMBERS = {"date": 0.5, "period": 0.25, "nswdemand": 0.4, "vicprice": 0.003,
           "vicdemand": 0.42, "transfer": 0.41}

def request(method, path, body=None, headers=JSON):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=wait_s)
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, json.loads(data) if data else None

def expect(what, got, status, key=None, part=None):
    if got[0] != status:
        sys.exit(f"FAIL {what}: status {got[0]}, expected {status}: {got[1]}")
    if key and part not in str(got[1].get(key)):
        sys.exit(f"FAIL {what}: {key} = {got[1].get(key)!r}, expected {part!r}")
    print(f"  test_serve_http: {what}: {status}")

def event(**fields):
    return json.dumps(dict(NUMBERS, **fields))

deadline = time.time() + wait_s
while True:
    try:
        got = request("GET", "/healthz")
        break
    except OSError:
        if time.time() > deadline:
            sys.exit("FAIL: the HTTP endpoint never came up")
        time.sleep(0.2)
expect("health before any model", got, 503, "error", "no model")
expect("predict before any model",
       request("POST", "/v1/predict", event(event_id="a", day=3, nswprice=0.1)),
       503)

def run(*args):
    subprocess.run([riffle, *args, "-c", cfg, "--brokers", brokers], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
run("produce", "--limit", str(model_events), "--no-progress")
run("learn", "--idle-exit", "2")
while request("GET", "/healthz")[0] != 200:
    if time.time() > deadline:
        sys.exit("FAIL: the model never got served")
    time.sleep(0.2)
expect("health", request("GET", "/healthz"), 200, "model_version", str(model_events))

ok = request("POST", "/v1/predict", event(event_id="ok-1", day=3, nswprice=0.1))
expect("valid request", ok, 200, "model_version", str(model_events))
assert ok[1]["event_id"] == "ok-1" and ok[1]["predicted_label"] in ("UP", "DOWN"), ok
assert 0.0 <= ok[1]["probability"] <= 1.0, ok
again = request("POST", "/v1/predict", event(event_id="ok-1", day=3, nswprice=0.1))
assert again[1]["value"] == ok[1]["value"], ("serving learned something", again, ok)

expect("malformed JSON", request("POST", "/v1/predict", '{"event_id": "x", '),
       400, "error", "not JSON")
expect("missing id", request("POST", "/v1/predict", event(day=3, nswprice=0.1)),
       422, "error", "field 'event_id': missing")
expect("unknown field", request("POST", "/v1/predict",
       event(event_id="u", day=3, nswprice=0.1, price=1)), 422, "error",
       "unknown field 'price'")
expect("mistyped field", request("POST", "/v1/predict",
       event(event_id="t", day="Monday", nswprice=0.1)), 422, "error",
       "field 'day': found a string, expected a number")
expect("refused by cleaning", request("POST", "/v1/predict",
       event(event_id="c", nswprice=0.1)), 422, "refused", "missing_required")
expect("out of range", request("POST", "/v1/predict",
       event(event_id="r", day=3, nswprice=7.0)), 422, "refused", "out_of_range")
big = event(event_id="b" * 4000, day=3, nswprice=0.1)
expect("oversize body", request("POST", "/v1/predict", big), 413, "error",
       "over the limit")
def chunks():
    for i in range(0, len(big), 500):
        yield big[i:i + 500].encode()
c = http.client.HTTPConnection("127.0.0.1", port, timeout=wait_s)
c.request("POST", "/v1/predict", body=chunks(), headers=JSON,
          encode_chunked=True)
r = c.getresponse()
expect("oversize chunked body", (r.status, json.loads(r.read())), 413)
c.close()
expect("wrong content type", request("POST", "/v1/predict", "day=3",
       {"Content-Type": "application/x-www-form-urlencoded"}), 415)
expect("wrong method", request("GET", "/v1/predict"), 405)
expect("unknown path", request("POST", "/v2/predict", "{}"), 404)

# A client that stops halfway does not hold the service: others are
# answered meanwhile, and it is disconnected after the timeout (1 s).
stalled = socket.create_connection(("127.0.0.1", port), timeout=wait_s)
stalled.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
expect("valid request beside a stalled one", request("POST", "/v1/predict",
       event(event_id="ok-2", day=3, nswprice=0.2)), 200)
if stalled.recv(4096) != b"":
    sys.exit("FAIL stalled client: got an answer instead of a disconnect")
print("  test_serve_http: stalled client: disconnected")
stalled.close()

# One that trickles a byte at a time, never idle for the timeout, gets 408.
body = event(event_id="slow", day=3, nswprice=0.2).encode()
slow = socket.create_connection(("127.0.0.1", port), timeout=wait_s)
slow.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: "
             b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
for i in range(0, len(body), len(body) // 4):
    slow.sendall(body[i:i + len(body) // 4])
    time.sleep(0.4)
reply = slow.recv(4096)
slow.close()
if not reply.startswith(b"HTTP/1.1 408"):
    sys.exit(f"FAIL trickling client: {reply[:60]!r}")
print("  test_serve_http: trickling client: 408")

# Heads over the limits (8 KB of request target, 16 KB of headers, 64
# query arguments) get 414 and 431 in the API's JSON; an 8 KB query once
# got no answer at all. A head sent a byte at a time is cut after the
# time budget, though it is never idle that long.
expect("long query string", request("GET", "/v1/predict?q=" + "a" * 8500),
       414, "error", "request target of 8514 bytes")
expect("many query arguments", request("GET", "/healthz?" + "&".join(
       ["a=1"] * 500)), 414, "error", "over 64 arguments")
expect("long header", request("POST", "/v1/predict", "{}", dict(
       JSON, Cookie="c" * 17000)), 431, "error", "headers of")
slow = socket.create_connection(("127.0.0.1", port), timeout=wait_s)
slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
started = time.time()
try:
    while time.time() - started < 10:
        slow.sendall(b"X")
        time.sleep(0.1)
    sys.exit("FAIL slow head: still open after 10 s")
except OSError:
    cut = time.time() - started
slow.close()
if not 0.9 < cut < 5:
    sys.exit(f"FAIL slow head: cut after {cut:.1f} s, expected 1-5 s")
print(f"  test_serve_http: slow head: cut after {cut:.1f} s")

expect("valid request at the end", request("POST", "/v1/predict",
       event(event_id="ok-3", day=5, nswprice=0.3)), 200)

# /metrics: Prometheus text with the served version and the answers so
# far (this scrape is counted only after it is answered).
c = http.client.HTTPConnection("127.0.0.1", port, timeout=wait_s)
c.request("GET", "/metrics")
r = c.getresponse()
text = r.read().decode()
c.close()
if r.status != 200 or not r.getheader("Content-Type", "").startswith("text/plain"):
    sys.exit(f"FAIL metrics: {r.status} {r.getheader('Content-Type')}")
series = dict(line.rsplit(" ", 1) for line in text.splitlines()
              if line and not line.startswith("#"))
labels = 'pipeline="elec2",model="elec2"'
def value(name, extra=""):
    return float(series[f"{name}{{{labels}{extra}}}"])
assert value("riffle_serve_model_version") == model_events, text
assert value("riffle_serve_http_responses_total", ',outcome="client_error"') == 15, text
assert value("riffle_serve_http_seconds_count") >= 18, text
assert value("riffle_serve_requests_total") == 0, text  # none from Kafka
print("  test_serve_http: metrics: 200")
expect("metrics by POST", request("POST", "/metrics", "{}"), 405)
PY
kill -TERM "$server"
wait "$server" || fail "serve did not stop cleanly: $(tail -3 "$WORK/serve.log")"
server=
# 503s also come from polling /healthz until the model is there
assert_eq "$(riffle_json "$WORK/serve.json" \
    '[rows[0]["http"][k] for k in ("ok", "client_errors", "server_errors")]')" \
    "[7, 16, 0]" "answers counted by the service (ok, client errors, server errors)"
assert_eq "$(riffle_json "$WORK/serve.json" 'rows[0]["http"]["unavailable"] >= 2')" \
    True "503 answers counted"
# Each refusal of a head is logged once, by its size, never its content.
assert_eq "$(grep -c 'warn  http: answered 414: ' "$WORK/serve.log")" 2 "414s logged"
assert_eq "$(grep -c 'warn  http: answered 431: ' "$WORK/serve.log")" 1 "431s logged"
assert_eq "$(grep -c 'closed 1 connection(s) whose request head' "$WORK/serve.log")" \
    1 "slow head logged"
assert_eq "$(grep -c 'aaaa\|cccc' "$WORK/serve.log")" 0 "request content in the log"
echo "PASS $TEST_NAME"
