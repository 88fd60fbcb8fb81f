"""Where the next reference runs tell the laws most, from the laws' own uncertainty
(docs/predict.md, "Choosing the next runs").

    python benchmarks/predict_next_runs.py [--N 32 64 128 256] [--width 64 128] [--top 10] [--csv F]

The candidates are the rules of the reference across rules (reference_rules_cpu.yaml: every
built-in binary rule and puzzle besides group parity, with its knob as there) at each N and DiT
width asked (depth 2 and 4 heads, as the reference), where N is under half the rule's population. For
each, the shipped laws' prediction: per clock the width of its 95% interval in decades (or "not
predicted"), the budget `train.steps=auto train.stop_at=mem` would give it, and its cost: that
budget times the model's parameter count over the reference DiT's (a step's CPU time grows with
the model, `sweeps.plan`), in reference-DiT steps. Two rankings:

- tau_mem, by the width of its 95% interval per decade of cost: uncertainty sampling, a run where
  the interval is widest moves the law most there, and of two equally uncertain configs the
  cheaper first;
- tau_rule, where it is not predicted (no run of that rule reached it, and the runs that did had
  too few rules to carry it), by how many decades tau_rule_low's median lies before tau_mem's:
  a rule learned at the low level long before copying has the most room to be learned at 0.9
  before it copies, so these are the runs likeliest to reach tau_rule on a rule that has not.

Each answer takes about a second (the laws are cached), so a grid of 70 candidates a minute.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd

import twoclocks as tc
from twoclocks.config import RunConfig, build_config
from twoclocks.prediction.autobudget import budget_from
from twoclocks.prediction.variables import CLOCKS
from twoclocks.sweeps.plan import num_params
from twoclocks.sweeps.spec import expand, load_spec
from twoclocks.tasks import build_task

SPEC = Path(__file__).resolve().parents[1] / "src/twoclocks/sweeps/specs/reference_rules_cpu.yaml"
REFERENCE_DIT = ["model.width=64", "model.depth=2", "model.heads=4"]
MAX_MEM_CHANCE = 0.5


def rules_of_reference() -> dict[str, list[str]]:
    """Each rule of the reference across rules -> its task overrides (task and knob), as run."""
    rules: dict[str, list[str]] = {}
    for point in expand(load_spec(SPEC)):
        task = {k: v for k, v in point.overrides.items() if k == "task" or k.startswith("task.")}
        rules.setdefault(str(task["task"]), [f"{k}={v}" for k, v in task.items()])
    return rules


def decades(interval: tuple[float, float]) -> float:
    lo, hi = interval
    return math.log10(hi / lo) if np.isfinite(lo) and np.isfinite(hi) and lo > 0 else math.inf


def candidate(task: list[str], N: int, width: int, sizes: dict[str, int]) -> dict | None:
    """One candidate's row, or None where the training set would be half the rule's population
    or more (a valid sample is then as likely a copy as not: no window to read)."""
    overrides = [*task, *REFERENCE_DIT, f"model.width={width}", f"data.N={N}", "eval.samples=256"]
    cfg: RunConfig = build_config(overrides)
    if build_task(cfg.task).mem_chance(N) >= MAX_MEM_CHANCE:
        return None
    p = tc.predict(overrides)
    row: dict = {"task": task[0].split("=", 1)[1], "N": N, "width": width}
    for c in CLOCKS:
        k = p.clocks[c]
        row[f"{c}_median"] = k.median  # NaN where not predicted
        row[f"{c}_width95"] = math.nan if k.refused else decades(k.intervals[0.95])
    budget = budget_from(p, "mem", 0)
    size = num_params(cfg, sizes) / num_params(build_config(REFERENCE_DIT), sizes)
    row.update(budget=budget, cost=budget * max(1.0, size))
    return row


def rank(table: pd.DataFrame, top: int) -> None:
    shown = {"index": False, "float_format": "{:,.2f}".format}
    mem = table.assign(score=table["tau_mem_width95"] / np.log10(table["cost"]))
    cols = ["task", "N", "width", "tau_mem_median", "tau_mem_width95", "cost"]
    print("tau_mem: widest 95% interval per decade of cost")
    print(mem.sort_values("score", ascending=False)[cols].head(top).to_string(**shown))
    rule = table[table["tau_rule_median"].isna()]
    rule = rule.assign(lead=np.log10(rule["tau_mem_median"] / rule["tau_rule_low_median"]))
    cols = ["task", "N", "width", "tau_rule_low_median", "tau_mem_median", "lead", "cost"]
    print("\ntau_rule not predicted: decades by which tau_rule_low comes before tau_mem")
    print(rule.sort_values(["lead", "cost"], ascending=[False, True])[cols].head(top).to_string(**shown))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--N", type=int, nargs="+", default=[32, 64, 128, 256])
    ap.add_argument("--width", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--csv", type=Path, help="write every candidate's row here (parquet)")
    args = ap.parse_args()
    sizes: dict[str, int] = {}
    rows = [
        row
        for task in rules_of_reference().values()
        for N in args.N
        for width in args.width
        if (row := candidate(task, N, width, sizes)) is not None
    ]
    table = pd.DataFrame(rows)
    if args.csv:
        table.to_parquet(args.csv)
    rank(table, args.top)


if __name__ == "__main__":
    main()
