"""The features riffle builds, rebuilt in Python for the peers.

A Featurizer reads one riffle configuration (and its Avro schema) and turns
a CSV row, split by Python's csv module, into the features `riffle train`
gives its model for that row, with the same cleaning decisions:

  numeric      the value (after range clip, log1p, standardize with the
               running mean and deviation of earlier rows, or bucketize
               into a one-hot bucket), plus the "missing" indicator
  categorical  one token per field, "(missing)" for a missing value
  personal     drop removes the field; coarsen keeps the band (or prefix);
               pseudonym keeps the raw value, which names the same
               category as riffle's keyed HMAC does
  interactions every feature of one namespace times every feature of the
               other, as learner.interactions says

Hash functions differ between tools, so only which features exist and
their values match, not where they land in the weight table. A row riffle
would dead-letter or skip is refused here too (None), and prepare checks
the count against riffle's.

The result is a dict per row, the native input of River and of
scikit-learn's FeatureHasher: a categorical field maps to its token (both
hash it as "field=token" with value 1), a number to its value. vw_line()
writes the same row in Vowpal Wabbit's text format, one namespace per
riffle namespace so that VW's own --interactions builds the crosses.
"""

import csv
import json
import math
import os
import re

import riffle_cfg

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MISSING_TOKEN = "(missing)"
STD_MIN = 1e-9  # riffle's FEATURES_STD_MIN: below it, no scaling
NUMERIC_TYPES = {"int", "long", "float", "double"}
# Field settings this module mirrors; any other stops the benchmark.
FIELD_KEYS = {"name", "kind", "required", "missing", "impute_value",
              "indicator", "min", "max", "on_range", "transform", "buckets",
              "namespace", "max_length", "personal", "band", "keep_prefix",
              "positive", "negative"}
LEARNER_KEYS = {"model_name", "bits", "loss", "optimizer", "learning_rate",
                "power_t", "l2", "gradient_clip", "l1", "beta1", "beta2",
                "rho", "epsilon", "ftrl_beta", "hash_seed", "interactions",
                "count_collisions"}
# Namespace letters for VW, one per riffle namespace (VW's --interactions
# names a namespace by its first character).
VW_NAMESPACES = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


# riffle's optimizers and their defaults (docs/CONFIGURATION.md).
OPTIMIZERS = {
    "adagrad": {}, "normalized": {}, "sgd": {"power_t": 0.5},
    "ftrl": {"ftrl_beta": 1.0, "l1": 0.0, "l2": 0.0},
    "adam": {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
    "rmsprop": {"rho": 0.9, "epsilon": 1e-8},
}


class Refused(Exception):
    """A row riffle would dead-letter or skip as a bad row."""


class Unsupported(Exception):
    """A configuration this module cannot mirror: fail, never guess."""


def _schema_types(path):
    with open(os.path.join(REPO, path), encoding="utf-8") as f:
        schema = json.load(f)
    types = {}
    for field in schema["fields"]:
        t = field["type"]
        if isinstance(t, list):
            t = [x for x in t if x != "null"][0]
        types[field["name"]] = t
    return types


def _number_token(x):
    """A number used as a category, printed as riffle prints it: 7, 0.1."""
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def _vw_escape(s):
    return s.replace(" ", "_").replace(":", ";").replace("|", "/")


class _Stats:
    """Welford running statistics, as learner/stats.c."""

    __slots__ = ("count", "mean", "m2")

    def __init__(self):
        self.count, self.mean, self.m2 = 0, 0.0, 0.0

    def add(self, x):
        delta = x - self.mean
        self.count += 1
        self.mean += delta / self.count
        self.m2 += delta * (x - self.mean)

    def stddev(self):
        if self.count < 2:
            return 0.0
        return math.sqrt(self.m2 / (self.count - 1))


class Featurizer:
    def __init__(self, cfg_path):
        self.cfg = riffle_cfg.load(os.path.join(REPO, cfg_path))
        src = self.cfg["source"]
        self.types = _schema_types(src["schema"])
        self.header = src.get("header", True)
        self.columns = src.get("columns")
        self.delimiter = src.get("delimiter", ",")
        self.trim = src.get("trim", False)
        self.skip_lines = src.get("skip_lines", 0)
        self.missing = set(src.get("missing", [])) | {""}
        learner = self.cfg["learner"]
        self.bits = learner.get("bits", 18)
        self.learning_rate = learner.get("learning_rate", 0.5)
        self.l2 = learner.get("l2", 0.0)
        if learner.get("loss", "logistic") != "logistic":
            raise Unsupported(f"{cfg_path}: the benchmark compares "
                              "logistic learners")
        unknown = set(learner) - LEARNER_KEYS
        if unknown:
            raise Unsupported(f"{cfg_path}: learner settings "
                              f"{sorted(unknown)} not mirrored")
        self.optimizer = learner.get("optimizer", "adagrad")
        self.learner = learner
        if self.optimizer not in OPTIMIZERS:
            raise Unsupported(f"{cfg_path}: optimizer {self.optimizer} "
                              "has no counterpart here")
        if learner.get("l2", 0.0) and self.optimizer != "ftrl":
            raise Unsupported(f"{cfg_path}: learner.l2 is mirrored for "
                              "ftrl only")
        self.fields = self.cfg["fields"]
        for f in self.fields:
            unknown = set(f) - FIELD_KEYS
            if unknown:
                raise Unsupported(f"{cfg_path}: field {f['name']}: "
                                  f"{sorted(unknown)} not mirrored")
        self.namespaces = []
        for f in self.fields:
            if f["kind"] in ("numeric", "categorical"):
                ns = f.get("namespace", f["name"])
                if ns not in self.namespaces:
                    self.namespaces.append(ns)
        self.crosses = []
        for text in learner.get("interactions", []):
            a, b = text.split("*")
            self.crosses.append((self.namespaces.index(a),
                                 self.namespaces.index(b)))
        self.stats = [_Stats() for _ in self.fields]
        self.col = None
        self.plain_categorical = None

    # ---- the peers' matching settings ------------------------------

    def _opt(self, key):
        return self.learner.get(key, OPTIMIZERS[self.optimizer][key])

    def vw_matched(self):
        """(label, flags) of the VW run closest to riffle's optimizer."""
        lr, o = self.learning_rate, self.optimizer
        if o == "adagrad":
            return "VW (AdaGrad)", f"--adaptive -l {lr:g}"
        if o == "normalized":
            return "VW (normalized)", f"--adaptive --normalized -l {lr:g}"
        if o == "ftrl":
            return "VW (FTRL)", (
                f"--ftrl --ftrl_alpha {lr:g} "
                f"--ftrl_beta {self._opt('ftrl_beta'):g} "
                f"--l1 {self._opt('l1'):g} --l2 {self._opt('l2'):g}")
        if o == "sgd":
            return "VW (SGD)", (f"--sgd -l {lr:g} "
                                f"--power_t {self._opt('power_t'):g}")
        # VW has no Adam or RMSProp: its AdaGrad is the nearest rule.
        return f"VW (AdaGrad; VW has no {o})", f"--adaptive -l {lr:g}"

    def river_optimizer(self):
        """(river.optim class name, keyword arguments) for riffle's
        optimizer; River has no normalized rule, so AdaGrad stands in."""
        lr, o = self.learning_rate, self.optimizer
        if o in ("adagrad", "normalized"):
            return "AdaGrad", {"lr": lr}
        if o == "ftrl":
            return "FTRLProximal", {"alpha": lr,
                                    "beta": self._opt("ftrl_beta"),
                                    "l1": self._opt("l1"),
                                    "l2": self._opt("l2")}
        if o == "adam":
            return "Adam", {"lr": lr, "beta_1": self._opt("beta1"),
                            "beta_2": self._opt("beta2"),
                            "eps": self._opt("epsilon")}
        if o == "rmsprop":
            return "RMSProp", {"lr": lr, "rho": self._opt("rho"),
                               "eps": self._opt("epsilon")}
        return "SGD", {"lr": lr}  # constant; riffle decays it by t^power_t

    # ---- reading ---------------------------------------------------

    def open_rows(self, path):
        """Yields the data rows of a CSV file as lists of strings."""
        f = open(path, newline="", encoding="utf-8")
        for _ in range(self.skip_lines):
            f.readline()
        reader = csv.reader(f, delimiter=self.delimiter,
                            skipinitialspace=self.trim)
        names = self.columns
        if self.header:
            names = next(row for row in reader if row)
        self.bind([re.sub(r"[^A-Za-z0-9]", "_", n.strip()) for n in names])
        trim = self.trim
        for row in reader:
            if not row:
                continue  # riffle's reader skips blank lines
            if trim:
                row = [v.strip() for v in row]
            yield row

    def bind(self, names):
        """Maps configured fields to CSV column positions."""
        self.col = []
        for f in self.fields:
            name = f["name"]
            self.col.append(names.index(name) if name in names else None)
        self.label_i = next(i for i, f in enumerate(self.fields)
                            if f["kind"] == "label")
        lf = self.fields[self.label_i]
        self.positive = set(lf.get("positive", []))
        self.negative = set(lf.get("negative", [])) or None
        features = [i for i, f in enumerate(self.fields)
                    if f["kind"] in ("numeric", "categorical")]
        # The common case of the synthetic stream: plain categorical
        # fields only, so a row becomes its dict in one zip().
        simple = all(
            self.fields[i]["kind"] == "categorical"
            and self.types[self.fields[i]["name"]] == "string"
            and set(self.fields[i]) <= {"name", "kind"}
            for i in features)
        if simple and not self.crosses:
            self.plain_categorical = (
                [self.fields[i]["name"] for i in features],
                [self.col[i] for i in features])
        self.features = features

    # ---- one row ---------------------------------------------------

    def label_of(self, row):
        f = self.fields[self.label_i]
        v = row[self.col[self.label_i]]
        if v in self.missing:
            raise Refused("missing label")
        if self.types[f["name"]] in NUMERIC_TYPES:
            v = _number_token(float(v))
        if v in self.positive:
            return 1
        if self.negative is None or v in self.negative:
            return 0
        raise Refused("invalid label")

    def _numeric(self, i, f, raw, out):
        name = f["name"]
        imputed = False
        x = None if raw in self.missing else float(raw)
        if x is not None:
            lo, hi = f.get("min"), f.get("max")
            if (lo is not None and x < lo) or (hi is not None and x > hi):
                action = f.get("on_range", "reject")
                if action == "reject":
                    raise Refused(f"{name} out of range")
                if action == "clip":
                    x = min(max(x, lo if lo is not None else x),
                            hi if hi is not None else x)
                else:
                    x = None
        if x is None:
            policy = f.get("missing", "reject")
            if policy == "reject" or f.get("required", False):
                raise Refused(f"{name} missing")
            imputed = True
            if policy == "mean":
                x = self.stats[i].mean
            elif policy == "zero":
                x = 0.0
            elif policy == "constant":
                x = float(f.get("impute_value", 0.0))
            elif policy != "skip":
                raise Unsupported(f"{name}: missing = {policy} unsupported")
        if x is not None and f.get("personal") == "coarsen":
            x = math.floor(x / f["band"]) * f["band"]
        if x is not None:
            t = f.get("transform", "none")
            if t == "log1p":
                out.append((i, name, -math.log1p(-x) if x < 0
                            else math.log1p(x)))
            elif t == "standardize":
                s = self.stats[i]
                sd = s.stddev()
                out.append((i, name, (x - s.mean) / sd if sd >= STD_MIN
                            else x - s.mean))
            elif t == "bucketize":
                k = sum(1 for b in f["buckets"] if b <= x)
                out.append((i, name, f"b{k}"))
            elif t == "none":
                out.append((i, name, x))
            else:
                raise Unsupported(f"{name}: transform = {t} unsupported")
            if not imputed:
                self.pending.append((i, x))
        if (x is None or imputed) and f.get("indicator", False):
            out.append((i, name + "=" + MISSING_TOKEN, 1.0))

    def _categorical(self, i, f, raw, out):
        name = f["name"]
        if raw in self.missing:
            policy = f.get("missing", "token")
            if policy == "reject" or f.get("required", False):
                raise Refused(f"{name} missing")
            if policy == "token":
                out.append((i, name, MISSING_TOKEN))
            elif policy != "skip":
                raise Unsupported(f"{name}: missing = {policy} unsupported")
            return
        if self.types[name] in NUMERIC_TYPES:
            x = float(raw)
            lo, hi = f.get("min"), f.get("max")
            if (lo is not None and x < lo) or (hi is not None and x > hi):
                raise Refused(f"{name} out of range")
            if f.get("personal") == "coarsen":
                x = math.floor(x / f["band"]) * f["band"]
            token = _number_token(x)
        else:
            token = raw
            if f.get("max_length", 0) and len(raw.encode()) > f["max_length"]:
                raise Refused(f"{name} too long")
            if f.get("personal") == "coarsen":
                token = raw.encode()[:f["keep_prefix"]].decode(errors="replace")
        out.append((i, name, token))

    def plain(self, row):
        """The row's features as (field index, name, value) triples,
        without crosses; value is a token (str) or a number. Raises
        Refused for a row riffle would not learn from."""
        out = []
        self.pending = []
        for i in self.features:
            f = self.fields[i]
            c = self.col[i]
            raw = row[c] if c is not None and c < len(row) else ""
            if f["kind"] == "numeric":
                self._numeric(i, f, raw, out)
            else:
                self._categorical(i, f, raw, out)
        out = [t for t in out if self.fields[t[0]].get("personal") != "drop"]
        return out

    def commit(self):
        """Adds the last row's accepted numbers to the running statistics;
        riffle does this after learning from the row."""
        for i, x in self.pending:
            self.stats[i].add(x)

    def featurize(self, row):
        """(features dict, 0/1 label) for River and scikit-learn, or None
        for a row riffle would refuse."""
        pc = self.plain_categorical
        try:
            y = self.label_of(row)
            if pc is not None:
                names, cols = pc
                x = dict(zip(names, [row[c] for c in cols]))
                for k, v in x.items():
                    if v in self.missing:
                        x[k] = MISSING_TOKEN
                return x, y
            feats = self.plain(row)
        except (Refused, ValueError, IndexError):
            return None
        self.commit()
        x = {}
        full = []
        for i, name, v in feats:
            x[name] = v
            full.append((i, f"{name}={v}" if isinstance(v, str) else name,
                         1.0 if isinstance(v, str) else v))
        for a, b in self.crosses:
            self._cross(a, b, full, x)
        return x, y

    def _cross(self, a, b, full, x):
        ns_of = self._ns_of_field
        for p, (i, ni, vi) in enumerate(full):
            if ns_of(i) != a:
                continue
            for q in range(p + 1 if a == b else 0, len(full)):
                j, nj, vj = full[q]
                if ns_of(j) == b:
                    x[f"{ni}*{nj}"] = vi * vj

    def _ns_of_field(self, i):
        f = self.fields[i]
        return self.namespaces.index(f.get("namespace", f["name"]))

    # ---- Vowpal Wabbit ---------------------------------------------

    def vw_interactions(self):
        return [VW_NAMESPACES[a] + VW_NAMESPACES[b] for a, b in self.crosses]

    def vw_line(self, row):
        """The row in VW's text format (labels -1/1), and its 0/1 label;
        None for a refused row. Crosses are left to --interactions."""
        try:
            y = self.label_of(row)
            feats = self.plain(row)
        except (Refused, ValueError, IndexError):
            return None
        self.commit()
        groups = {}
        for i, name, v in feats:
            if isinstance(v, str):
                text = _vw_escape(f"{name}={v}")
            else:
                text = f"{_vw_escape(name)}:{v!r}"
            groups.setdefault(self._ns_of_field(i), []).append(text)
        parts = ["1" if y else "-1"]
        for ns in sorted(groups):
            parts.append("|" + VW_NAMESPACES[ns] + " " + " ".join(groups[ns]))
        return " ".join(parts), y
