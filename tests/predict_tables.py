"""Synthetic results tables drawn from a known law, in the columns of a sweep's results.parquet."""

from __future__ import annotations

import numpy as np
import pandas as pd

from twoclocks.config import RunConfig, apply_overrides, flatten
from twoclocks.prediction.reference import Runs
from twoclocks.prediction.variables import CLOCKS
from twoclocks.tasks import make_task

# log10 tau = A + B log10 N (+ 0.1 per G above 2), with scatter SIGMA; the rule clocks flat in N.
LAW = {"tau_rule": (2.3, 0.0), "tau_rule_low": (2.0, 0.0), "tau_group": (1.9, 0.0), "tau_mem": (2.2, 1.2)}
SIGMA = 0.08


def synthetic_row(overrides: dict, seed: int, rng: np.random.Generator, budget: int) -> dict:
    cfg = apply_overrides(RunConfig(), {**overrides, "train.steps": budget, "seed": seed})
    row = dict(flatten(cfg.to_dict()))
    task = make_task("parity", **{k: v for k, v in cfg.task.items() if k != "name"})
    row.update({"log2_population": task.log2_population, "max_step": budget, "status": "finished"})
    row.update({"point": f"p{rng.integers(1 << 40):x}", "run_dir": "runs/x", "device": "cpu"})
    for clock in CLOCKS:
        a, b = LAW[clock]
        y = a + b * np.log10(cfg.data.N) + 0.1 * (cfg.task["G"] - 2) + SIGMA * rng.standard_normal()
        censored = y > np.log10(budget)
        row.update({clock: None if censored else 10**y, f"{clock}_censored": censored, f"{clock}_left_censored": False})
    return row


def synthetic_runs(seed: int = 0, seeds: int = 3, Ns=(4, 8, 16, 32, 64), budget: int = 20000) -> Runs:
    rng = np.random.default_rng(seed)
    rows = [
        synthetic_row({"data.N": N, "task.G": G, "model.width": 64, "model.heads": 4}, s, rng, budget)
        for N in Ns
        for G in (2, 3)
        for s in range(seeds)
    ]
    return Runs(pd.DataFrame(rows).assign(source="synthetic"), ("synthetic",))
