#!/usr/bin/env python3
"""bench/compare_builds.py - do two riffle builds learn the same thing?

Speed work must leave what riffle computes unchanged, and the four bench
sets reach few of its settings: this runs `riffle train` (with
--predictions and --snapshot) and `riffle score` of two builds over
generated CSV files and a matrix of configurations, and compares the
prediction lines, the summary line (weights_digest included, the timing
fields left out) and score's lines with each other, byte for byte.

The matrix: every optimizer (sgd, adagrad, rmsprop, adam, normalized,
ftrl, ftrl with L1 and L2); binary tasks with logistic, hinge and squared
loss, a regression and a multiclass task; 10 bits (many slots shared
within one event: the merged update) and 22 (the train look ahead on);
and five field sets: plain, crossed namespaces, personal fields
(pseudonyms, a coarsened age, a mask, a drop: the reader thread's hints),
gradient clipping with L2, and transforms with missing indicators. The
files: plain rows; rows with +-1e308, subnormals and -0 and labels of
1e300; the same as the first with CRLF line ends. Values of the text
fields: empty, blank, quoted with doubled quotes and commas, bytes above
0x7F, tokens of 1 to 300 bytes, and values that share their first and
last words but differ inside (the pseudonym cache's key).

Usage: bench/compare_builds.py OLD_RIFFLE NEW_RIFFLE [WORKDIR] [--quick]
  --quick   the plain file and 10 bits only
Prints one line per run ("same NAME digest" or "DIFF NAME: what") and
exits 1 if any differs. Both builds must write the same line format
(a build before 4886782 writes no probability or predicted_label).
Needs no broker. WORKDIR (default a new /tmp folder) keeps every file.
"""
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROWS = 20000
OPTIMIZERS = ["sgd", "adagrad", "rmsprop", "adam", "normalized", "ftrl",
              "ftrl_l1"]
TASKS = [("bin", "logistic"), ("bin", "hinge"), ("bin", "squared"),
         ("reg", "squared"), ("multi", "logistic")]
VARIANTS = ["plain", "inter", "pii", "clip", "trans"]
LABELS = {"bin": "yb", "reg": "yr", "multi": "yc"}
TIMING = re.compile(r',?"(seconds|events_per_s)":[0-9.e+-]*')

SCHEMA = """{"type": "record", "name": "Event", "namespace": "riffle.compare",
 "fields": [
  {"name": "event_id", "type": "string"},
  {"name": "yb", "type": ["null", "string"], "default": null},
  {"name": "yr", "type": ["null", "double"], "default": null},
  {"name": "yc", "type": ["null", "string"], "default": null},
  {"name": "x1", "type": ["null", "double"], "default": null},
  {"name": "x2", "type": ["null", "double"], "default": null},
  {"name": "x3", "type": ["null", "double"], "default": null},
  {"name": "age", "type": ["null", "double"], "default": null},
  {"name": "c1", "type": ["null", "string"], "default": null},
  {"name": "c2", "type": ["null", "string"], "default": null},
  {"name": "c3", "type": ["null", "string"], "default": null},
  {"name": "c4", "type": ["null", "string"], "default": null},
  {"name": "c5", "type": ["null", "int"], "default": null}]}
"""


def write_rows(path, seed, extreme, crlf):
    """ROWS rows of the schema above; the label leans on x1 and c1."""
    r = random.Random(seed)
    eol = "\r\n" if crlf else "\n"
    middles = ["alpha", "beta", "gamma", "delta", "x" * 40, "y" * 41, ""]
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("yb,yr,yc,x1,x2,x3,age,c1,c2,c3,c4,c5" + eol)
        for _ in range(ROWS):
            x1 = repr(r.uniform(-3, 3)) if r.random() > 0.05 else ""
            x2 = repr(r.uniform(0, 1000)) if r.random() > 0.1 else ""
            if extreme:
                x3 = r.choice(["1e308", "-1e308", "1e-308", "4.9e-324", "-0",
                               "0", "1e300", "-1e300", repr(r.uniform(-1, 1))])
            else:
                x3 = repr(r.uniform(-1e3, 1e3))
            age = str(r.randint(0, 119)) if r.random() > 0.05 else ""
            c1 = r.choice(["a", "b", "c", "dd", "eee"])
            n = r.choice([1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 250, 300])
            c2 = ("".join(r.choice("abcdefghij") for _ in range(n))
                  if r.random() > 0.3 else "tok%d" % r.randint(0, 30000))
            c3 = "Married-civ-" + r.choice(middles) + "-spouse-of-someone"
            c4 = r.choice(["", " spaced ", '"quoted, comma"', '"q""x"',
                           "plain", "  ", "\u00e9-\u00fc"])
            c5 = str(r.randint(-5, 5)) if r.random() > 0.1 else ""
            s = (float(x1 or 0) + (1 if c1 in ("a", "dd") else -1) +
                 r.gauss(0, 1))
            yr = (r.choice([repr(s), "1e300", "-1e300"]) if extreme
                  else repr(s * 10 + 5))
            out.write(",".join(["P" if s > 0 else "N", yr,
                                "abc"[int(abs(s) * 3) % 3], x1, x2, x3, age,
                                c1, c2, c3, c4, c5]) + eol)


def field_lines(task, variant):
    """The fields group of one configuration, one field a line."""
    lines = ['{ name = "event_id"; kind = "id"; },']
    if task == "bin":
        lines.append('{ name = "yb"; kind = "label"; positive = ["P"]; '
                     'negative = ["N"]; },')
    elif task == "reg":
        lines.append('{ name = "yr"; kind = "label"; },')
    else:
        lines.append('{ name = "yc"; kind = "label"; '
                     'classes = ["a", "b", "c"]; },')
    lines += ['{ name = "%s"; kind = "ignore"; },' % f
              for f in ("yb", "yr", "yc") if f != LABELS[task]]
    trans = variant == "trans"
    ns = ' namespace = "x1";' if variant == "inter" else ""
    lines.append('{ name = "x1";%s kind = "numeric"; missing = "%s"; '
                 'indicator = true;%s },' %
                 (ns, "mean" if trans else "zero",
                  ' transform = "standardize";' if trans else ""))
    lines.append('{ name = "x2"; kind = "numeric"; missing = "median"; '
                 'indicator = true;%s },' %
                 (' transform = "log1p"; min = 0.0;' if trans else ""))
    lines.append('{ name = "x3"; kind = "numeric";%s },' %
                 (' transform = "bucketize"; '
                  'buckets = [-100.0, 0.0, 1.0, 1e300];' if trans else ""))
    if variant == "pii":
        lines += [
            '{ name = "age"; kind = "categorical"; personal = "coarsen"; '
            'band = 10.0; min = 0.0; max = 120.0; },',
            '{ name = "c1"; kind = "categorical"; personal = "pseudonym"; },',
            '{ name = "c2"; kind = "categorical"; personal = "pseudonym"; },',
            '{ name = "c3"; kind = "categorical"; personal = "pseudonym"; },',
            '{ name = "c4"; kind = "categorical"; personal = "mask"; '
            'keep_last = 2; },',
            '{ name = "c5"; kind = "categorical"; personal = "drop"; }']
    else:
        lines.append('{ name = "age"; kind = "numeric"; missing = "zero"; },')
        for c in ("c1", "c2", "c3", "c4"):
            ns = ' namespace = "n%s";' % c if variant == "inter" else ""
            lines.append('{ name = "%s"; kind = "categorical";%s },' % (c, ns))
        lines.append('{ name = "c5"; kind = "categorical"; }')
    return lines


def write_cfg(path, name, task, loss, opt, bits, variant, work):
    extra = ""
    if opt == "ftrl_l1":
        opt, extra = "ftrl", " l1 = 0.5; l2 = 0.1;"
    if variant == "inter":
        extra += ' interactions = ["nc1*nc2", "nc1*nc1", "x1*nc3"];'
    if variant == "clip":
        extra += " gradient_clip = 0.01;" + ("" if "l2" in extra
                                             else " l2 = 0.05;")
    text = """name = "%(name)s";
topics = { input = "c.in"; predictions = "c.pred"; models = "c.models";
           dead_letters = "c.dl"; };
source = { schema = "%(work)s/schemas/compare.avsc"; header = true;
           id_prefix = "c"; };
fields = (
%(fields)s
);
privacy = { key_file = "%(repo)s/config/secrets/pseudonym.key.example";
            key_id = "k1"; };
learner = { model_name = "%(name)s"; bits = %(bits)d; loss = "%(loss)s";
            optimizer = "%(opt)s"; learning_rate = %(lr)s;%(extra)s };
""" % {"name": name, "work": work, "repo": REPO, "bits": bits, "loss": loss,
       "opt": opt, "lr": "0.01" if task == "reg" else "0.1", "extra": extra,
       "fields": "\n".join(field_lines(task, variant))}
    with open(path, "w") as f:
        f.write(text)


def run_side(riffle, cfg, data, out):
    """train then score with one build; returns the texts to compare."""
    train = subprocess.run(
        [riffle, "train", "-c", cfg, "--file", data, "--predictions",
         out + ".pred", "--snapshot", out + ".snap"],
        capture_output=True, text=True)
    texts = {"train": "rc=%d %s" % (train.returncode,
                                    TIMING.sub("", train.stdout))}
    with open(out + ".pred") as f:
        texts["predictions"] = f.read()
    score = subprocess.run(
        [riffle, "score", "-c", cfg, "--from-snapshot", out + ".snap",
         "--file", data], capture_output=True, text=True)
    texts["score"] = score.stdout
    texts["score summary"] = "rc=%d %s" % (
        score.returncode, "".join(TIMING.sub("", l) for l in
                                  score.stderr.splitlines(True)
                                  if l.startswith('{"rows"')))
    return texts


def main():
    args = [a for a in sys.argv[1:] if a != "--quick"]
    quick = "--quick" in sys.argv[1:]
    if len(args) not in (2, 3):
        sys.exit("usage: bench/compare_builds.py OLD_RIFFLE NEW_RIFFLE "
                 "[WORKDIR] [--quick]")
    old, new = (os.path.abspath(a) for a in args[:2])
    work = os.path.abspath(args[2]) if len(args) == 3 else tempfile.mkdtemp(
        prefix="riffle-compare-")
    os.makedirs(os.path.join(work, "schemas"), exist_ok=True)
    for s in ("alert", "dead_letter", "metrics", "model_snapshot",
              "prediction"):
        shutil.copy(os.path.join(REPO, "schemas", s + ".avsc"),
                    os.path.join(work, "schemas"))
    with open(os.path.join(work, "schemas", "compare.avsc"), "w") as f:
        f.write(SCHEMA)
    files = [("plain", 1, False, False)]
    if not quick:
        files += [("extreme", 2, True, False), ("crlf", 3, False, True)]
    differ = 0
    for label, seed, extreme, crlf in files:
        data = os.path.join(work, label + ".csv")
        write_rows(data, seed, extreme, crlf)
        for opt in OPTIMIZERS:
            for bits in ([10] if quick else [10, 22]):
                for variant in VARIANTS:
                    for task, loss in TASKS:
                        name = "%s_%s_%d_%s_%s_%s" % (label, opt, bits,
                                                      variant, task, loss)
                        cfg = os.path.join(work, name + ".cfg")
                        write_cfg(cfg, name, task, loss, opt, bits, variant,
                                  work)
                        a = run_side(old, cfg, data,
                                     os.path.join(work, name + ".old"))
                        b = run_side(new, cfg, data,
                                     os.path.join(work, name + ".new"))
                        bad = [k for k in a if a[k] != b[k]]
                        if bad or not a["train"].startswith("rc=0 "):
                            differ += 1
                            print("DIFF %s: %s" % (name, ", ".join(bad) or
                                                   a["train"][:200]))
                        else:
                            digest = re.search(r'"weights_digest":"(\w+)"',
                                               a["train"])
                            print("same %s %s" % (name, digest.group(1)))
                        sys.stdout.flush()
    print("%d differ; files in %s" % (differ, work))
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
