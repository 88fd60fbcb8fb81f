"""Validation of the pilot-run route (`pilots`): each rule of the fitted runs is held out as if
it were a user's rule. Its runs at its `k` smallest configs (by N; all their seeds) are its pilot
runs: they join the other rules' runs under a name the laws do not know, so its features are
unknown and its offset comes from the pilots alone, as a user's rule's would. The laws fitted on
those runs then predict its other runs, and each prediction is scored as `validation` scores a
held-out one (error, 80% and 95% coverage), by the law alone or with a calibration (the one a
user's prediction carries: the shipped reference's).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from twoclocks.errors import ConfigError
from twoclocks.prediction.calibration import REACH_TERMS, Calibration, extra_sd
from twoclocks.prediction.laws import BOOTSTRAP, cells
from twoclocks.prediction.predict import Laws
from twoclocks.prediction.reach import decades
from twoclocks.prediction.reference import Runs
from twoclocks.prediction.validation import predict_heldout, score, with_intervals
from twoclocks.prediction.variables import table_variables

PILOT_PREFIX = "pilot:"  # the held-out rule's name in the pilot fit: one no built-in rule has


def pilot_split(table: pd.DataFrame, rule: str, k: int) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """(fitted runs, held-out runs) with `rule`'s k smallest-N configs as pilots, the rule
    renamed in both; None where the rule has no config left to predict."""
    own = table["task"] == rule
    v = table_variables(table[own])
    config = pd.Series(cells(v), index=v.index)
    order = v.assign(config=config).groupby("config")["logN"].first().sort_values(kind="stable")
    if len(order) <= k:
        return None
    pilots = config.isin(order.index[:k]).reindex(table.index, fill_value=False).to_numpy()
    renamed = table.assign(task=np.where(own, PILOT_PREFIX + rule, table["task"].astype(str)))
    return renamed[~own | pilots].reset_index(drop=True), renamed[own & ~pilots]


def pilot_records(runs: Runs, k: int, calibration: Calibration | None = None, draws: int = BOOTSTRAP) -> pd.DataFrame:
    """Every held-out run of every rule, predicted from k pilot configs of it and the other
    rules' runs, scored (one row per run and clock; `factor` = 'pilots=k', `level` = the rule)."""
    parts = []
    for rule in sorted(runs.table["task"].astype(str).unique()):
        split = pilot_split(runs.table, rule, k)
        if split is None:
            continue
        train, test = split
        try:
            laws = Laws.fit(Runs(train, runs.sources), draws=draws)
        except ConfigError:  # too few runs left that reach some clock
            continue
        records = pd.DataFrame(predict_heldout(laws, test))
        if not records.empty:
            parts.append(records.assign(factor=f"pilots={k}", level=rule))
    return calibrated_scores(parts, runs.table, calibration).assign(inside=True, beyond_N=1.0)


def largest_N_records(
    pilots: Runs, reference: Runs, calibration: Calibration | None = None, draws: int = BOOTSTRAP
) -> pd.DataFrame:
    """Shipped pilot runs (words) validated as a user would lean on them: for each family and
    rule setting of `pilots`, its runs at the largest N are held out and predicted by laws fitted
    on the reference and the other pilot runs, scored (`factor` = 'largest N', `level` = the
    family and setting, 'gpt task.length=6')."""
    table = pd.concat([reference.table, pilots.table], ignore_index=True)
    settings = pilots.table["model.family"].astype(str) + " " + table_settings(pilots.table)
    key = pd.Series(np.r_[np.full(len(reference.table), ""), settings.to_numpy()], index=table.index)
    parts = []
    for level in sorted(settings.unique()):
        mine = (key == level).to_numpy()
        largest = pd.to_numeric(table.loc[mine, "data.N"]).max()
        held = mine & (pd.to_numeric(table["data.N"]) == largest).to_numpy()
        if held.sum() == mine.sum():  # one N only: nothing to predict it from
            continue
        laws = Laws.fit(Runs(table[~held].reset_index(drop=True), (*reference.sources, *pilots.sources)), draws=draws)
        records = pd.DataFrame(predict_heldout(laws, table[held]))  # pilot runs alone: a key is never ""
        if not records.empty:
            parts.append(records.assign(factor="largest N", level=level))
    return calibrated_scores(parts, table, calibration).assign(inside=False, beyond_N=2.0)


def table_settings(table: pd.DataFrame) -> pd.Series:
    """'task.length=6' per run: its rule's parameters (task.* columns), as text."""
    cols = sorted(c for c in table if c.startswith("task.") and c != "task.source" and table[c].notna().any())
    return table[cols].astype(str).apply(lambda r: " ".join(f"{c}={v}" for c, v in r.items()), axis=1)


def calibrated_scores(parts: list[pd.DataFrame], table: pd.DataFrame, calibration: Calibration | None) -> pd.DataFrame:
    """The held-out records scored against `table`, each interval widened by `calibration` (the
    one a user's prediction carries) where one is given."""
    if not parts:
        return pd.DataFrame()
    records = pd.concat(parts, ignore_index=True)
    extra, scale = np.zeros(len(records)), np.ones(len(records))
    if calibration is not None:
        for j, rec in enumerate(records.itertuples()):
            p = calibration.clocks.get(str(rec.clock))
            if p is not None:
                terms = {t: getattr(rec, t) for t in REACH_TERMS} | {"decades_N": decades(rec.decades_N)}
                extra[j], scale[j] = extra_sd(p, terms), p["a"]
    return score(with_intervals(records, extra, scale), table)
