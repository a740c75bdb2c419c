#!/usr/bin/env bash
#
# The leak test. UCI Adult, every row given a synthetic name, e-mail,
# phone number, birth date and postcode (generated here from a fixed seed:
# no real person), streams through the whole pipeline on the real broker
# with config/adult_pii.cfg, which anonymizes each of them a different way
# (pseudonym, encryption, mask, date and prefix coarsening; Laplace noise
# on capital_loss) and reports k-anonymity. Three rows break a cleaning rule, so dead letters with
# sealed payloads are among the outputs. Then every output topic
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
        for c in personal:
            if row[c] != "?":
                personal[c].add(row[c])
json.dump({c: sorted(v) for c, v in personal.items()}, open(f"{work}/personal.json", "w"))
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

for t in predictions dead_letters models metrics alerts; do
    kcat -b "$BROKERS" -C -t "$(topic "$t")" -o beginning -e -q \
        -f 'key=%k headers=%h value=%s\n' >"$WORK/out-$t.raw" 2>/dev/null
done
for t in predictions dead-letters models metrics alerts; do
    run_riffle watch -c "$cfg" "$t" --idle-exit 2 >"$WORK/out-$t.jsonl" 2>"$WORK/log-watch-$t.log"
done
[[ -s "$WORK/out-metrics.raw" && -s "$WORK/out-models.raw" ]] ||
    fail "no metrics or model published"
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
