"""Leave-one-level-out validation of the laws on finished runs.

Each level of each factor (every N, every knob level, every rule, every width, every depth)
is held out in turn; the laws are fitted again on the other runs (forms chosen again, on those
runs only) and predict the held-out ones. Per prediction:

    error     |log10(median / measured)|, for a measured clock
    covered   measured inside the interval; a right-censored clock (tau > bound) is missed only
              when the whole interval lies below the bound, a left-censored one (tau <= bound)
              only when it lies wholly above
    beyond_N  N / the nearest fitted N of the same family and rule, when the held-out N lies
              outside them (1.0 inside): extrapolation in N
    inside    every numeric variable (N, the rule's size, width, depth, ...) of the held-out run
              lies within those of the fitted runs of its family and rule: interpolation
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from twoclocks.errors import ConfigError
from twoclocks.prediction.laws import BOOTSTRAP
from twoclocks.prediction.predict import LEVELS, Laws, check_predictable, predict_samples
from twoclocks.prediction.reference import Runs
from twoclocks.prediction.variables import CLOCKS, NUMERIC, observed, table_variables
from twoclocks.tasks import TASKS

FACTORS = ("data.N", "knob", "task", "model.width", "model.depth")


def factor_levels(table: pd.DataFrame) -> pd.DataFrame:
    """The level of every factor for every run ('knob' is 'task:knob=value')."""
    out = pd.DataFrame(index=table.index)
    for f in FACTORS:
        if f == "knob":
            out[f] = [
                f"{t}:{TASKS[t].knob}={row.get(f'task.{TASKS[t].knob}')}"
                for t, (_, row) in zip(table["task"], table.iterrows())
            ]
        else:
            out[f] = table[f].astype(str)
    return out


def beyond_N(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """N / nearest fitted N of the same family and rule, where outside their range; else 1."""
    out = np.ones(len(test))
    for i, (_, row) in enumerate(test.iterrows()):
        same = train[(train["model.family"] == row["model.family"]) & (train["task"] == row["task"])]
        if same.empty:
            continue
        lo, hi, n = same["data.N"].min(), same["data.N"].max(), row["data.N"]
        out[i] = n / hi if n > hi else (lo / n if n < lo else 1.0)
    return out


def inside(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """Whether each held-out run lies inside the fitted runs of its family and rule in every
    numeric variable (module docstring)."""
    v_train, v_test = table_variables(train), table_variables(test)
    numeric = [*NUMERIC, "bits"]
    out = np.zeros(len(test), bool)
    for i in range(len(test)):
        row = v_test.iloc[i]
        same = v_train[(v_train["family"] == row["family"]) & (v_train["task"] == row["task"])]
        if not same.empty:
            out[i] = all(same[c].min() - 1e-9 <= row[c] <= same[c].max() + 1e-9 for c in numeric)
    return out


def predict_heldout(laws: Laws, test: pd.DataFrame) -> list[dict]:
    """One record per held-out run and clock."""
    v = table_variables(test)
    records = []
    for i in range(len(test)):
        row = v.iloc[[i]]
        try:
            check_predictable(row, laws.variables)
        except ConfigError:
            continue
        samples = predict_samples(laws, row)
        for clock in CLOCKS:
            y = samples[clock]
            record = {"clock": clock, "median": float(np.median(y))}
            for q in LEVELS:
                record[f"lo{round(100 * q)}"] = float(np.quantile(y, (1 - q) / 2))
                record[f"hi{round(100 * q)}"] = float(np.quantile(y, (1 + q) / 2))
            records.append({"row": test.index[i], **record})
    return records


def score(records: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Add measured, censoring, error and coverage to the prediction records."""
    out = []
    for clock, part in records.groupby("clock"):
        obs = observed(table.loc[part["row"]], str(clock))
        part = part.assign(measured=obs.y, right=obs.right, left=obs.left)
        exact = ~(obs.right | obs.left)
        part["error"] = np.where(exact, np.abs(part["median"] - obs.y), np.nan)
        for q in LEVELS:
            lo, hi = part[f"lo{round(100 * q)}"], part[f"hi{round(100 * q)}"]
            inside = (lo <= obs.y) & (obs.y <= hi)
            part[f"covered{round(100 * q)}"] = np.where(obs.right, hi >= obs.y, np.where(obs.left, lo <= obs.y, inside))
        out.append(part)
    return pd.concat(out, ignore_index=True)


def leave_one_level_out(runs: Runs, factors: tuple[str, ...] = FACTORS, draws: int = BOOTSTRAP) -> pd.DataFrame:
    """Every held-out prediction, scored (module docstring); one row per run, clock and fold."""
    table = runs.table
    levels = factor_levels(table)
    parts = []
    for factor in factors:
        values = sorted(levels[factor].unique())
        if len(values) < 2:
            continue
        for value in values:
            held = (levels[factor] == value).to_numpy()
            train = Runs(table[~held].reset_index(drop=True), runs.sources)
            try:
                laws = Laws.fit(train, draws=draws)
            except ConfigError:  # too few runs left that reach some clock
                continue
            records = pd.DataFrame(predict_heldout(laws, table[held]))
            if records.empty:
                continue
            scored = score(records, table)
            beyond = dict(zip(table.index[held], beyond_N(train.table, table[held])))
            within = dict(zip(table.index[held], inside(train.table, table[held])))
            parts.append(
                scored.assign(
                    factor=factor, level=value, beyond_N=scored["row"].map(beyond), inside=scored["row"].map(within)
                )
            )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def summarise(scored: pd.DataFrame) -> pd.DataFrame:
    """Per clock: predictions, censored ones, median |log10 error| (all; inside the fitted runs
    in every variable; 2x or more beyond the fitted N), coverage of the 80% and 95% intervals
    (all, and inside)."""
    rows = []
    for clock in CLOCKS:
        part = scored[scored["clock"] == clock]
        within = part[part["inside"].astype(bool)]
        beyond = part[part["beyond_N"] >= 2.0]
        rows.append(
            {
                "clock": clock,
                "predictions": len(part),
                "censored": int(part["right"].sum()),
                "median_abs_log10_err": float(part["error"].median()),
                "inside": float(within["error"].median()),
                "n_inside": int(within["error"].notna().sum()),
                "N_2x_beyond": float(beyond["error"].median()),
                "n_2x_beyond": int(beyond["error"].notna().sum()),
                "coverage80": float(part["covered80"].mean()),
                "coverage95": float(part["covered95"].mean()),
                "coverage80_inside": float(within["covered80"].mean()),
                "coverage95_inside": float(within["covered95"].mean()),
            }
        )
    return pd.DataFrame(rows)
