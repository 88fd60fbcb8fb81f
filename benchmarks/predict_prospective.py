"""The prospective test of `twoclocks predict` (docs/predict.md): configs no reference sweep
ran, predicted first, then run with train.steps=auto train.stop_at=mem, then compared.

    python benchmarks/predict_prospective.py predict --set S --out DIR             # predictions, a table
    python benchmarks/predict_prospective.py run --set S --out DIR --runs RUNS     # one at a time
    python benchmarks/predict_prospective.py compare --set S --out DIR --runs RUNS # pred. vs measured

    python benchmarks/predict_prospective.py plan --spec SPEC.yaml --predictions FILE.json
    python benchmarks/predict_prospective.py sweep --predictions FILE.json --runs SWEEP_DIR ...

`predict` writes DIR/predictions-S.json (commit it, and the table, before `run`); `run` trains
RUNS/<name> with the shipped reference sizing each budget; `compare` prints, per config,
the predicted median and intervals against the measured clock, the steps spent / tau_mem, and
the fraction of runs that reached tau_mem. `plan` writes the predictions of the points of a
sweep spec (seed 0 of each: the laws do not see the seed) to FILE.json and prints them;
`sweep` does what `compare` does for predictions of
the points of sweep specs (docs/prospective/*.json: {"predictions": {name: {"overrides",
"prediction"}}}) against every finished run of the given sweep directories whose config has
those overrides (all its seeds).
"""

from __future__ import annotations

import argparse
import datetime
import math
from pathlib import Path

import numpy as np
import pandas as pd

import twoclocks as tc
from twoclocks.config import RunConfig, apply_overrides, flatten, parse_overrides
from twoclocks.core.io import read_json, write_json
from twoclocks.errors import ConfigError
from twoclocks.prediction.autobudget import budget_from
from twoclocks.prediction.variables import CLOCKS
from twoclocks.sweeps.spec import expand, load_spec

# The shape of the reference DiT (width 64, depth 2, 4 heads; 256 samples per evaluation).
MAX_STEPS = 20000  # what one CPU core trains in about 4 minutes
BASE = ["model.width=64", "model.depth=2", "model.heads=4", "eval.samples=256"]
# 24 evaluations (not the reference's 16): the step after the one that settles tau_mem comes
# 1.3x later, not 1.5x, on a grid from step 10 to 5,000.
RUN = [
    "train.steps=auto",
    "train.stop_at=mem",
    f"train.max_steps={MAX_STEPS}",
    "eval.points=24",
    "eval.keep_checkpoints=last",
    "train.threads=1",
]
# set -> name -> overrides: each differs from every reference run in N, width, depth, knob or
# layout. The DiT set was predicted from the first 12 reference runs (DiT only), the GPT set
# once the reference held the GPT runs.
SETS: dict[str, dict[str, list[str]]] = {
    "dit": {
        "N6": ["task.G=2", "data.N=6"],  # a new N inside the fitted 4-8
        "N12": ["task.G=2", "data.N=12"],  # 1.5x beyond
        "N24": ["task.G=2", "data.N=24"],  # 3x beyond
        "width48": ["task.G=2", "data.N=8", "model.width=48"],  # another width
        "depth1": ["task.G=2", "data.N=8", "model.depth=1"],  # another depth
        "depth3": ["task.G=2", "data.N=8", "model.depth=3"],  # another depth
        "G3_N6": ["task.G=3", "data.N=6"],  # a knob level at a new N
        "G6_N8": ["task.G=6", "data.N=8"],  # another rule size: 30 bits
        "random_layout": ["task.G=2", "data.N=8", "task.layout=random"],  # the same rule on scattered groups
    },
    "gpt": {
        "gpt_N16": ["model=gpt", "task.G=2", "data.N=16"],  # inside the fitted 8-128
        "gpt_N64": ["model=gpt", "task.G=2", "data.N=64"],  # inside
        "gpt_N256": ["model=gpt", "task.G=2", "data.N=256"],  # 2x beyond
        "gpt_width32": ["model=gpt", "task.G=2", "data.N=32", "model.width=32"],  # another width
        "gpt_G3": ["model=gpt", "task.G=3", "data.N=32"],  # a knob level GPT never ran
    },
}


def predictions_file(out: Path, name: str) -> Path:
    return out / f"predictions-{name}.json"


def predict_all(out: Path, runs: Path, configs: dict[str, list[str]], file: Path) -> None:
    records, budgets = {}, {}
    for name, overrides in configs.items():
        p = tc.predict([*BASE, *overrides, *RUN])
        records[name] = {"overrides": overrides, **p.to_dict()}
        budgets[name] = budget_from(p, "mem", MAX_STEPS)
    write_json(file, records)
    print("| config | " + " | ".join(f"{c} median [80%] [95%]" for c in CLOCKS) + " | P(open) | budget | warnings |")
    print("|" + " --- |" * (len(CLOCKS) + 4))
    for name, r in records.items():
        cells = []
        for c in CLOCKS:
            k = r["clocks"][c]
            lo80, hi80 = k["interval_80"]
            lo95, hi95 = k["interval_95"]
            cells.append(f"{k['median']:,.0f} [{lo80:,.0f}, {hi80:,.0f}] [{lo95:,.0f}, {hi95:,.0f}]")
        tail = f" | {r['p_window_open']:.2f} | {budgets[name]:,} | {len(r['warnings'])} |"
        print(f"| {name} | " + " | ".join(cells) + tail)


def run_all(out: Path, runs: Path, configs: dict[str, list[str]], file: Path) -> None:
    """Every config, cheapest budget first, resuming one that was stopped."""
    predictions = read_json(file)
    for name in sorted(configs, key=lambda n: predictions[n]["clocks"]["tau_mem"]["interval_95"][1]):
        run_dir = runs / name
        if (run_dir / "summary.json").is_file():
            continue
        print(f"{name}: {' '.join(configs[name])}", flush=True)
        if (run_dir / "config.json").is_file():
            tc.load(run_dir).resume(progress=False)
        else:
            tc.run([*BASE, *configs[name], *RUN], out=run_dir, progress=False)


def covered(pred: dict, tau: float | None, bound: float) -> tuple[bool, bool]:
    """Whether the 80% and the 95% interval hold the measurement; a censored clock (tau > bound)
    is missed only by an interval that lies wholly below its bound."""
    out = []
    for level in ("interval_80", "interval_95"):
        lo, hi = pred[level]
        out.append(hi >= bound if tau is None else lo <= tau <= hi)
    return out[0], out[1]


def verdict(pred: dict, tau: float | None, bound: float) -> str:
    in80, in95 = covered(pred, tau, bound)
    text = "inside 80%" if in80 else ("inside 95%" if in95 else "outside 95%")
    return ("censored: " if tau is None else "") + text


def compare_all(out: Path, runs: Path, configs: dict[str, list[str]], file: Path) -> None:
    predictions = read_json(file)
    summaries = {
        name: read_json(runs / name / "summary.json")
        for name in predictions
        if (runs / name / "summary.json").is_file()
    }
    print("| config | budget (auto) | stopped at | tau_mem | steps / tau_mem |")
    print("| --- | --- | --- | --- | --- |")
    for name, s in summaries.items():
        tau = s["tau_mem"]
        ratio = f"{s['max_step'] / tau:.2f}" if tau is not None else "not reached"
        mem = f"{tau:,.0f}" if tau is not None else f"> {s['max_step']:,}"
        print(f"| {name} | {s['steps']:,} | {s['max_step']:,} | {mem} | {ratio} |")
    print("\n| config | clock | predicted [95%] | measured | log10(pred/meas) | verdict |")
    print("| --- | --- | --- | --- | --- | --- |")
    errors: dict[str, list[float]] = {c: [] for c in CLOCKS}
    hits: dict[str, list[tuple[bool, bool]]] = {c: [] for c in CLOCKS}
    for name, s in summaries.items():
        for c in CLOCKS:
            tau, k = s[c], predictions[name]["clocks"][c]
            measured = f"{tau:,.0f}" if tau is not None else f"> {s['max_step']:,}"
            err = "" if tau is None else f"{math.log10(k['median'] / tau):+.2f}"
            lo, hi = k["interval_95"]
            text = verdict(k, tau, s["max_step"])
            hits[c].append(covered(k, tau, s["max_step"]))
            if tau is not None:
                errors[c].append(abs(math.log10(k["median"] / tau)))
            print(f"| {name} | {c} | {k['median']:,.0f} [{lo:,.0f}, {hi:,.0f}] | {measured} | {err} | {text} |")
    reached = [s for s in summaries.values() if s["tau_mem"] is not None]
    print(f"\ntau_mem reached in {len(reached)} of {len(summaries)} runs ({len(predictions)} predicted)")
    for c in CLOCKS:
        n80, n95, n = sum(h[0] for h in hits[c]), sum(h[1] for h in hits[c]), len(hits[c])
        med = float(np.median(errors[c])) if errors[c] else float("nan")
        print(f"{c}: median |log10(pred/meas)| {med:.3f}; inside 80%: {n80}/{n}, inside 95%: {n95}/{n}")


def matching_runs(overrides: list[str], tables: list[pd.DataFrame]) -> list[dict]:
    """The finished rows of `tables` whose config has every one of `overrides`."""
    want = flatten(apply_overrides(RunConfig(), parse_overrides(overrides)).to_dict())
    keys = [k for k in parse_overrides(overrides) if k != "train.steps" or want[k] != "auto"]
    rows = []
    for table in (t for t in tables if "status" in t):
        for _, row in table[table["status"] == "finished"].iterrows():
            if all(k in row and same_value(row[k], want[k]) for k in keys):
                rows.append(row.to_dict())
    return rows


def same_value(cell: object, wanted: object) -> bool:
    """A table cell equals a config value; a column that some points lack holds its integers
    as floats (task.G of parity beside Sudoku's NaN reads 2.0), so numbers compare as numbers."""
    if isinstance(wanted, (int, float)) and not isinstance(wanted, bool):
        try:
            return float(cell) == float(wanted)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
    return str(cell) == str(wanted)


def plan_predictions(spec_path: Path, file: Path) -> None:
    """Predict every seed-0 point of a sweep spec with the shipped reference, before it runs."""
    points = [p for p in expand(load_spec(spec_path)) if p.overrides["seed"] == 0]
    records, lines = {}, []
    for point in points:
        overrides = [f"{k}={v}" for k, v in point.overrides.items() if k != "seed"]
        p = tc.predict(overrides)
        name = point.name.rsplit("-", 1)[0]
        (lo80, hi80), (lo95, hi95) = p.clocks["tau_mem"].intervals[0.8], p.clocks["tau_mem"].intervals[0.95]
        try:
            budget: int | None = budget_from(p, point.cfg.train.stop_at, point.cfg.train.max_steps)
            told = f"budget {budget:,}"
        except ConfigError as e:  # a clock the run waits for is not predicted: the spec's steps stand
            budget, told = None, f"no budget: {e}"
        records[name] = {"overrides": overrides, "budget": budget, "prediction": p.to_dict()}
        shown = f"{p.clocks['tau_mem'].median:,.0f} [{lo80:,.0f}, {hi80:,.0f}] [{lo95:,.0f}, {hi95:,.0f}]"
        lines.append(f"{name}: tau_mem {shown}, {told}")
    fitted_on = p.fitted_on + (f"; intervals calibrated on {p.calibrated_on}" if p.calibrated_on else "")
    made = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    runs = f"twoclocks sweep {spec_path}, not started when these were written"
    write_json(file, {"made": made, "fitted_on": fitted_on, "runs": runs, "predictions": records})
    print("\n".join(lines))


def compare_sweeps(predictions_path: Path, sweeps: list[Path]) -> None:
    records = read_json(predictions_path)["predictions"]
    tables = [pd.read_parquet(d / "results.parquet") for d in sweeps]
    print("| config | runs | clock | predicted [80%] [95%] | measured (per seed) | inside 80% / 95% |")
    print("| --- | --- | --- | --- | --- | --- |")
    hits: dict[str, list[tuple[bool, bool]]] = {c: [] for c in CLOCKS}
    reached, spent = [], []
    for name, rec in records.items():
        runs = matching_runs(rec["overrides"], tables)
        if not runs or "clocks" not in rec["prediction"]:
            continue
        for c in CLOCKS:
            k = rec["prediction"]["clocks"][c]
            shown = ", ".join(f"> {r['max_step']:,}" if r[f"{c}_censored"] else f"{r[c]:,.0f}" for r in runs)
            if k.get("not_predicted"):  # no interval to hold it: neither a hit nor a miss
                print(f"| {name} | {len(runs)} | {c} | not predicted | {shown} | – |")
                continue
            cov = [covered(k, None if r[f"{c}_censored"] else float(r[c]), r["max_step"]) for r in runs]
            hits[c] += cov
            lo80, hi80 = k["interval_80"]
            lo95, hi95 = k["interval_95"]
            n80, n95 = sum(h[0] for h in cov), sum(h[1] for h in cov)
            print(
                f"| {name} | {len(runs)} | {c} | {k['median']:,.0f} [{lo80:,.0f}, {hi80:,.0f}] [{lo95:,.0f}, "
                f"{hi95:,.0f}] | {shown} | {n80}/{len(runs)}, {n95}/{len(runs)} |"
            )
        reached += [not r["tau_mem_censored"] for r in runs]
        spent += [r["max_step"] / r["tau_mem"] for r in runs if not r["tau_mem_censored"]]
    for c in CLOCKS:
        n = len(hits[c])
        print(f"{c}: inside 80%: {sum(h[0] for h in hits[c])}/{n}, inside 95%: {sum(h[1] for h in hits[c])}/{n}")
    if spent:
        print(
            f"tau_mem reached in {sum(reached)}/{len(reached)} runs; steps / tau_mem {min(spent):.2f}-{max(spent):.2f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=("predict", "run", "compare", "plan", "sweep"))
    ap.add_argument("--out", type=Path, help="where predictions-SET.json is")
    ap.add_argument("--runs", type=Path, nargs="+", default=[Path("prospective-runs")], help="run or sweep directories")
    ap.add_argument("--set", dest="configs", choices=sorted(SETS), help="which set of configs")
    ap.add_argument("--predictions", type=Path, help="plan, sweep: a predictions file of sweep points")
    ap.add_argument("--spec", type=Path, help="plan: the sweep spec whose points are predicted")
    args = ap.parse_args()
    if args.action == "plan":
        if args.predictions is None or args.spec is None:
            ap.error("plan needs --spec SPEC.yaml and --predictions FILE")
        plan_predictions(args.spec, args.predictions)
        return
    if args.action == "sweep":
        if args.predictions is None:
            ap.error("sweep needs --predictions FILE")
        compare_sweeps(args.predictions, list(args.runs))
        return
    if args.out is None or args.configs is None:
        ap.error(f"{args.action} needs --out and --set")
    args.runs = args.runs[0]
    args.out.mkdir(parents=True, exist_ok=True)
    action = {"predict": predict_all, "run": run_all, "compare": compare_all}[args.action]
    action(args.out, args.runs, SETS[args.configs], predictions_file(args.out, args.configs))


if __name__ == "__main__":
    main()
