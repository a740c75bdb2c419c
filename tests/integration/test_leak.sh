#!/usr/bin/env bash
#
# The leak test. UCI Adult, every row given a synthetic name, e-mail,
# phone number, birth date and postcode (generated here from a fixed seed:
# no real person), streams through the whole pipeline on the real broker
# with config/adult_pii.cfg, which anonymizes each of them a different way
# (pseudonym, encryption, mask, date and prefix coarsening; Laplace noise
# on capital_loss) and reports k-anonymity. Predictions carry the e-mail
# encrypted (and the name, phone and postcode anonymized): a key holder
# recovers every e-mail exactly with `riffle decrypt`, also after a key
# rotation, and a wrong key or unknown key id is refused clearly. Three
# rows break a cleaning rule, so dead letters with sealed payloads are
# among the outputs. Then every output topic
# (predictions, models, metrics, alerts, dead letters; raw bytes, headers
# and keys, and decoded JSON) and every log line of every command is
# scanned for any raw value of a personal field: zero hits, asserted.
#
# The scan is shown able to fail twice: it finds the raw values in the
# input topic, and it finds exactly the values planted in a copy of an
# output.
source "$(dirname "$0")/lib.sh"

readonly ROWS=32561
readonly BAD_ROWS="100 200 300" # hours_per_week = 150: over max = 99

cfg=$(make_config config/adult_pii.cfg)
topic() { cfg_topic "$cfg" "$1"; }

python3 - "$WORK" "$BAD_ROWS" <<'PY'
import csv, gzip, json, random, sys
work, bad = sys.argv[1], {int(b) for b in sys.argv[2].split()}
rng = random.Random(20261204)
syllables = ["ka", "lo", "mi", "ren", "tor", "vel", "qua", "zen", "bri", "dax",
             "fen", "gor", "hul", "jin", "mor", "nix", "pel", "rov", "sul", "tav"]
letters = "ABDEFGHJLNPQRSTUWXYZ"
def word(n):
    return "".join(rng.choice(syllables) for _ in range(n)).capitalize()
adult = ["age", "workclass", "fnlwgt", "education", "education_num",
         "marital_status", "occupation", "relationship", "race", "sex",
         "capital_gain", "capital_loss", "hours_per_week", "native_country"]
extra = ["full_name", "email", "phone", "birth_date", "postcode"]
personal = {c: set() for c in extra + ["marital_status", "relationship", "race",
                                      "sex", "native_country"]}
emails = {} # event id -> e-mail, for the key holder's check
row_no = 0
with open(f"{work}/adult_pii.csv", "w", newline="") as out:
    w = csv.writer(out)
    w.writerow(adult + extra + ["income"])
    for i, line in enumerate(gzip.open("data/adult/adult.data.gz", "rt"), 1):
        f = [p.strip() for p in line.split(",")]
        if len(f) != 15:
            continue
        first, last = word(2), word(3)
        row = dict(zip(adult, f[:14]))
        row.update(full_name=f"{first} {last}",
                   email=f"{first.lower()}.{last.lower()}.{i}@example.test",
                   phone=f"+1-555-01{rng.randrange(100):02d}-{i:05d}",
                   birth_date=f"{2026 - int(f[0])}-{rng.randint(1, 12):02d}-"
                              f"{rng.randint(1, 28):02d}",
                   postcode=f"ZQ{rng.randint(1, 99)} {rng.randint(1, 9)}"
                            f"{rng.choice(letters)}{rng.choice(letters)}")
        if i in bad:
            row["hours_per_week"] = "150"
        w.writerow([row[c] for c in adult + extra] + [f[14]])
        row_no += 1
        emails[f"adult-pii-{row_no}"] = row["email"]
        for c in personal:
            if row[c] != "?":
                personal[c].add(row[c])
json.dump({c: sorted(v) for c, v in personal.items()}, open(f"{work}/personal.json", "w"))
json.dump(emails, open(f"{work}/emails.json", "w"))
print("  generated", sum(map(len, personal.values())), "distinct personal values")
PY

# Every command's stderr is kept and scanned: debug logs show the most.
export RIFFLE_LOG_LEVEL=debug
run_riffle topics create -c "$cfg" >/dev/null 2>"$WORK/log-topics.log"
run_riffle produce -c "$cfg" --file "$WORK/adult_pii.csv" --no-progress \
    >"$WORK/produce.json" 2>"$WORK/log-produce.log"
assert_eq "$(riffle_json "$WORK/produce.json" 'rows[0]["produced"]')" "$ROWS" "rows produced"
run_riffle learn -c "$cfg" --idle-exit 3 >"$WORK/learn.json" 2>"$WORK/log-learn.log"
assert_eq "$(riffle_json "$WORK/learn.json" '(rows[0]["predicted"], rows[0]["dead_letters"])')" \
    "($((ROWS - 3)), 3)" "(predictions, dead letters)"
run_riffle dlq replay -c "$cfg" --dry-run --no-progress >"$WORK/replay.json" \
    2>"$WORK/log-replay.log"
assert_eq "$(riffle_json "$WORK/replay.json" \
    '(rows[0]["read"], rows[0]["undecryptable"], rows[0]["still_failing"])')" \
    "(3, 0, 3)" "dead letters opened by the key holder: (read, undecryptable, still failing)"

# The e-mail travels in each prediction encrypted; the key holder opens
# it with `riffle decrypt` and gets every original value back exactly.
# Its output holds raw values by design, so it is not among the scanned
# outputs; its log is.
run_riffle decrypt -c "$cfg" >"$WORK/decrypted.jsonl" 2>"$WORK/log-decrypt.log" ||
    fail "decrypt failed: $(tail -3 "$WORK/log-decrypt.log")"
python3 - "$WORK" "$((ROWS - 3))" <<'PY' || fail "the key holder did not recover the e-mails"
import json, sys
work, n = sys.argv[1], int(sys.argv[2])
emails = json.load(open(f"{work}/emails.json"))
rows = [json.loads(l) for l in open(f"{work}/decrypted.jsonl")]
assert len(rows) == n, (len(rows), n)
assert len({r["event_id"] for r in rows}) == n
bad = [r["event_id"] for r in rows if r["fields"]["email"] != emails[r["event_id"]]]
assert not bad, f"{len(bad)} e-mails differ, e.g. {bad[:3]}"
# The other carried fields stay as anonymized: no raw value among them.
assert all(r["fields"]["full_name"].startswith("example-1:") for r in rows)
assert all(set(r["fields"]["phone"][:-2]) == {"*"} for r in rows)
assert all(len(r["fields"]["postcode"]) == 2 for r in rows)
print(f"  test_leak: the key holder recovered {n} e-mails exactly")
PY

# After a rotation the keyring's current key is new, and the old one is
# kept to open what it sealed: decrypt still recovers the same values.
cur_key=$(cat config/secrets/encrypt.key.example)
printf 'rotated-2=%s
example-enc-1=%s
' f2aee9ce72ec46648c62dcf956f7c16ad230974f70fb0df487d48d179a044268 "$cur_key" \
    >"$WORK/rotated.keys"
sed "s|encrypt_key_file = \"[^\"]*\"|encrypt_key_file = \"$WORK/rotated.keys\"|" \
    "$cfg" >"$WORK/rotated.cfg"
run_riffle decrypt -c "$WORK/rotated.cfg" >"$WORK/decrypted-rotated.jsonl" \
    2>"$WORK/log-decrypt-rotated.log" || fail "decrypt after a rotation failed"
cmp -s "$WORK/decrypted.jsonl" "$WORK/decrypted-rotated.jsonl" ||
    fail "decrypt after a rotation gave other values"

# A wrong key under the right id, and a keyring without the id: both
# refused, with an error that says where and why (and no value).
echo ec8ea9c81af487f95f9e262cde7c5aa75b0fba9f787e0416efab572521ad7429 >"$WORK/wrong.key"
sed "s|encrypt_key_file = \"[^\"]*\"|encrypt_key_file = \"$WORK/wrong.key\"|" \
    "$cfg" >"$WORK/wrong.cfg"
rc=0
run_riffle decrypt -c "$WORK/wrong.cfg" >"$WORK/decrypted-wrong.jsonl" \
    2>"$WORK/log-decrypt-wrong.log" || rc=$?
assert_eq "$rc" 1 "decrypt with a wrong key: exit status"
refusal="$(topic predictions) \[0\] @0: field email: authentication failed: wrong key"
grep -q "error decrypt: $refusal" "$WORK/log-decrypt-wrong.log" ||
    fail "wrong key: unclear error: $(tail -2 "$WORK/log-decrypt-wrong.log")"
[[ ! -s "$WORK/decrypted-wrong.jsonl" ]] || fail "wrong key: values printed"
printf 'other-9=%s\n' "$cur_key" >"$WORK/other.keys"
sed "s|encrypt_key_file = \"[^\"]*\"|encrypt_key_file = \"$WORK/other.keys\"|" \
    "$cfg" >"$WORK/other.cfg"
rc=0
run_riffle decrypt -c "$WORK/other.cfg" >/dev/null 2>"$WORK/log-decrypt-other.log" || rc=$?
assert_eq "$rc" 1 "decrypt without the key id: exit status"
grep -q 'field email: sealed under key id "example-enc-1", which the keyring does not hold' \
    "$WORK/log-decrypt-other.log" ||
    fail "unknown key id: unclear error: $(tail -2 "$WORK/log-decrypt-other.log")"

for t in predictions dead_letters models metrics alerts; do
    kcat -b "$BROKERS" -C -t "$(topic "$t")" -o beginning -e -q \
        -f 'key=%k headers=%h value=%s\n' >"$WORK/out-$t.raw" 2>/dev/null
done
for t in predictions dead-letters models metrics alerts; do
    run_riffle watch -c "$cfg" "$t" --idle-exit 2 >"$WORK/out-$t.jsonl" 2>"$WORK/log-watch-$t.log"
done
[[ -s "$WORK/out-metrics.raw" && -s "$WORK/out-models.raw" ]] ||
    fail "no metrics or model published"
# The carried e-mail envelopes are random base64 text (a fresh nonce each),
# in which a short value such as "Male" turns up by chance every few runs;
# what they hold is checked above, by opening them. They are cut out
# before the scan: every envelope text starts with the base64 of its
# fixed header (version 1, key id "example-enc-1").
envelope=$(python3 -c 'import base64; print(base64.b64encode(b"\x01\x0dexample-enc-1").decode())')
[[ ${#envelope} -eq 20 ]] || fail "unexpected envelope header"
grep -q "$envelope" "$WORK/out-predictions.raw" || fail "no envelope in the predictions"
LC_ALL=C sed -i -E "s#$envelope[A-Za-z0-9+/]*=*#<envelope>#g" "$WORK"/out-predictions.*
# k-anonymity of (age band, birth year, postcode area, country pseudonym):
# a metric on the metrics topic, a warning in the log.
assert_eq "$(riffle_json "$WORK/out-metrics.jsonl" '(lambda k: (k["k"], k["window_events"],
    0 < k["combinations_below_k"] <= k["events_below_k"] < 10000))(rows[-1]["k_anonymity"])')" \
    "(5, 10000, True)" \
    "k-anonymity metric: (k, window events, 0 < combinations below k <= their events < window)"
grep -q "warn  learn: k-anonymity: .* are shared by fewer than k = 5 events" \
    "$WORK/log-learn.log" ||
    fail "no k-anonymity warning in the learner's log"
kcat -b "$BROKERS" -C -t "$(topic input)" -o beginning -e -q -c 2000 \
    -f '%s\n' >"$WORK/input.raw" 2>/dev/null
riffle_json "$WORK/personal.json" '"\n".join([rows[0]["email"][7], rows[0]["phone"][11]])' \
    >"$WORK/planted.txt"
cat "$WORK/out-predictions.raw" "$WORK/planted.txt" >"$WORK/planted.raw"

# One fixed-string search for all values at once (grep -F matches a set of
# strings in one pass); -a reads binary Avro as text, -o names each hit.
riffle_json "$WORK/personal.json" '"\n".join(v for vs in rows[0].values() for v in vs)' \
    >"$WORK/values.txt"
scan() { LC_ALL=C grep -aoFf "$WORK/values.txt" "$@" || true; }

scan -h "$WORK/input.raw" | sort -u >"$WORK/found-input.txt"
scan -h "$WORK/planted.raw" | sort -u >"$WORK/found-planted.txt"
outputs=("$WORK"/out-* "$WORK"/log-*)
scan -H "${outputs[@]}" >"$WORK/found-outputs.txt"
note "scanned ${#outputs[@]} outputs and logs ($(cat "${outputs[@]}" | wc -c) bytes) for" \
    "$(wc -l <"$WORK/values.txt") raw personal values; the first 2000 input messages" \
    "hold $(wc -l <"$WORK/found-input.txt") of them"
(($(wc -l <"$WORK/found-input.txt") >= 4 * 2000)) ||
    fail "the scan does not find the raw values in the input topic"
assert_eq "$(tr '\n' ' ' <"$WORK/found-planted.txt")" "$(sort "$WORK/planted.txt" | tr '\n' ' ')" \
    "values found in the planted copy"
[[ ! -s "$WORK/found-outputs.txt" ]] ||
    fail "$(wc -l <"$WORK/found-outputs.txt") raw personal values in outputs," \
        "e.g. $(head -5 "$WORK/found-outputs.txt")"
echo "PASS $TEST_NAME"
