"""The variables a law of the clocks is written in, read from a results table or from a config.

One row per run, the same columns whether it comes from a finished run (a results table) or
from a config nobody ran yet:

    logN        log10 N (training items)
    bits        log2 of the rule's population: the knob sets it (group parity on 6x6: 36 - 36/G),
                and so does the rule (mirror symmetry, a linear code)
    family      model family (categorical)
    task        the rule (categorical)
    log2_width, log2_depth, patch, log2_batch, log10_lr    capacity, tokenisation, optimisation
    layout      where a task has one (categorical)
    levels      the grey levels of an image task (categorical): its population is unknown, so
                no size says how quantisation moves its clocks; each level its own effect

and, for a finished run, each clock as a censored observation (`Observed`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from twoclocks.clocks import RULE_CLOCKS
from twoclocks.clocks.stopat import stop_measures
from twoclocks.config import RunConfig, flatten, keys_of_role
from twoclocks.core.domains import UNMODELLED
from twoclocks.errors import ConfigError
from twoclocks.prediction.features import RULE_FEATURES, rule_features
from twoclocks.tasks import TASKS, build_task, make_task

CLOCKS = (*(rc.tau for rc in RULE_CLOCKS), "tau_mem")
# Numeric variables: name -> (config key it is read from, transform).
NUMERIC: dict[str, tuple[str, Callable[[float], float]]] = {
    "logN": ("data.N", math.log10),
    "log2_width": ("model.width", math.log2),
    "log2_depth": ("model.depth", math.log2),
    "patch": ("model.patch", float),
    "log2_batch": ("train.batch", math.log2),
    "log10_lr": ("train.lr", math.log10),
}
CATEGORICAL = {"family": "model.family", "task": "task", "layout": "task.layout", "levels": "task.levels"}


@dataclass(frozen=True)
class Observed:
    """One clock of the runs: y = log10 tau where measured, else the bound it is censored at."""

    y: np.ndarray  # log10 tau, or log10 of the bound
    right: np.ndarray  # bool: tau > 10**y (not reached by the last evaluation)
    left: np.ndarray  # bool: tau <= 10**y (reached at the first evaluation)


def _bits_of(task_row: dict) -> float:
    """The rule's log2 population; NaN, without building it, for a data set without a rule
    (its population is unknown, and building an image task trains its probe)."""
    cls = TASKS.get(str(task_row["task"]))
    if cls is not None and not cls.has_rule:
        return math.nan
    params = {k.removeprefix("task."): v for k, v in task_row.items() if k.startswith("task.")}
    return float(make_task(str(task_row["task"]), **params).log2_population)


def task_params(row: dict | pd.Series) -> tuple[tuple[str, object], ...]:
    """A rule's parameters as sorted (name, value) pairs from a flattened config or a results
    row (a column of another rule is empty there; a whole number read as a float is an int)."""
    out = []
    for key, value in row.items():
        if not str(key).startswith("task.") or key == "task.source" or value is None:
            continue
        if isinstance(value, float):
            if math.isnan(value):
                continue
            value = int(value) if value.is_integer() else value
        out.append((str(key).removeprefix("task."), value))
    return tuple(sorted(out))


def with_features(out: pd.DataFrame, names: list[str], params: list[tuple]) -> pd.DataFrame:
    """`out` with RULE_FEATURES, one rule's per row (`features.rule_features`)."""
    rows = [rule_features(n, p) for n, p in zip(names, params)]
    return out.assign(**{f: [r[f] for r in rows] for f in RULE_FEATURES})


@dataclass(frozen=True)
class RecordedRule:
    """A rule of one's own as its runs recorded it (`pilots`): never imported to ask."""

    name: str  # the task column of its runs
    params: tuple[tuple[str, object], ...]  # its task.* parameters, as sorted pairs
    bits: float  # the log2 population its runs recorded for these parameters


def config_flat(cfg: RunConfig, rule: RecordedRule | None = None) -> dict:
    """The flattened config; with `rule`, its task keys are the recorded rule's (`cfg` then
    holds every other field, its own task a stand-in)."""
    flat = dict(flatten(cfg.to_dict()))
    if rule is None:
        return flat
    flat = {k: v for k, v in flat.items() if k != "task" and not k.startswith("task.")}
    return {**flat, "task": rule.name, **{f"task.{k}": v for k, v in rule.params}}


def config_variables(cfg: RunConfig, rule: RecordedRule | None = None) -> pd.DataFrame:
    """The one-row variable frame of a config (what `table_variables` gives for a finished run);
    with `rule`, of the config with that recorded rule (its size as recorded, its features unknown)."""
    flat = config_flat(cfg, rule)
    row: dict[str, object] = {name: fn(float(flat[key])) for name, (key, fn) in NUMERIC.items()}
    row.update({name: category(flat.get(key)) for name, key in CATEGORICAL.items()})
    task_row = {k: v for k, v in flat.items() if k == "task" or k.startswith("task.")}
    if rule is not None:
        row["bits"] = rule.bits
        check_population(cfg.data.N, rule.bits, rule.name)
        return with_features(pd.DataFrame([row]), [rule.name], [rule.params])
    try:
        row["bits"] = _bits_of(task_row)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"task: {exc}") from None
    check_population(cfg.data.N, float(row["bits"]), str(flat["task"]))  # type: ignore[arg-type]
    return with_features(pd.DataFrame([row]), [str(flat["task"])], [task_params(task_row)])


def check_data_set_size(cfg: RunConfig) -> None:
    """A config a run would refuse is not predicted: a data set without a rule holds a finite
    number of distinct images, which bounds data.N (where the package ships the data: a
    prediction reads no user's files)."""
    cls = TASKS.get(str(cfg.task["name"]))
    if cls is not None and not cls.has_rule:
        build_task(dict(cfg.task)).check_size(cfg.data.N, drawn=cfg.data.path is None, read=False)


def check_population(N: int, bits: float, task: str) -> None:
    """A config a run would refuse is not predicted: N distinct training items need a rule
    with at least N valid items (bits: its log2 population; NaN, unknown, passes)."""
    # Compared in log2 (a population of 2^2000 is no float), with room for rounding: log2 of 92
    # and back is not exactly 92.
    if math.isfinite(bits) and math.log2(N) > bits + 1e-9:
        raise ConfigError(f"data.N={N} is larger than the population of task={task} ({2.0**bits:.0f} valid items)")


def category(value: object) -> str:
    """A categorical variable's level as text, the same from a config and from a results table:
    "" for a field the task lacks (None, NaN), 4 for 4.0 (a table's column of a field some
    tasks lack is float)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def table_variables(table: pd.DataFrame) -> pd.DataFrame:
    """The variable frame of finished runs (one row per row of a results table)."""
    out = pd.DataFrame(index=table.index)
    for name, (key, fn) in NUMERIC.items():
        out[name] = pd.to_numeric(table[key]).map(lambda v, f=fn: f(float(v)))
    for name, key in CATEGORICAL.items():
        column = table[key] if key in table else pd.Series("", index=table.index)
        text = column.map(category)
        # numpy objects, not pandas' Arrow-backed strings: a law's fit compares and slices these
        # columns thousands of times, each an Arrow call (half of a fit's time).
        out[name] = text.astype(object)
    out["bits"] = pd.to_numeric(table["log2_population"]).astype(float)
    params = [task_params(row) for _, row in table.filter(like="task.").iterrows()]
    return with_features(out, [str(t) for t in table["task"]], params)


def recorded_clocks(table: pd.DataFrame) -> tuple[str, ...]:
    """The clocks of CLOCKS a results table has (one older than a clock lacks its columns)."""
    return tuple(c for c in CLOCKS if c in table)


def task_knob(name: str) -> str | None:
    """The knob (the parameter that sets the rule's size) of a built-in rule; None for a rule
    named by import path, which is never imported to ask (its runs recorded their log2
    population, which is what the laws read)."""
    cls = TASKS.get(name)
    return None if cls is None else cls.knob


def flag(table: pd.DataFrame, column: str) -> np.ndarray:
    """A boolean column, False where it is empty or the table lacks it."""
    return table[column].fillna(False).to_numpy(bool) if column in table else np.zeros(len(table), bool)


def observed(table: pd.DataFrame, clock: str) -> Observed:
    """Clock `clock` of each run as a censored observation. A right-censored clock's bound is
    the last evaluated step (`max_step`): the run showed tau > max_step and nothing more; a
    clock with no value and no censoring flag is taken as censored at that bound."""
    tau = pd.to_numeric(table[clock]).to_numpy(float)
    right = flag(table, f"{clock}_censored") | np.isnan(tau)
    left = flag(table, f"{clock}_left_censored")
    bound = pd.to_numeric(table["max_step"]).to_numpy(float)
    y = np.log10(np.where(right, bound, tau))
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{clock}: a finished run has neither a clock nor a censoring bound")
    return Observed(y, right, left & ~right)


def waited_for(table: pd.DataFrame, clock: str) -> np.ndarray:
    """False for tau_mem of the runs that a `train.stop_at` not waiting for it (rule) ended
    before they copied (a learnability run): their bound is where the rule clocks settled, a few hundred steps
    against a tau_mem of 10^5, so they are no observation of it; True for every other run and
    clock. (A rule clock of a run stopped at tau_mem is kept: "not learned before copying" is
    what the regime term of tau_mem's law is about.)"""
    if clock != "tau_mem" or "train.stop_at" not in table:
        return np.ones(len(table), bool)
    unmeasured = ~table["train.stop_at"].map(lambda v: stop_measures(v, clock)).to_numpy(bool)
    return ~(unmeasured & flag(table, "tau_mem_censored"))


def learned_first(table: pd.DataFrame) -> np.ndarray:
    """1.0 where the rule (tau_rule) was learned before copying began (or copying never began
    while the rule was learned), else 0.0: the regime a run was in."""
    rule = pd.to_numeric(table["tau_rule"]).to_numpy(float)
    mem = pd.to_numeric(table["tau_mem"]).to_numpy(float)
    rule_seen = ~(flag(table, "tau_rule_censored") | np.isnan(rule))
    mem_seen = ~(flag(table, "tau_mem_censored") | np.isnan(mem))
    return (rule_seen & (~mem_seen | (rule < np.where(mem_seen, mem, np.inf)))).astype(float)


def config_key_values(table: pd.DataFrame) -> dict[str, set]:
    """Every config key of the table with the values its runs took, except the keys that say which
    draw a run is, how long it goes, how it is executed and recorded (domains.UNMODELLED): never a
    reason for an extrapolation warning."""
    unmodelled = keys_of_role(*UNMODELLED)
    keys = [c for c in table.columns if (c in ("task",) or "." in c) and c not in unmodelled]
    return {k: set(table[k].dropna().map(_hashable)) for k in keys}


def _hashable(v: object) -> object:
    return repr(v) if isinstance(v, (list, dict)) else v
