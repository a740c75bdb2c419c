#!/usr/bin/env bash
#
# riffle over TLS with SASL authentication and Kafka ACLs. The test makes
# its own CA, broker certificate and users (scripts/kafka-secure-setup),
# starts a second local broker whose client listener is SASL_SSL with
# ACLs enforced, grants each role its ACLs with `riffle acls` (and the
# transactional ids with Kafka's kafka-acls), and shows:
#   - the pipeline working over SASL_SSL: producer -> learner -> a
#     subscriber reading every prediction (SCRAM-SHA-512), a scoring
#     replica answering requests; a subscriber logging in with PLAIN;
#   - a wrong password, and a CA that does not match, stopping the command
#     at once with exit status 3 and a plain message;
#   - each role refused where it does not belong (topic authorization);
#   - no password in any log line.
source "$(dirname "$0")/lib.sh"

readonly EVENTS=3000
readonly LABELS=50
readonly REQUESTS=200

base_port=${BROKERS##*:}
readonly PORT=$((base_port + 2)) # +3 controller, +4 internal listener
readonly SECURE=$WORK/secure
export RIFFLE_RUN_DIR=$WORK/run

kafka() { RIFFLE_KAFKA_PORT=$PORT RIFFLE_KAFKA_SECURE_DIR=$SECURE scripts/kafka "$@"; }
stop_broker() { kafka stop >/dev/null 2>&1 || true; }
trap 'stop_broker; cleanup_work' EXIT

scripts/kafka-secure-setup "$SECURE" producer learner scorer subscriber >/dev/null
kafka start --fresh >"$WORK/kafka.log" 2>&1 || fail "secure broker: $(tail -5 "$WORK/kafka.log")"

cfg=$(make_config config/elec2.cfg)
# Delayed labels: the producer writes them, the learner reads them.
labels_topic="$(cfg_topic "$cfg" input).labels"
cat >>"$cfg" <<CFG
labels = { topic = "$labels_topic"; };
CFG
secure_kafka='kafka = {\n  security_protocol = "sasl_ssl";\n  sasl_mechanism = "SCRAM-SHA-512";'
sed -i "s|^kafka = {|$secure_kafka\n  ssl_ca_file = \"$SECURE/ca.pem\";|" "$cfg"
# The replica runs exactly once too, so that both transactional-id
# bindings riffle cannot create are needed, and used.
sed -i 's|^serve = {|serve = {\n  delivery = "exactly_once";|' "$cfg"
sed 's/id_prefix = "elec2"/id_prefix = "late"/' "$cfg" >"$WORK/late.cfg"
plain_cfg=$WORK/plain.cfg
sed 's/sasl_mechanism = "SCRAM-SHA-512"/sasl_mechanism = "PLAIN"/' "$cfg" >"$plain_cfg"
secure_brokers=127.0.0.1:$PORT

# as USER CMD... -> riffle as that user; stdout and stderr to $WORK/USER.N
n=0
as()
{
    local user=$1
    shift
    n=$((n + 1))
    last=$WORK/$user.$n
    RIFFLE_KAFKA_SASL_USERNAME=$user RIFFLE_KAFKA_SASL_PASSWORD_FILE=$SECURE/$user.password \
        "$RIFFLE" "$@" --brokers "$secure_brokers" >"$last.out" 2>"$last.err"
}
expect_ok() { "$@" || fail "$* failed: $(tail -3 "$last.err")"; }
# expect_refused WHAT CMD... -> the command fails naming the authorization
expect_refused()
{
    local what=$1
    shift
    if "$@"; then fail "$what was allowed"; fi
    grep -q "authorization failed" "$last.err" ||
        fail "$what: no authorization error: $(tail -3 "$last.err")"
    note "refused: $what ($(grep -m1 -o '[a-z]*: [^:]*: Broker: [A-Za-z ]*authorization failed' \
        "$last.err"))"
}

expect_ok as admin topics create -c "$cfg"
# The exactly-once learner's and replicas' transactional ids, with
# Kafka's own tool (librdkafka 2.0.2 cannot create those bindings), as
# `riffle acls` prints them. First: the metadata log applies ACLs in
# order, so once `riffle acls` sees its own bindings enforced, these are
# too.
RIFFLE_KAFKA_SASL_USERNAME=admin RIFFLE_KAFKA_SASL_PASSWORD_FILE=$SECURE/admin.password \
    "$RIFFLE" acls -c "$cfg" --learner learner --scorer scorer --dry-run |
    sed -n 's/^  kafka-acls.sh .* --add /--add /p' >"$WORK/txn-acls.txt"
assert_eq "$(wc -l <"$WORK/txn-acls.txt")" 2 "transactional-id lines printed"
# Each role's id follows its own delivery mode: an at-least-once learner
# or replica has none to grant.
sed 's|^  delivery = "exactly_once";|  delivery = "at_least_once";|' "$cfg" >"$WORK/serve-alo.cfg"
cp "$cfg" "$WORK/learn-alo.cfg"
echo 'delivery = { mode = "at_least_once"; };' >>"$WORK/learn-alo.cfg"
group=$(sed -n 's/^ *group_id = "\([^"]*\)".*/\1/p' "$cfg")
for variant in serve-alo learn-alo; do
    RIFFLE_KAFKA_SASL_USERNAME=admin RIFFLE_KAFKA_SASL_PASSWORD_FILE=$SECURE/admin.password \
        "$RIFFLE" acls -c "$WORK/$variant.cfg" --learner learner --scorer scorer --dry-run |
        grep '^  kafka-acls.sh ' >"$WORK/$variant.txt" || true
    assert_eq "$(wc -l <"$WORK/$variant.txt")" 1 "$variant: transactional-id lines"
done
grep -q "User:learner .*--transactional-id $group-learner\$" \
    "$WORK/serve-alo.txt" || fail "serve-alo: $(cat "$WORK/serve-alo.txt")"
grep -q "User:scorer .*--transactional-id $group-serve- --resource-pattern-type prefixed\$" \
    "$WORK/learn-alo.txt" || fail "learn-alo: $(cat "$WORK/learn-alo.txt")"
kafka_jars=$("$REPO_ROOT/scripts/kafka" classpath) # honours RIFFLE_CACHE_DIR
while read -r -a args; do
    java -cp "$kafka_jars" kafka.admin.AclCommand \
        --bootstrap-server "$secure_brokers" --command-config "$SECURE/admin.properties" \
        "${args[@]}" </dev/null >"$WORK/kafka-acls.log" 2>&1 ||
        fail "kafka-acls ${args[*]}: $(tail -3 "$WORK/kafka-acls.log")"
done <"$WORK/txn-acls.txt"
expect_ok as admin acls -c "$cfg" --producer producer --learner learner \
    --scorer scorer --subscriber subscriber
assert_eq "$(grep -c '^granted ' "$last.out")" 33 "ACL bindings granted"
grep -q "^granted User:learner (learner): ALLOW READ on TOPIC $labels_topic\$" "$last.out" ||
    fail "no Read on the labels topic for the learner"

# The pipeline over SASL_SSL, each role as its own user.
# LABELS more events (ids late-N) come without their label, which
# follows on the labels topic.
python3 - "$WORK" "$LABELS" <<'PY'
import gzip, sys
work, n = sys.argv[1], int(sys.argv[2])
lines = gzip.open("data/elec2/electricity.csv.gz", "rt").read().splitlines()
col = lines[0].split(",").index("class")
with open(f"{work}/unlabelled.csv", "w") as ev, open(f"{work}/labels.csv", "w") as lab:
    ev.write(lines[0] + "\n")
    for i, row in enumerate(lines[1:n + 1], 1):
        f = row.split(","); lab.write(f"late-{i},{f[col]}\n"); f[col] = ""
        ev.write(",".join(f) + "\n")
PY
expect_ok as producer produce -c "$WORK/late.cfg" --file "$WORK/unlabelled.csv" --without-labels \
    --no-progress
expect_ok as producer produce -c "$cfg" --labels "$WORK/labels.csv" --no-progress
expect_ok as producer produce -c "$cfg" --limit "$EVENTS" --no-progress
expect_ok as learner learn -c "$cfg" --idle-exit 3
assert_eq "$(riffle_json "$last.out" 'rows[0]["predicted"]')" $((EVENTS + LABELS)) \
    "predictions by the learner"
assert_eq "$(riffle_json "$last.out" 'rows[0]["labels"]["joined"]')" "$LABELS" \
    "delayed labels read and joined by the learner"
expect_ok as subscriber watch -c "$cfg" predictions --idle-exit 3
assert_eq "$(wc -l <"$last.out")" $((EVENTS + LABELS)) "predictions read by the subscriber"
expect_ok as subscriber watch -c "$plain_cfg" predictions --limit 5 --idle-exit 3
assert_eq "$(wc -l <"$last.out")" 5 "predictions read with SASL PLAIN"

# A scoring replica: requests (written by the admin here: no role owns
# that topic), scored with the learner's snapshot, read by the subscriber.
expect_ok as admin produce -c "$cfg" --requests --limit "$REQUESTS" --no-progress
expect_ok as scorer serve -c "$cfg" --max-requests "$REQUESTS" --idle-exit 5
expect_ok as subscriber watch -c "$cfg" served --idle-exit 3
assert_eq "$(wc -l <"$last.out")" "$REQUESTS" "served predictions"

# Each role where it does not belong.
expect_refused "producer reading predictions" as producer watch -c "$cfg" predictions --idle-exit 3
expect_refused "producer learning" as producer learn -c "$cfg" --idle-exit 3
expect_refused "learner writing the input topic" as learner produce -c "$cfg" --limit 5 \
    --no-progress
expect_refused "learner reading the served predictions" as learner watch -c "$cfg" served \
    --idle-exit 3
expect_refused "scorer reading the input topic" as scorer watch -c "$cfg" input --idle-exit 3
expect_refused "scorer writing the input topic" as scorer produce -c "$cfg" --limit 5 --no-progress
expect_refused "subscriber reading the model topic" as subscriber watch -c "$cfg" models \
    --idle-exit 3
expect_refused "subscriber writing the input topic" as subscriber produce -c "$cfg" --limit 5 \
    --no-progress

# Wrong credentials and an unknown CA stop at once with status 3.
rc=0
RIFFLE_KAFKA_SASL_USERNAME=learner RIFFLE_KAFKA_SASL_PASSWORD=not-the-password \
    "$RIFFLE" learn -c "$cfg" --brokers "$secure_brokers" --idle-exit 3 \
    >/dev/null 2>"$WORK/wrong.err" || rc=$?
assert_eq "$rc" 3 "exit status with a wrong password"
refusal="the brokers refused the connection (sasl_ssl, SCRAM-SHA-512 as user 'learner')"
grep -q "error kafka: $refusal" "$WORK/wrong.err" ||
    fail "no clear error for a wrong password: $(tail -2 "$WORK/wrong.err")"
grep -q "invalid credentials" "$WORK/wrong.err" || fail "the broker's reason is missing"

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=other CA" \
    -keyout "$WORK/other.key" -out "$WORK/other.pem" 2>/dev/null
sed "s|$SECURE/ca.pem|$WORK/other.pem|" "$cfg" >"$WORK/other.cfg"
rc=0
RIFFLE_KAFKA_SASL_USERNAME=learner RIFFLE_KAFKA_SASL_PASSWORD_FILE=$SECURE/learner.password \
    "$RIFFLE" watch -c "$WORK/other.cfg" --brokers "$secure_brokers" predictions \
    --idle-exit 3 >/dev/null 2>"$WORK/ca.err" || rc=$?
assert_eq "$rc" 3 "exit status with an untrusted broker certificate"
grep -q "SSL handshake failed" "$WORK/ca.err" || fail "no TLS error: $(tail -2 "$WORK/ca.err")"

# No password in any of riffle's output.
while read -r user password; do
    if grep -rqF -- "$password" "$WORK"/*.err "$WORK"/*.out 2>/dev/null; then
        fail "the password of $user appears in riffle's output"
    fi
done <"$SECURE/users"
echo "PASS $TEST_NAME"
