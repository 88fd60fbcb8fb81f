"""How far the number of samples per evaluation (`eval.samples`) moves the clocks.

    python benchmarks/eval_samples_effect.py RUN_OR_SWEEP_DIR ... [--subset 256 128]

The shipped reference measured its clocks with 256 samples per evaluation; the default run
takes 512. A run that kept its samples (`eval.keep_samples`) holds each sample's outcome at every
evaluation, and sample i has the same noise at every checkpoint and in every evaluation size
(the first M' of M samples are what an evaluation of M' samples draws), so the clocks of a
smaller evaluation are recomputed here from the first M' outcomes, with the same fractions,
Wilson bands and held crossings as the run (`evaluate.score`, `clocks.compute_clocks`), and
set against the clocks of all M. Each run's clocks from all M are recomputed too, and must
equal its summary's (a check of the recomputation). Prints, per clock, the median and largest
|log10(tau_M' / tau_M)| over the runs where both are reached, how many runs changed between
reached and censored, and, beside them, the spread between seeds (the sd of log10 tau over the
seeds of each point, median over points). Rule tasks and words; an image run's probe clocks
are not recomputed.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd

from twoclocks.clocks import MEM_CLOCKS, RULE_CLOCKS, compute_clocks
from twoclocks.core.io import write_json
from twoclocks.core.stats import wilson_interval
from twoclocks.evaluate import NEAR_HAMMING, load_outcomes
from twoclocks.training.rundir import RunDir

PREDICTED = ("tau_rule", "tau_rule_low", "tau_group", "tau_mem")  # the clocks `predict` gives
CLOCKS = [*(rc.tau for rc in RULE_CLOCKS), *(mc.tau for mc in MEM_CLOCKS if mc.curve in ("mem", "mem_near"))]


def run_dirs(paths: list[str]) -> list[RunDir]:
    """Every run directory given, or inside a given sweep's runs/."""
    out = []
    for p in map(Path, paths):
        inner = sorted(q for q in (p / "runs").iterdir() if q.is_dir()) if (p / "runs").is_dir() else [p]
        out += [RunDir(q) for q in inner if (q / "summary.json").is_file()]
    return out


def subset_metrics(rd: RunDir, metrics: pd.DataFrame, M: int | None, level: float) -> pd.DataFrame:
    """The run's metrics with the clock curves recomputed from the first M samples of each
    evaluation (None: all of them)."""
    files = dict(rd.sample_files())
    rows = []
    for _, row in metrics.sort_values("step").iterrows():
        step = int(row["step"])
        if step not in files:
            raise SystemExit(f"{rd}: step {step} has no samples file (run it with eval.keep_samples=true)")
        o = load_outcomes(files[step])
        m = len(o.valid) if M is None else min(M, len(o.valid))
        valid, mem = o.valid[:m], o.train_match[:m] >= 0
        counts = {"valid": valid.sum(), "mem": mem.sum(), "mem_near": (o.nn_hamming[:m] <= NEAR_HAMMING).sum()}
        new = dict(row)
        for name, count in counts.items():
            lo, hi = wilson_interval(int(count), m, level)
            new.update({name: int(count) / m, f"{name}_lo": float(lo), f"{name}_hi": float(hi)})
        new.update({"constraint_acc": float(o.constraint_acc[:m].mean()), "samples": m})
        new["novel_valid"] = float((valid & ~mem).mean())
        rows.append(new)
    return pd.DataFrame(rows)


def clocks_of(rd: RunDir, M: int | None) -> dict[str, float]:
    """log10 of each clock (NaN where censored) from the first M samples."""
    cfg, metrics = rd.load_config(), rd.load_metrics()
    out = compute_clocks(subset_metrics(rd, metrics, M, cfg.clocks.ci_level), cfg.clocks, cfg.train.batch, cfg.data.N)
    return {c: math.nan if out.get(c) is None else math.log10(out[c]) for c in CLOCKS}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dirs", nargs="+", help="run directories or sweep directories")
    ap.add_argument("--subset", type=int, nargs="+", default=[256], help="samples per evaluation to recompute at")
    ap.add_argument("--write", help="write each clock's scale k (twoclocks.prediction.measurement) to this JSON file")
    args = ap.parse_args()
    rows = []
    for rd in run_dirs(args.dirs):
        summary = rd.load_summary() or {}
        full = clocks_of(rd, None)
        for c in CLOCKS:  # the recomputation reproduces the run's own clocks (constraint_acc kept as float32)
            stored = summary.get(c)
            assert (stored is None and math.isnan(full[c])) or abs(math.log10(stored) - full[c]) < 1e-5, (rd, c)
        point, M_full = rd.path.name.rsplit("_seed", 1)[0], rd.load_config().eval.samples
        for M in (m for m in args.subset if m < M_full):
            rows += [{"run": rd.path.name, "point": point, "M": M, "M_full": M_full, "clock": c, "full": full[c],
                      "sub": v} for c, v in clocks_of(rd, M).items()]  # fmt: skip
    df = pd.DataFrame(rows)
    runs = df["run"].nunique()
    print(f"{runs} runs; the recomputed clocks of all samples equal every run's summary (to 1e-5 decades)")
    spread = df[df["M"] == args.subset[0]].groupby(["clock", "point"])["full"].std().groupby("clock").median()
    for (M, clock), part in df.groupby(["M", "clock"]):
        both = part.dropna(subset=["full", "sub"])
        signed = both["sub"] - both["full"]
        shift = signed.abs()
        flipped = int((part["full"].isna() != part["sub"].isna()).sum())
        print(
            f"M'={M:<4} {clock:<13} reached in both {len(both):>2}/{len(part)}  median shift {signed.median():+.3f}"
            f"  median |shift| {shift.median():.3f}"
            f"  max {shift.max():.3f} decades  reached<->censored {flipped}  seed sd {spread.get(clock, math.nan):.3f}"
        )
    k = scales(df)
    print("k per clock (sd = k sqrt(|1/M - 1/M_fit|)):", k)
    if args.write:
        source = f"benchmarks/eval_samples_effect.py, {runs} runs, subsets {sorted(set(df['M']))}"
        write_json(args.write, {"effects": {"eval.samples": {"per_clock": k, "source": source}}})


def scales(df: pd.DataFrame) -> dict[str, float]:
    """Each clock's k in sd = k sqrt(|1/M' - 1/M|) (prediction/measurement.py): the root mean
    square of shift / sqrt(1/M' - 1/M) over the runs and subsets where both clocks are reached.
    The clocks no run reached take the largest k measured (the predictions are widened, not
    narrowed, by what was not measured)."""
    both = df.dropna(subset=["full", "sub"])
    z = (both["sub"] - both["full"]) / np.sqrt(1.0 / both["M"] - 1.0 / both["M_full"])
    k = z.pow(2).groupby(both["clock"]).mean().pow(0.5).to_dict()
    largest = max(k.values())
    return {c: round(float(k.get(c, largest)), 4) for c in PREDICTED}


if __name__ == "__main__":
    main()
