"""Compare `riffle train` with Vowpal Wabbit, River and scikit-learn.

Run through bench/run, which builds what this needs first. For each data
set and tool: one single-pass, progressive (predict, then learn) run in
its own process; events/s from the tool's own timed span, progressive
logloss and accuracy scored here from the tool's per-event predictions
file, peak RSS and CPU time from the kernel's rusage of that process
(through bench/rss_run.c, so the driver's own memory is not counted). Prints
one table, writes it with the machine and versions to
bench/results/<date>.md (raw numbers in <date>.json) and, on a full run,
into docs/BENCHMARKS.md between its results markers.
"""

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

import numpy as np

import prepare

BENCH = prepare.BENCH
REPO = prepare.REPO
RESULTS = os.path.join(BENCH, "results")
DOC = os.path.join(REPO, "docs", "BENCHMARKS.md")
DOC_START = "<!-- bench:results:start -->"
DOC_END = "<!-- bench:results:end -->"
PY = sys.executable
RSS_RUN = None  # bench/rss_run.c, built by bench/run (--rss-run)
PEER = os.path.join(BENCH, "peer.py")
PROB_EPS = 1e-15  # riffle's METRICS_PROB_EPSILON, used for every tool

REAL_SETS = ["elec2", "adult", "ctr"]
ALL_SETS = REAL_SETS + ["synthetic-1m", "synthetic-10m"]
SLOW_PEERS_SKIP = {"synthetic-10m"}  # River and scikit-learn: far too long

# Issue 3's targets.
TARGET_VS_VW = 2.0
TARGET_VS_RIVER = 50.0
TARGET_LOGLOSS_REL = 0.01


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---- running one process ---------------------------------------------

def run_process(argv, env=None):
    """Runs argv to completion through bench/rss_run.c; returns (stdout
    text, wall seconds, peak RSS in bytes, CPU seconds) of that one
    process."""
    out_path = os.path.join(prepare.DATA, "last.stdout")
    err_path = out_path + ".stderr"
    report_path = out_path + ".rusage"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        start = time.perf_counter()
        rc = subprocess.run([RSS_RUN, report_path] + argv, stdout=out,
                            stderr=err, cwd=REPO, env=env).returncode
        wall = time.perf_counter() - start
    with open(out_path) as f:
        text = f.read()
    if rc != 0:
        with open(err_path) as f:
            raise RuntimeError(f"{' '.join(argv)} failed ({rc}):\n"
                               f"{f.read()[-2000:]}")
    with open(report_path) as f:
        usage = json.load(f)
    return text, wall, usage["maxrss_kb"] * 1024, usage["cpu_s"]


def last_json(text):
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"no JSON summary in output:\n{text[-1000:]}")


# ---- scoring ---------------------------------------------------------

def read_labels(name):
    path = os.path.join(prepare.set_dir(name), "labels.txt")
    return np.fromfile(path, dtype=np.float64, sep="\n")


def score(pred_path, labels):
    """Progressive logloss and accuracy from one prediction per line; a
    "nan" line marks an event the tool refused and is left out."""
    with open(pred_path) as f:
        p = np.array(f.read().split(), dtype=np.float64)
    p = p[~np.isnan(p)]
    if len(p) != len(labels):
        raise RuntimeError(f"{pred_path}: {len(p)} predictions for "
                           f"{len(labels)} labelled events")
    pc = np.clip(p, PROB_EPS, 1 - PROB_EPS)
    loss = -np.where(labels == 1, np.log(pc), np.log1p(-pc))
    correct = (p >= 0.5) == (labels == 1)
    return float(loss.mean()), float(correct.mean())


# ---- the tools -------------------------------------------------------

def tool_runs(name, meta, args):
    """(key, label, settings, argv) for every tool on this set; argv is
    None for riffle, which run_riffle() runs."""
    d = prepare.set_dir(name)
    csv = os.path.join(d, "data.csv")
    cfg = meta["cfg"]
    bits = meta["bits"]
    lr = meta["learning_rate"]
    runs = [("riffle", "riffle train",
             f"`{cfg}`: {meta['optimizer']} lr {lr:g}, {bits} bits", None)]
    inter = " ".join(f"--interactions {i}" for i in meta["vw_interactions"])
    vw_label, vw_flags = meta["vw_matched"]
    for key, label, flags in (("vw", vw_label, vw_flags),
                              ("vw-defaults", "VW (defaults)", "")):
        flags = " ".join(x for x in (flags, inter) if x)
        settings = " ".join(
            [f"`-b {bits} --loss_function logistic --link logistic"] +
            ([flags] if flags else [])) + "`"
        runs.append((key, label, settings,
                     [PY, PEER, "vw", "--vw", os.path.join(d, "data.vw"),
                      "--bits", str(bits), "--args", flags]))
    if name not in SLOW_PEERS_SKIP:
        opt, kw = meta["river_optimizer"]
        kws = ", ".join(f"{k}={v:g}" for k, v in kw.items())
        runs.append(("river", "River", f"FeatureHasher(2^{bits}) + "
                     f"LogisticRegression({opt}({kws}))",
                     [PY, PEER, "river", "--cfg", cfg, "--csv", csv]))
        batch = args.sklearn_batch
        sk = [PY, PEER, "sklearn", "--cfg", cfg, "--csv", csv,
              "--batch", str(batch)]
        runs.append(("sklearn", "scikit-learn (defaults)",
                     f"FeatureHasher(2^{bits}) + SGDClassifier(log_loss) "
                     f"defaults (L2 1e-4, 'optimal' rate), partial_fit per "
                     f"{batch} events", sk))
        runs.append(("sklearn-matched", "scikit-learn (lr/√t)",
                     f"FeatureHasher(2^{bits}) + SGDClassifier(log_loss, "
                     f"no penalty, invscaling eta0={lr:g} power_t=0.5), "
                     f"partial_fit per {batch} events", sk + ["--matched"]))
    return runs


def run_riffle(name, meta, args, preds, repeat):
    """riffle train over the file, through the prediction tap: the code of
    build/riffle plus one line written per event, as the peers write
    theirs. build/riffle itself also runs once (not on the 10M set, to
    keep the run short) to show the tap's cost and that both report the
    same metrics, as they must: same code, same rows."""
    cfg = meta["cfg"]
    csv = os.path.join(prepare.set_dir(name), "data.csv")
    argv = ["train", "-c", cfg, "--file", csv]
    env = dict(os.environ, RIFFLE_BENCH_PREDICTIONS=preds)
    timings = []
    for _ in range(repeat):
        text, wall, rss, cpu = run_process([args.tapped] + argv, env=env)
        summary = last_json(text)
        timings.append((summary["seconds"], wall, rss, cpu))
    plain = None
    if name not in SLOW_PEERS_SKIP:
        text, _, plain_rss, _ = run_process([args.riffle] + argv)
        plain = last_json(text)
        plain["rss"] = plain_rss
        for key in ("accuracy", "logloss", "learned"):
            if plain[key] != summary[key]:
                raise RuntimeError(
                    f"{name}: build/riffle and the tapped build disagree "
                    f"on {key}: {plain[key]} vs {summary[key]}")
    seconds = statistics.median(t[0] for t in timings)
    return {"seconds": seconds, "seconds_all": [t[0] for t in timings],
            "wall": statistics.median(t[1] for t in timings),
            "cpu_per_wall": statistics.median(t[3] / t[1] for t in timings),
            "rss": max(t[2] for t in timings), "events": summary["learned"],
            "rss_all": [t[2] for t in timings],
            "riffle_summary": summary, "plain": plain}


def run_peer(argv, preds, repeat):
    timings = []
    for _ in range(repeat):
        text, wall, rss, cpu = run_process(argv + ["--preds", preds])
        out = last_json(text)
        timings.append((out["seconds"], wall, rss, cpu))
    seconds = statistics.median(t[0] for t in timings)
    return {"seconds": seconds, "seconds_all": [t[0] for t in timings],
            "wall": statistics.median(t[1] for t in timings),
            "cpu_per_wall": statistics.median(t[3] / t[1] for t in timings),
            "rss": max(t[2] for t in timings), "events": out["rows"],
            "peer": out}


def bench_set(name, meta, args):
    labels = read_labels(name)
    repeat = args.repeat if name in REAL_SETS else 1
    rows = []
    for key, label, settings, argv in tool_runs(name, meta, args):
        preds = os.path.join(prepare.set_dir(name), f"pred-{key}.txt")
        log(f"  {name}: {label} ...")
        if argv is None:
            # riffle repeats on every set: its peak RSS on the synthetic
            # ones decides the memory target, and one run's RSS moves by
            # about 0.1 MiB from run to run
            r = run_riffle(name, meta, args, preds, args.repeat)
        else:
            r = run_peer(argv, preds, repeat)
        r["logloss"], r["accuracy"] = score(preds, labels)
        r.update({"tool": key, "label": label, "settings": settings,
                  "eps": r["events"] / r["seconds"]})
        if key == "riffle":
            s = r["riffle_summary"]
            r["summary_check"] = (abs(s["logloss"] - r["logloss"]) < 1e-6 and
                                  abs(s["accuracy"] - r["accuracy"]) < 1e-6)
            if not r["summary_check"]:
                raise RuntimeError(f"{name}: riffle's summary ({s['logloss']}"
                                   f", {s['accuracy']}) differs from its "
                                   f"predictions file ({r['logloss']}, "
                                   f"{r['accuracy']})")
        log(f"    {r['eps']:,.0f} events/s, logloss {r['logloss']:.4f}, "
            f"accuracy {r['accuracy']:.4f}, {r['rss'] / 2**20:.0f} MiB")
        rows.append(r)
    return rows


# ---- the report ------------------------------------------------------

def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
    return {"nproc": os.cpu_count(), "cpu": cpu,
            "ram_gib": round(mem_kb / 2**20, 1),
            "kernel": platform.release(),
            "date": datetime.datetime.now().astimezone().isoformat(
                timespec="seconds")}


def versions(args):
    from importlib.metadata import version
    git = subprocess.run(["git", "describe", "--always", "--dirty"],
                         cwd=REPO, capture_output=True, text=True).stdout
    cc = subprocess.run(["cc", "--version"], capture_output=True,
                        text=True).stdout.splitlines()[0]
    return {"riffle": f"{git.strip()} (build/riffle, RelWithDebInfo -O2, "
                      f"{cc})",
            "vowpalwabbit": version("vowpalwabbit"),
            "river": version("river"),
            "scikit-learn": version("scikit-learn"),
            "numpy": version("numpy"),
            "python": platform.python_version()}


def fmt_ratio(x):
    return "–" if x is None else f"{x:.2f}×"


def fmt_pct(x):
    return "–" if x is None else f"{100 * x:+.2f}%"


def analyse(results):
    """Adds ratios and relative logloss to every row; returns the target
    verdicts per set."""
    river_1m = next((r["eps"] for r in results.get("synthetic-1m", [])
                     if r["tool"] == "river"), None)
    riffle_rss = {n: next(r["rss_all"] for r in rows if r["tool"] == "riffle")
                  for n, rows in results.items()}
    verdicts = {}
    for name, rows in results.items():
        riffle = next(r for r in rows if r["tool"] == "riffle")
        peers = [r for r in rows if r["tool"] != "riffle"]
        best = min(peers, key=lambda r: r["logloss"])
        for r in rows:
            r["riffle_ratio"] = None if r is riffle else riffle["eps"] / r["eps"]
            r["vs_best"] = (r["logloss"] - best["logloss"]) / best["logloss"]
        vw_eps = max(r["eps"] for r in peers if r["tool"].startswith("vw"))
        vw_name = max((r for r in peers if r["tool"].startswith("vw")),
                      key=lambda r: r["eps"])["label"]
        river = next((r["eps"] for r in peers if r["tool"] == "river"), None)
        river_note = ""
        if river is None and river_1m:
            river, river_note = river_1m, " (River's 1M rate)"
        v = {"vs_vw": riffle["eps"] / vw_eps, "vw_name": vw_name,
             "vs_river": riffle["eps"] / river if river else None,
             "river_note": river_note,
             "logloss_rel": riffle["vs_best"],
             "best_peer": best["label"]}
        if name == "synthetic-10m" and "synthetic-1m" in riffle_rss:
            v["rss_10m"] = statistics.median(riffle_rss["synthetic-10m"])
            v["rss_1m_all"] = riffle_rss["synthetic-1m"]
        verdicts[name] = v
    return verdicts


def met(ok):
    return "**met**" if ok else "**not met**"


def render(results, verdicts, meta, mach, vers, args):
    lines = []
    lines.append(f"Run of {mach['date']} on {mach['nproc']} × {mach['cpu']}"
                 f", {mach['ram_gib']} GiB RAM (Linux {mach['kernel']}); "
                 f"command `bench/run{' --quick' if args.quick else ''}`.")
    lines.append("")
    lines.append("Versions: " + ", ".join(f"{k} {v}" for k, v in
                                          vers.items()) + ".")
    lines.append("")
    lines.append("| set | events | tool | settings | events/s | riffle ÷ "
                 "tool | progressive logloss | vs best peer | accuracy | "
                 "peak RSS |")
    lines.append("| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | "
                 "---: | ---: |")
    for name, rows in results.items():
        for r in rows:
            lines.append(
                f"| {name} | {r['events']:,} | {r['label']} | "
                f"{r['settings']} | {r['eps']:,.0f} | "
                f"{fmt_ratio(r['riffle_ratio'])} | {r['logloss']:.4f} | "
                f"{fmt_pct(r['vs_best'])} | {r['accuracy']:.4f} | "
                f"{r['rss'] / 2**20:.0f} MiB |")
        if name in SLOW_PEERS_SKIP:
            lines.append(f"| {name} | | River, scikit-learn | not run at "
                         f"10M events (about half an hour each); see "
                         f"synthetic-1m | | | | | | |")
    lines.append("")
    lines.append("Targets of issue 3 (riffle against the peers on the same "
                 "set; throughput against the faster VW row):")
    lines.append("")
    lines.append(f"| set | riffle ≥ {TARGET_VS_VW:g}× VW | riffle ≥ "
                 f"{TARGET_VS_RIVER:g}× River | logloss within "
                 f"{100 * TARGET_LOGLOSS_REL:g}% of the best peer | riffle "
                 f"memory flat (10M ≤ 1M) |")
    lines.append("| --- | --- | --- | --- | --- |")
    for name, v in verdicts.items():
        vw = (f"{met(v['vs_vw'] >= TARGET_VS_VW)} ({v['vs_vw']:.2f}× "
              f"{v['vw_name']})")
        if v["vs_river"] is None:
            river = "– (River not run)"
        else:
            river = (f"{met(v['vs_river'] >= TARGET_VS_RIVER)} "
                     f"({v['vs_river']:.1f}×{v['river_note']})")
        ll = (f"{met(v['logloss_rel'] <= TARGET_LOGLOSS_REL)} "
              f"({fmt_pct(v['logloss_rel'])} vs {v['best_peer']})")
        if "rss_10m" in v:
            ones = sorted(v["rss_1m_all"])
            mem = (f"{met(v['rss_10m'] <= ones[-1])} "
                   f"({v['rss_10m'] / 1024:,.0f} KiB at 10M, median of "
                   f"{args.repeat}; 1M runs {ones[0] / 1024:,.0f}-"
                   f"{ones[-1] / 1024:,.0f} KiB)")
        else:
            mem = ("– (synthetic 10M against 1M only)"
                   if name != "synthetic-10m" else "– (1M run missing)")
        lines.append(f"| {name} | {vw} | {river} | {ll} | {mem} |")
    lines.append("")
    notes = []
    for name, rows in results.items():
        riffle = next(r for r in rows if r["tool"] == "riffle")
        plain = riffle["plain"]
        if plain:
            notes.append(f"{name} {plain['events_per_s']:,.0f} "
                         f"({plain['rss'] / 2**20:.0f} MiB)")
    lines.append(
        "riffle runs as `riffle train` built with the prediction tap "
        "(bench/riffle_tap.c: the objects of build/riffle plus one line "
        "written per event, as every peer writes its predictions); its "
        "own summary line matched the scored file on every set. Events/s "
        f"are the median of {args.repeat} runs on the real sets, one run "
        "on the synthetic ones, where riffle alone runs "
        f"{args.repeat} times: its 10M peak RSS (their median) must not "
        "exceed the highest of its 1M runs, whose spread shows a single "
        "run's noise. One run of plain build/riffle, for "
        "comparison: " + ("; ".join(notes) or "none") + ".")
    cpu = [f"{name} {r['label']} {r['cpu_per_wall']:.2f}"
           for name, rows in results.items() for r in rows
           if r["tool"] == "riffle" or r["tool"].startswith("vw")]
    lines.append("")
    lines.append("CPU time ÷ wall time of each process (riffle train reads "
                 "and types rows on a second thread, VW parses on one; "
                 "River and scikit-learn use one core, about 1.0): "
                 + "; ".join(cpu) + ".")
    lines.append("")
    lines.append("The same per CPU-second (events/s ÷ CPU÷wall), for a "
                 "machine where every core is busy: "
                 + "; ".join(per_cpu_ratios(results)) + ".")
    for name, m in meta.items():
        if "bayes_logloss" in m:
            lines.append("")
            lines.append(f"{name}: {m['positive_rate']:.1%} positives; the "
                         f"true model's own logloss (the floor) is "
                         f"{m['bayes_logloss']:.4f}.")
    return "\n".join(lines) + "\n"


def per_cpu_ratios(results):
    """riffle's events per CPU-second against the faster VW row's and
    River's, per set: what the throughput ratios become when a second
    thread buys nothing because no core is idle."""
    out = []
    for name, rows in results.items():
        per_cpu = {id(r): r["eps"] / max(r["cpu_per_wall"], 1e-9)
                   for r in rows}
        riffle = next(r for r in rows if r["tool"] == "riffle")
        vws = [r for r in rows if r["tool"].startswith("vw")]
        river = next((r for r in rows if r["tool"] == "river"), None)
        text = (f"{name} riffle {per_cpu[id(riffle)]:,.0f}, "
                f"{per_cpu[id(riffle)] / max(per_cpu[id(r)] for r in vws):.2f}"
                f"× VW")
        if river:
            text += (f", {per_cpu[id(riffle)] / per_cpu[id(river)]:.1f}× "
                     f"River")
        out.append(text)
    return out


def update_doc(table):
    with open(DOC) as f:
        text = f.read()
    if DOC_START not in text or DOC_END not in text:
        raise RuntimeError(f"{DOC}: results markers missing")
    head, rest = text.split(DOC_START, 1)
    _, tail = rest.split(DOC_END, 1)
    with open(DOC, "w") as f:
        f.write(head + DOC_START + "\n" + table + DOC_END + tail)


# ---- main ------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="only the three real data sets")
    ap.add_argument("--sets", help="comma-separated subset of " +
                    ",".join(ALL_SETS))
    ap.add_argument("--repeat", type=int, default=3,
                    help="timed runs per tool on the real sets (median)")
    ap.add_argument("--sklearn-batch", type=int, default=256)
    ap.add_argument("--no-docs", action="store_true",
                    help="do not update docs/BENCHMARKS.md")
    ap.add_argument("--riffle", required=True)
    ap.add_argument("--tapped", required=True)
    ap.add_argument("--generator", required=True)
    ap.add_argument("--rss-run", required=True)
    args = ap.parse_args()
    global RSS_RUN
    RSS_RUN = args.rss_run

    sets = REAL_SETS if args.quick else ALL_SETS
    if args.sets:
        sets = args.sets.split(",")
        unknown = set(sets) - set(ALL_SETS)
        if unknown:
            ap.error(f"unknown sets {sorted(unknown)}")

    started = time.perf_counter()
    meta = {n: prepare.prepare(n, args.generator, log) for n in sets}
    results = {}
    for name in sets:
        results[name] = bench_set(name, meta[name], args)
    verdicts = analyse(results)
    mach = machine()
    vers = versions(args)
    table = render(results, verdicts, meta, mach, vers, args)

    print(table)
    os.makedirs(RESULTS, exist_ok=True)
    stem = mach["date"][:10] + ("-quick" if args.quick or args.sets else "")
    with open(os.path.join(RESULTS, stem + ".md"), "w") as f:
        f.write(f"# Benchmark {mach['date']}\n\n" + table)
    with open(os.path.join(RESULTS, stem + ".json"), "w") as f:
        json.dump({"machine": mach, "versions": vers, "meta": meta,
                   "results": results, "verdicts": verdicts}, f, indent=1,
                  default=str)
    full = not (args.quick or args.sets)
    if full and not args.no_docs:
        update_doc(table)
    log(f"wrote bench/results/{stem}.md"
        f"{' and docs/BENCHMARKS.md' if full and not args.no_docs else ''}"
        f" in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
