"""Prepare the benchmark's data sets once, in every tool's own format.

For each set, bench/.data/<set>/ holds, from the same rows:

  data.csv    the CSV riffle reads (plain, not gzipped, so no tool pays
              for decompression); River and scikit-learn read it too
  data.vw     the same rows and features in Vowpal Wabbit's text format
  labels.txt  the 0/1 label of every row riffle learns from, in order
  meta.json   row counts, the recipe fingerprint and facts about the set

A set is rebuilt only when its recipe changes: the source file, the
riffle configuration, this file, features.py, riffle_cfg.py or
gen_synthetic.c.
"""

import gzip
import hashlib
import json
import os
import shutil
import subprocess

import features

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
DATA = os.path.join(BENCH, ".data")
SYNTHETIC_SEED = 20240601

# name: (riffle configuration, source CSV or None, rows for synthetic)
SETS = {
    "elec2": ("config/elec2.cfg", "data/elec2/electricity.csv.gz", None),
    "adult": ("config/adult.cfg", "data/adult/adult.data.gz", None),
    "ctr": ("config/ctr.cfg",
            "data/ctr_kddcup2012/Click_prediction_small.csv.gz", None),
    "synthetic-1m": ("config/synthetic.cfg", None, 1_000_000),
    "synthetic-10m": ("config/synthetic.cfg", None, 10_000_000),
}


def set_dir(name):
    return os.path.join(DATA, name)


def _fingerprint(name):
    cfg, source, rows = SETS[name]
    h = hashlib.sha256()
    for path in [cfg, "bench/prepare.py", "bench/features.py",
                 "bench/riffle_cfg.py", "bench/gen_synthetic.c"]:
        with open(os.path.join(REPO, path), "rb") as f:
            h.update(f.read())
    if source:
        st = os.stat(os.path.join(REPO, source))
        h.update(f"{source}:{st.st_size}:{st.st_mtime_ns}".encode())
    h.update(f"{rows}:{SYNTHETIC_SEED}".encode())
    return h.hexdigest()


def load_meta(name):
    path = os.path.join(set_dir(name), "meta.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def _learner(fz):
    """riffle's learner settings and the peers' nearest ones."""
    return {"bits": fz.bits, "optimizer": fz.optimizer,
            "learning_rate": fz.learning_rate,
            "vw_interactions": fz.vw_interactions(),
            "vw_matched": fz.vw_matched(),
            "river_optimizer": fz.river_optimizer()}


def _prepare_real(name, d):
    cfg, source, _ = SETS[name]
    csv_path = os.path.join(d, "data.csv")
    with gzip.open(os.path.join(REPO, source), "rb") as src, \
            open(csv_path, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)

    fz = features.Featurizer(cfg)
    rows = learned = positives = 0
    with open(os.path.join(d, "data.vw"), "w") as vw, \
            open(os.path.join(d, "labels.txt"), "w") as labels:
        for row in fz.open_rows(csv_path):
            rows += 1
            r = fz.vw_line(row)
            if r is None:
                continue
            line, y = r
            vw.write(line + "\n")
            labels.write(f"{y}\n")
            learned += 1
            positives += y
    return {"rows": rows, "learned": learned,
            "positive_rate": positives / max(learned, 1), **_learner(fz)}


def _prepare_synthetic(name, d, generator):
    cfg, _, rows = SETS[name]
    out = subprocess.run(
        [generator, "--rows", str(rows), "--seed", str(SYNTHETIC_SEED),
         "--csv", os.path.join(d, "data.csv"),
         "--vw", os.path.join(d, "data.vw"),
         "--labels", os.path.join(d, "labels.txt")],
        check=True, capture_output=True, text=True).stdout
    facts = json.loads(out)
    fz = features.Featurizer(cfg)
    return {"rows": rows, "learned": rows,
            "positive_rate": facts["positive_rate"],
            "bayes_logloss": facts["bayes_logloss"],
            "seed": SYNTHETIC_SEED, **_learner(fz)}


def prepare(name, generator, log=print):
    """Builds the set unless an up-to-date copy exists; returns its meta."""
    fp = _fingerprint(name)
    meta = load_meta(name)
    if meta and meta.get("fingerprint") == fp:
        return meta
    d = set_dir(name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    log(f"preparing {name} in {os.path.relpath(d, REPO)}/ ...")
    if SETS[name][1]:
        meta = _prepare_real(name, d)
    else:
        meta = _prepare_synthetic(name, d, generator)
    meta.update({"name": name, "cfg": SETS[name][0],
                 "source": SETS[name][1], "fingerprint": fp})
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    return meta
