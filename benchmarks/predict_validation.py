"""Leave-one-level-out validation of the laws of `twoclocks predict` (docs/predict.md).

    python benchmarks/predict_validation.py [--from SWEEP_DIR ...] [--with-reference]
        [--factors task train.batch ...] [--batch free|per_sample] [--draws B] [--pilots 2 3]
        [--figure docs/img/predict_calibration.png] [--csv FILE] [--summary FILE.json]
        [--scored FILE]
    python benchmarks/predict_validation.py --shipped-pilots words

Each N level, knob level, rule (leave-one-rule-out), width, depth, patch size, batch and learning
rate (leave-one-optimiser-level-out) of the reference results (or of the given sweeps, with the
reference too under --with-reference) is held out in turn and predicted by laws fitted on the
rest; --factors holds out only those, --batch forces a batch law (the steps-per-sample law
against a free exponent) instead of the one held-out runs choose. --pilots K ... validates the
pilot-run route instead: each rule held out as if it were a user's, predicted from its K
smallest configs and the other rules' runs, with the shipped calibration; --shipped-pilots TASK
validates a task's shipped pilot runs (words): each family and setting's largest N held out and
predicted from the reference and the rest. Prints, per clock, the
median |log10(predicted / measured)| (all, inside the fitted N range, and 2x or more beyond
it) and the coverage of the 80% and 95% intervals (a censored measurement is missed only when
the interval lies wholly on the wrong side of its bound), calibrated (each fold's calibration
fitted on the other folds' held-out runs) and from the laws alone (`_law`); then the same per
held-out factor. Takes a few minutes on one core. --summary writes, per group of factors (every
factor; the optimiser levels, batch and learning rate; the rules) and clock, and per reference
(its runs held out by any factor), the coverage of the 80% and 95% intervals against their
targets as JSON (null where a group has no held-out run);
--scored reads the held-out predictions an earlier --csv wrote instead of fitting again.

    python benchmarks/predict_validation.py --csv /tmp/loo.parquet --summary docs/measured/predict_validation.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from twoclocks.core.io import atomic_path, read_table, write_json, write_table
from twoclocks.prediction.design import BATCH_LAWS
from twoclocks.prediction.fitted import shipped_calibration
from twoclocks.prediction.laws import BOOTSTRAP
from twoclocks.prediction.pilot_validation import largest_N_records, pilot_records
from twoclocks.prediction.reference import (
    Runs,
    distinct_runs,
    reference_runs,
    shipped_pilots,
    sweep_runs,
)
from twoclocks.prediction.validation import FACTORS, leave_one_level_out, measured_only, summarise
from twoclocks.prediction.variables import CLOCKS


def by_factor(scored: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (factor, clock), part in scored.groupby(["factor", "clock"], sort=False):
        rows.append(
            {
                "held out": factor,
                "clock": clock,
                "n": len(part),
                "median_abs_log10_err": part["error"].median(),
                "coverage80": part["covered80"].mean(),
                "coverage95": part["covered95"].mean(),
                "coverage80_law": part["covered80_law"].mean(),
                "coverage95_law": part["covered95_law"].mean(),
            }
        )
    return pd.DataFrame(rows)


# The factors each summary pools, and the coverage each interval is to reach held out.
GROUPS: dict[str, tuple[str, ...]] = {
    "every factor": FACTORS,
    "optimiser": ("train.batch", "train.lr"),
    "rule": ("task",),
}
TARGETS = {80: (0.70, 0.90), 95: (0.88, 0.99)}  # percent level -> (lowest, highest) coverage


def coverage_summary(scored: pd.DataFrame) -> dict:
    """Per group of GROUPS and clock: held-out predictions (censored ones), median |log10 error|,
    the coverage of each interval calibrated and by the law alone, and whether the calibrated
    coverage lies inside its target (TARGETS); null where the group has no held-out run. Then
    the same per source (each reference or sweep: its runs held out by any factor)."""
    out: dict = {"targets": {f"coverage{q}": list(t) for q, t in TARGETS.items()}, "groups": {}, "sources": {}}
    for group, factors in GROUPS.items():
        chosen = scored[scored["factor"].isin(factors)]
        out["groups"][group] = {"factors": list(factors), "clocks": clock_coverage(chosen)}
    if "source" in scored:
        for source, part in scored.groupby("source", sort=True):
            out["sources"][str(source)] = {"clocks": clock_coverage(part)}
    return out


def clock_coverage(scored: pd.DataFrame) -> dict:
    """coverage_summary's figures, per clock, of these held-out predictions."""

    def value(x: float) -> float | None:
        return round(float(x), 4) if np.isfinite(x) else None

    clocks = {}
    for clock in CLOCKS:
        part = scored[scored["clock"] == clock]
        row: dict = {"n": len(part), "censored": int(part["right"].sum())}
        row["median_abs_log10_err"] = value(part["error"].median()) if len(part) else None
        exact = measured_only(part)
        for q, (lo, hi) in TARGETS.items():
            cover = float(part[f"covered{q}"].mean()) if len(part) else float("nan")
            row[f"coverage{q}"] = value(cover)
            row[f"coverage{q}_law"] = value(float(part[f"covered{q}_law"].mean())) if len(part) else None
            row[f"coverage{q}_on_target"] = bool(lo <= cover <= hi) if len(part) else None
            row[f"coverage{q}_measured"] = value(float(exact[f"covered{q}"].mean())) if len(exact) else None
        clocks[clock] = row
    return clocks


def calibration_figure(scored: pd.DataFrame, path: Path) -> None:
    """Predicted median vs measured (log-log), 80% intervals as bars; censored measurements
    drawn at their bound with a right-pointing marker (the truth lies further right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(CLOCKS), figsize=(4 * len(CLOCKS), 4), dpi=110)
    for ax, clock in zip(axes, CLOCKS):
        part = scored[scored["clock"] == clock]
        measured, median = 10 ** part["measured"], 10 ** part["median"]
        lo, hi = 10 ** part["lo80"], 10 ** part["hi80"]
        for censored, marker, colour in ((False, "o", "C0"), (True, ">", "C3")):
            sel = (part["right"] == censored).to_numpy()
            ax.errorbar(
                measured[sel],
                median[sel],
                yerr=[median[sel] - lo[sel], hi[sel] - median[sel]],
                fmt=marker,
                ms=4,
                color=colour,
                alpha=0.6,
                lw=0.8,
                label="censored (at bound)" if censored else "measured",
            )
        span = [min(measured.min(), lo.min()) / 1.5, max(measured.max(), hi.max()) * 1.5]
        ax.plot(span, span, color="gray", lw=1)
        ax.set(xscale="log", yscale="log", xlim=span, ylim=span, title=clock, xlabel="measured (steps)")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("predicted median, 80% interval (steps)")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle("leave-one-level-out: each held-out run predicted from the others")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def pilot_summary(runs: Runs, ks: list[int], draws: int) -> None:
    """Per K and clock: held-out runs, median |log10 error|, 80% and 95% coverage, per rule too."""
    calibration = shipped_calibration()
    print(f"calibration: {calibration.fitted_on if calibration else 'none (the laws alone)'}")
    for k in ks:
        scored = pilot_records(runs, k, calibration, draws)
        if scored.empty:
            print(f"pilots={k}: no rule has more than {k} configs")
            continue
        print_coverage(f"pilots={k}", scored)


def shipped_pilot_summary(name: str, draws: int) -> None:
    """The shipped pilot runs of task `name`, each family and rule setting's largest N held out
    and predicted from the reference and the rest (`pilot_validation.largest_N_records`)."""
    pilots = shipped_pilots(name)
    if pilots is None:
        raise SystemExit(f"no shipped pilot runs of {name}")
    print_coverage(f"{name} largest N", largest_N_records(pilots, reference_runs(), shipped_calibration(), draws))


def print_coverage(label: str, scored: pd.DataFrame) -> None:
    """Per clock: held-out runs (censored), median |log10 error|, 80% and 95% coverage; then the
    coverage per held-out level (a rule, or a family and setting)."""
    for clock, part in scored.groupby("clock", sort=False):
        cover = f"coverage80 {part['covered80'].mean():.2f}  coverage95 {part['covered95'].mean():.2f}"
        print(
            f"{label} {clock:<13} n={len(part):3d} (censored {int(part['right'].sum())})  "
            f"median |log10 err| {part['error'].median():.3f}  {cover}"
        )
    by_level = scored.groupby(["level", "clock"])[["covered80", "covered95"]].mean().unstack()
    with pd.option_context("display.width", 200, "display.float_format", "{:.2f}".format):
        print(by_level.to_string())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--from", dest="sweeps", nargs="+", help="sweep directories (default: the shipped reference)")
    ap.add_argument("--figure", default="docs/img/predict_calibration.png")
    ap.add_argument("--csv", help="also write every held-out prediction to this table")
    ap.add_argument("--with-reference", action="store_true", help="fit the shipped reference with the sweeps")
    ap.add_argument("--factors", nargs="+", choices=FACTORS, default=list(FACTORS), help="the factors held out")
    ap.add_argument("--batch", choices=sorted(BATCH_LAWS), help="a batch law for every fit (default: chosen)")
    ap.add_argument("--draws", type=int, default=BOOTSTRAP, help="bootstrap refits per law")
    ap.add_argument("--pilots", type=int, nargs="+", help="validate the pilot-run route with K pilot configs")
    ap.add_argument("--shipped-pilots", metavar="TASK", help="validate a task's shipped pilot runs, largest N held out")
    ap.add_argument("--summary", help="write the coverage per group of factors and clock to this JSON file")
    ap.add_argument("--scored", help="read the held-out predictions an earlier --csv wrote instead of fitting")
    args = ap.parse_args()
    if args.scored:
        scored = read_table(args.scored)
        report(scored, args)
        return
    runs = sweep_runs(args.sweeps) if args.sweeps else reference_runs()
    if args.sweeps and args.with_reference:
        ref = reference_runs()
        table = distinct_runs(pd.concat([ref.table, runs.table], ignore_index=True))
        runs = Runs(table, (*ref.sources, *runs.sources))
    print(f"fitted on {runs.describe()}")
    if args.shipped_pilots:
        shipped_pilot_summary(args.shipped_pilots, args.draws)
        return
    if args.pilots:
        pilot_summary(runs, args.pilots, args.draws)
        return
    refused: list[dict] = []
    scored = leave_one_level_out(runs, tuple(args.factors), args.draws, args.batch, refused)
    if args.csv:
        write_table(args.csv, scored)
    report(scored, args, refused_counts(refused))


def refused_counts(refused: list[dict]) -> dict:
    """Per clock and held-out factor, how many held-out runs the laws refused to predict
    (`reach.unplaced`), and why, in the words of the first."""
    out: dict = {}
    for r in refused:
        entry = out.setdefault(r["clock"], {"n": 0, "factors": {}, "why": r["why"]})
        entry["n"] += 1
        entry["factors"][r["factor"]] = entry["factors"].get(r["factor"], 0) + 1
    return out


def report(scored: pd.DataFrame, args: argparse.Namespace, refused: dict | None = None) -> None:
    """The tables, the figure and the summary of the scored held-out predictions (`refused`:
    `refused_counts`, unknown when the predictions were read back with --scored)."""
    with pd.option_context("display.width", 200, "display.max_columns", None, "display.float_format", "{:.3f}".format):
        print(summarise(scored).to_string(index=False))
        print()
        print(by_factor(scored).to_string(index=False))
    beyond = scored[(scored["beyond_N"] >= 2.0) & scored["error"].notna()]
    for clock, part in beyond.groupby("clock", sort=False):
        factors = ", ".join(f"{f:g}x" for f in sorted(set(np.round(part["beyond_N"], 2))))
        print(
            f"{clock}: extrapolated in N ({factors} beyond the fitted N): median |log10 err| "
            f"{part['error'].median():.3f} over {len(part)} measured runs"
        )
    for clock, entry in (refused or {}).items():
        factors = ", ".join(f"{f} {n}" for f, n in entry["factors"].items())
        print(f"{clock}: not predicted for {entry['n']} held-out runs ({factors}), e.g. {entry['why']}")
    calibration_figure(scored, Path(args.figure))
    print(f"figure: {args.figure}")
    if args.summary:
        write_json(args.summary, coverage_summary(scored) | {"not_predicted": refused})
        print(f"summary: {args.summary}")


if __name__ == "__main__":
    main()
