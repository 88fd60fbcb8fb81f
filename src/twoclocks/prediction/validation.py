"""Leave-one-level-out validation of the laws on finished runs.

Each level of each factor (every N, every knob level, every rule, every width, every depth,
every patch size, every batch and every learning rate) is held out in turn; the laws are fitted
again on the other runs (forms chosen again, on those runs only) and predict the held-out ones:
holding out a rule is a rule the laws know by its features alone, holding out a batch or a
learning rate of two levels is one the fitted runs never varied. A level that most of the runs
have is not held out (`laws.informative_fold`: the rest would be a thin slice of the design). Per
prediction:

    error     |log10(median / measured)|, for a measured clock
    covered   measured inside the interval; a right-censored clock (tau > bound) is missed only
              when the whole interval lies below the bound, a left-censored one (tau <= bound)
              only when it lies wholly above
    beyond_N  N / the nearest fitted N of the same family and rule, when the held-out N lies
              outside them (1.0 inside): extrapolation in N
    inside    every numeric variable (N, the rule's size, width, depth, ...) of the held-out run
              lies within those of the fitted runs of its family and rule: interpolation

Each prediction is scored twice: by the law's own samples (`*_law` columns) and calibrated
(`calibration`), with each fold's calibration fitted on the held-out predictions of the runs
outside that fold. The same held-out predictions of all runs give the calibration a
prediction uses (`calibrate`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from twoclocks.errors import ConfigError
from twoclocks.prediction.calibration import (
    REACH_TERMS,
    Calibration,
    calibrated_samples,
    extra_sd,
    fit_calibration,
)
from twoclocks.prediction.laws import BOOTSTRAP, informative_fold
from twoclocks.prediction.predict import LEVELS, Laws, check_predictable, predict_samples
from twoclocks.prediction.reach import decades
from twoclocks.prediction.reference import Runs
from twoclocks.prediction.variables import CLOCKS, NUMERIC, observed, table_variables, task_knob, waited_for

FACTORS = ("data.N", "knob", "task", "model.width", "model.depth", "model.patch", "train.batch", "train.lr")


def factor_levels(table: pd.DataFrame) -> pd.DataFrame:
    """The level of every factor for every run ('knob' is 'task:knob=value' for a built-in rule,
    'task:B bits' by the recorded log2 population for a rule named by import path)."""
    out = pd.DataFrame(index=table.index)
    for f in FACTORS:
        out[f] = [knob_level(row) for _, row in table.iterrows()] if f == "knob" else table[f].astype(str)
    return out


def knob_level(row: pd.Series) -> str:
    task = str(row["task"])
    knob = task_knob(task)
    return f"{task}:{row['log2_population']:g} bits" if knob is None else f"{task}:{knob}={row.get(f'task.{knob}')}"


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


QUANTILES = np.linspace(0.0005, 0.9995, 1000)  # a held-out prediction's samples, kept as quantiles
NOISE = norm.ppf(np.linspace(0.005, 0.995, 100))  # N(0, 1) at evenly spaced quantiles


def predict_heldout(laws: Laws, test: pd.DataFrame, refused: list[dict] | None = None) -> list[dict]:
    """One record per held-out run and clock: the law's predictive samples (as QUANTILES), their
    standard deviation, and the run's reach from the runs that measured the clock. A clock not
    predicted for the run (`Laws.refusals`) has no record; it goes to `refused`, if given, as
    {row, clock, why}."""
    v = table_variables(test)
    records = []
    for i in range(len(test)):
        row = v.iloc[[i]]
        try:
            check_predictable(row, laws.variables)
        except ConfigError:
            continue
        reaches = laws.reaches(row)
        samples = predict_samples(laws, row, reaches, rule_spread=False)
        not_predicted = laws.refusals(row)
        if refused is not None:
            refused += [{"row": test.index[i], "clock": c, "why": why} for c, why in not_predicted.items()]
        for clock in (c for c in laws.laws if c not in not_predicted):
            y, r = samples[clock], reaches[clock]
            records.append(
                {
                    "row": test.index[i],
                    "clock": clock,
                    "sd": float(np.std(y)),
                    "rule_spread": laws.laws[clock].unseen_spread(row),
                    "q": np.quantile(y, QUANTILES),
                    **r.terms(),
                    "decades_N": r.decades_N,
                    "outside_vars": ",".join(x for x in r.outside_vars if x != "bits"),
                }
            )
    return records


def with_intervals(records: pd.DataFrame, extra: np.ndarray, scale: np.ndarray) -> pd.DataFrame:
    """Median and LEVELS intervals of each record's samples, their spread scaled by `scale` and
    N(0, extra^2 + rule_spread^2) added (`calibration.calibrated_samples`; the spread of an
    unseen rule's offset, `predict.predict_samples`, is not scaled)."""
    medians: list[float] = []
    bounds: dict[str, list[float]] = {f"{side}{round(100 * q)}": [] for q in LEVELS for side in ("lo", "hi")}
    spread = records["rule_spread"].to_numpy(float) if "rule_spread" in records else np.zeros(len(records))
    extra = np.hypot(extra, spread)
    for q_values, e, a in zip(records["q"], extra, scale):
        y = calibrated_samples(q_values[:, None], a, e, NOISE[None, :]).ravel()
        medians.append(float(np.median(y)))
        for q in LEVELS:
            bounds[f"lo{round(100 * q)}"].append(float(np.quantile(y, (1 - q) / 2)))
            bounds[f"hi{round(100 * q)}"].append(float(np.quantile(y, (1 + q) / 2)))
    return records.assign(median=medians, **bounds)


def score(records: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Add measured, censoring, error and coverage to the prediction records."""
    out = []
    for clock, part in records.groupby("clock", sort=False):
        runs = table.loc[part["row"]]
        keep = waited_for(runs, str(clock))  # no observation of the clock: not scored
        part, obs = part[keep], observed(runs[keep], str(clock))
        part = part.assign(measured=obs.y, right=obs.right, left=obs.left)
        if "source" in runs:  # the reference or sweep each held-out run came from
            part["source"] = runs["source"].astype(str).to_numpy()[keep]
        exact = ~(obs.right | obs.left)
        part["error"] = np.where(exact, np.abs(part["median"] - obs.y), np.nan)
        for q in LEVELS:
            lo, hi = part[f"lo{round(100 * q)}"], part[f"hi{round(100 * q)}"]
            inside = (lo <= obs.y) & (obs.y <= hi)
            part[f"covered{round(100 * q)}"] = np.where(obs.right, hi >= obs.y, np.where(obs.left, lo <= obs.y, inside))
        out.append(part)
    return pd.concat(out).sort_index()


def heldout_records(
    runs: Runs,
    factors: tuple[str, ...] = FACTORS,
    draws: int = BOOTSTRAP,
    batch: str | None = None,
    refused: list[dict] | None = None,
) -> pd.DataFrame:
    """Every held-out prediction of the laws alone, scored (its intervals, the measurement, error
    and coverage); one row per run, clock and fold (factor, level). The clocks not predicted go
    to `refused`, if given (`predict_heldout`), with their fold."""
    table = runs.table
    levels = factor_levels(table)
    parts = []
    for factor in factors:
        values = sorted(levels[factor].unique())
        if len(values) < 2:
            continue
        for value in values:
            held = (levels[factor] == value).to_numpy()
            if not informative_fold(held):
                continue
            train = Runs(table[~held].reset_index(drop=True), runs.sources)
            try:
                laws = Laws.fit(train, draws=draws, batch=batch)
            except ConfigError:  # too few runs left that reach some clock
                continue
            fold_refused: list[dict] = []
            records = pd.DataFrame(predict_heldout(laws, table[held], fold_refused))
            if refused is not None:
                refused += [r | {"factor": factor, "level": value} for r in fold_refused]
            if records.empty:
                continue
            beyond = dict(zip(table.index[held], beyond_N(train.table, table[held])))
            within = dict(zip(table.index[held], inside(train.table, table[held])))
            parts.append(
                records.assign(
                    factor=factor, level=value, beyond_N=records["row"].map(beyond), inside=records["row"].map(within)
                )
            )
    if not parts:
        return pd.DataFrame()
    records = pd.concat(parts, ignore_index=True)
    return score(with_intervals(records, np.zeros(len(records)), np.ones(len(records))), table)


def calibrate(runs: Runs, draws: int = BOOTSTRAP) -> Calibration:
    """The calibration (`calibration`) of the laws of these runs, from their held-out errors.
    Refused when no held-out run could be predicted: the laws cannot be fitted on these runs
    alone (e.g. a reference whose rule was learned in too few runs), so there is nothing to
    calibrate them on."""
    records = heldout_records(runs, draws=draws)
    if records.empty:
        try:
            Laws.fit(runs, draws=2)
            why = "every fold left too few runs to fit, or held out runs the laws cannot place"
        except ConfigError as exc:
            why = str(exc)
        raise ConfigError(f"cannot calibrate on {runs.describe()}: no held-out run could be predicted ({why})")
    return fit_calibration(records, f"leave-one-level-out of {runs.describe()}")


def leave_one_level_out(
    runs: Runs,
    factors: tuple[str, ...] = FACTORS,
    draws: int = BOOTSTRAP,
    batch: str | None = None,
    refused: list[dict] | None = None,
) -> pd.DataFrame:
    """Every held-out prediction, scored twice (module docstring): by the law alone
    (`covered80_law`, ...) and calibrated, each fold's calibration fitted on the held-out
    predictions of the *other* runs only (so no run's own error widens its interval); the
    clocks not predicted go to `refused`, if given (`heldout_records`)."""
    law = heldout_records(runs, factors, draws, batch, refused)
    if law.empty:
        return law
    records = law.drop(columns=[c for c in law if c.startswith(("lo", "hi", "covered"))])
    extra, scale = np.zeros(len(records)), np.ones(len(records))
    for (_factor, _level), fold in records.groupby(["factor", "level"], sort=False):
        others = records[~records["row"].isin(set(fold["row"]))]
        cal = fit_calibration(others, "the other folds")
        for i, rec in fold.iterrows():
            p = cal.clocks.get(str(rec["clock"]))
            if p is not None:
                j = records.index.get_loc(i)
                extra[j] = extra_sd(p, {t: rec[t] for t in REACH_TERMS} | {"decades_N": decades(rec["decades_N"])})
                scale[j] = p["a"]
    calibrated = score(with_intervals(records, extra, scale), runs.table)
    for q in LEVELS:
        calibrated[f"covered{round(100 * q)}_law"] = law[f"covered{round(100 * q)}"].to_numpy()
    calibrated["error_law"] = law["error"].to_numpy()
    return calibrated.assign(extra=extra, scale=scale)


def measured_only(scored: pd.DataFrame) -> pd.DataFrame:
    """The scored predictions of runs that measured their clock (neither right- nor left-censored)."""
    return scored[~(scored["right"].astype(bool) | scored["left"].astype(bool))]


def summarise(scored: pd.DataFrame) -> pd.DataFrame:
    """Per clock: predictions, censored ones, median |log10 error| (all; inside the fitted runs
    in every variable; 2x or more beyond the fitted N), coverage of the 80% and 95% intervals
    (all; inside; of the measured runs alone, since an interval covers a censored run's bound
    unless it lies wholly on the wrong side of it)."""
    rows = []
    for clock in (c for c in CLOCKS if c in set(scored["clock"])):
        part = scored[scored["clock"] == clock]
        within = part[part["inside"].astype(bool)]
        beyond = part[part["beyond_N"] >= 2.0]
        exact = measured_only(part)
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
                "coverage80_law": float(part["covered80_law"].mean()),
                "coverage95_law": float(part["covered95_law"].mean()),
                "coverage80_inside": float(within["covered80"].mean()),
                "coverage95_inside": float(within["covered95"].mean()),
                "coverage80_measured": float(exact["covered80"].mean()),
                "coverage95_measured": float(exact["covered95"].mean()),
            }
        )
    return pd.DataFrame(rows)
