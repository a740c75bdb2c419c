"""Run one peer learner over one prepared data set, in its own process.

    peer.py vw      --vw DATA.vw --bits B --preds OUT [--args "VW FLAGS"]
    peer.py river   --cfg CFG --csv DATA.csv --preds OUT
    peer.py sklearn --cfg CFG --csv DATA.csv --preds OUT --batch N
                    [--matched] [--limit N]

Each tool runs single-pass and progressive: every event is scored by the
model that has not seen it, then learned, and that probability is written
to OUT, one per line. The timed span starts before the tool's model is
built and ends after the last prediction is written, so it covers setup,
reading and parsing the file, featurizing, predicting, learning and
writing; it leaves out the interpreter's start and the imports (riffle's
own "seconds" likewise starts once the process runs). One JSON line with
the seconds and the event count goes to stdout.

Vowpal Wabbit runs as its own C++ driver over the file: the Workspace
constructor with -d runs VW's parser and learner loop until the end of the
data, exactly as the vw command line does; no Python touches an event.
River and scikit-learn read the CSV with the csv module and build each
event's feature dict with bench/features.py, as a user of those libraries
would.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def run_vw(a):
    import vowpalwabbit

    args = (f"-d {a.vw} -b {a.bits} -p {a.preds} --quiet "
            f"--loss_function logistic --link logistic {a.args}")
    start = time.perf_counter()
    ws = vowpalwabbit.Workspace(args)
    ws.finish()
    seconds = time.perf_counter() - start
    with open(a.preds, "rb") as f:
        rows = sum(1 for _ in f)
    return seconds, rows, {"vw_args": args}


def run_river(a):
    from river import linear_model, optim, preprocessing
    import features

    start = time.perf_counter()
    fz = features.Featurizer(a.cfg)
    hasher = preprocessing.FeatureHasher(n_features=2 ** fz.bits, seed=0,
                                         alternate_sign=False)
    name, kwargs = fz.river_optimizer()
    model = linear_model.LogisticRegression(
        optimizer=getattr(optim, name)(**kwargs))
    rows = 0
    with open(a.preds, "w") as out:
        for row in fz.open_rows(a.csv):
            r = fz.featurize(row)
            if r is None:
                out.write("nan\n")
                continue
            x, y = r
            h = hasher.transform_one(x)
            p = model.predict_proba_one(h)[True]
            model.learn_one(h, y == 1)
            out.write(f"{p!r}\n")
            rows += 1
    seconds = time.perf_counter() - start
    return seconds, rows, {"optimizer": [name, kwargs]}


def run_sklearn(a):
    import numpy as np
    from sklearn.feature_extraction import FeatureHasher
    from sklearn.linear_model import SGDClassifier
    import features

    start = time.perf_counter()
    fz = features.Featurizer(a.cfg)
    hasher = FeatureHasher(n_features=2 ** fz.bits, input_type="dict",
                           alternate_sign=False)
    if a.matched:
        # riffle's settings as far as SGDClassifier has them: no penalty,
        # and a rate of lr / t^0.5 (global: there is no per-weight rate).
        clf = SGDClassifier(loss="log_loss", penalty=None, random_state=0,
                            learning_rate="invscaling",
                            eta0=fz.learning_rate, power_t=0.5)
    else:
        clf = SGDClassifier(loss="log_loss", random_state=0)
    classes = np.array([0, 1])
    rows = 0
    xs, ys = [], []
    with open(a.preds, "w") as out:
        def flush():
            X = hasher.transform(xs)
            if hasattr(clf, "coef_"):
                p = clf.predict_proba(X)[:, 1]
            else:
                p = np.full(len(xs), 0.5)  # no model yet: no information
            clf.partial_fit(X, np.array(ys), classes=classes)
            out.write("".join(f"{v!r}\n" for v in p.tolist()))
            xs.clear()
            ys.clear()

        for row in fz.open_rows(a.csv):
            if a.limit and rows >= a.limit:
                break
            r = fz.featurize(row)
            if r is None:
                if xs:
                    flush()
                out.write("nan\n")
                continue
            xs.append(r[0])
            ys.append(r[1])
            rows += 1
            if len(xs) == a.batch:
                flush()
        if xs:
            flush()
    seconds = time.perf_counter() - start
    return seconds, rows, {"batch": a.batch}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tool", choices=["vw", "river", "sklearn"])
    ap.add_argument("--vw")
    ap.add_argument("--cfg")
    ap.add_argument("--csv")
    ap.add_argument("--bits", type=int)
    ap.add_argument("--args", default="")
    ap.add_argument("--preds", required=True)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--matched", action="store_true")
    a = ap.parse_args()
    run = {"vw": run_vw, "river": run_river, "sklearn": run_sklearn}[a.tool]
    seconds, rows, extra = run(a)
    print(json.dumps({"seconds": seconds, "rows": rows, **extra}))


if __name__ == "__main__":
    main()
