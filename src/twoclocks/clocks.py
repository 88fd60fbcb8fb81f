"""The two clocks, read off a run's evaluation curve (one row per evaluation).

Definitions (docs/protocol.md has the full text):
- crossing(curve, theta): the first evaluation i with curve[i] >= theta whose *next*
  evaluation also has curve >= theta (the last evaluation needs no successor). The clock is
  interpolated linearly in log(step) between evaluation i-1 (below theta) and i. When i is
  the first evaluation the clock is left-censored: reported as that step, flagged.
  When no evaluation qualifies the clock is right-censored: null, reported as "> max step".
- tau_rule = crossing(valid, theta_rule).
- tau_mem = crossing(mem - mem_chance, theta_mem); tau_mem_high likewise at theta_mem_high.
- Clock intervals: the same crossing on the upper (early bound) and lower (late bound)
  Wilson limits of the curve.
- window = [tau_rule, tau_mem]; window_log10 = log10(tau_mem / tau_rule); vanished when
  tau_mem <= tau_rule, or tau_mem found while tau_rule is censored.
- epochs = step * batch / N.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from twoclocks.config import ClockConfig


def crossing(steps: np.ndarray, values: np.ndarray, theta: float) -> tuple[float | None, bool]:
    """(clock, left_censored) for the first held crossing of `theta`; (None, False) if none."""
    steps = np.asarray(steps, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    above = values >= theta
    for i in range(len(values)):
        if above[i] and (i == len(values) - 1 or above[i + 1]):
            if i == 0:
                return float(steps[0]), True
            s0, s1 = math.log(steps[i - 1]), math.log(steps[i])
            v0, v1 = values[i - 1], values[i]
            frac = 1.0 if v1 == v0 else float(np.clip((theta - v0) / (v1 - v0), 0.0, 1.0))
            return float(math.exp(s0 + frac * (s1 - s0))), False
    return None, False


def _clock(df: pd.DataFrame, column: str, theta: float, offset: np.ndarray | float = 0.0) -> dict:
    steps = df["step"].to_numpy()
    tau, left = crossing(steps, df[column].to_numpy() - offset, theta)
    early, _ = crossing(steps, df[f"{column}_hi"].to_numpy() - offset, theta)
    late, _ = crossing(steps, df[f"{column}_lo"].to_numpy() - offset, theta)
    return {"tau": tau, "censored": tau is None, "left_censored": left, "ci": [early, late]}


def compute_clocks(df: pd.DataFrame, cfg: ClockConfig, batch: int, N: int) -> dict:
    """All clock quantities of one run, from its metrics table (sorted by step)."""
    df = df.sort_values("step").reset_index(drop=True)
    max_step = int(df["step"].max())
    chance = df["mem_chance"].to_numpy()
    rule = _clock(df, "valid", cfg.theta_rule)
    mem = _clock(df, "mem", cfg.theta_mem, chance)
    mem_high = _clock(df, "mem", cfg.theta_mem_high, chance)

    def epochs(step: float | None) -> float | None:
        return None if step is None else step * batch / N

    out = {
        "max_step": max_step,
        "tau_rule": rule["tau"],
        "tau_rule_censored": rule["censored"],
        "tau_rule_left_censored": rule["left_censored"],
        "tau_rule_ci": rule["ci"],
        "tau_rule_epochs": epochs(rule["tau"]),
        "tau_mem": mem["tau"],
        "tau_mem_censored": mem["censored"],
        "tau_mem_left_censored": mem["left_censored"],
        "tau_mem_ci": mem["ci"],
        "tau_mem_epochs": epochs(mem["tau"]),
        "tau_mem_high": mem_high["tau"],
        "tau_mem_high_censored": mem_high["censored"],
        "tau_mem_high_epochs": epochs(mem_high["tau"]),
        "thresholds": {
            "theta_rule": cfg.theta_rule,
            "theta_mem": cfg.theta_mem,
            "theta_mem_high": cfg.theta_mem_high,
            "ci_level": cfg.ci_level,
        },
    }
    out.update(window(rule["tau"], mem["tau"], max_step))
    peak = int(df["novel_valid"].to_numpy().argmax())
    out["peak_novel_valid_step"] = int(df["step"].iloc[peak])
    out["peak_novel_valid"] = float(df["novel_valid"].iloc[peak])
    return out


def window(tau_rule: float | None, tau_mem: float | None, max_step: int) -> dict:
    """The innovation window [tau_rule, tau_mem] and its log10 width, honest about censoring."""
    res: dict[str, Any] = {
        "window": [tau_rule, tau_mem],
        "window_log10": None,
        "window_log10_is_lower_bound": False,
        "window_vanished": False,
    }
    if tau_rule is not None and tau_mem is not None:
        res["window_log10"] = max(0.0, math.log10(tau_mem / tau_rule))
        res["window_vanished"] = tau_mem <= tau_rule
    elif tau_rule is not None:  # memorisation not reached: the window is at least this wide
        res["window_log10"] = max(0.0, math.log10(max_step / tau_rule))
        res["window_log10_is_lower_bound"] = True
    elif tau_mem is not None:  # copying began and the rule was never learned
        res["window_vanished"] = True
    return res


def format_clock(tau: float | None, max_step: int) -> str:
    """A clock as text: a number, or '> max step' when right-censored."""
    return f"> {max_step}" if tau is None else f"{tau:,.0f}"
