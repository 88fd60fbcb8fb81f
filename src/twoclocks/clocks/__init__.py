"""The two clocks, read off a run's evaluation curve (one row per evaluation).

Definitions (docs/protocol.md, section 4, has the full text):
- crossing(curve, theta) (stats.crossing): the first evaluation whose next one is also at or
  above theta, interpolated in log(step); left-censored at the first evaluation, right-censored
  (null, "> max step") where none qualifies.
- Three rule clocks (RULE_CLOCKS), because one threshold on `valid` mixes learning a rule
  with executing every one of its constraints without a slip:
    tau_rule     = crossing(valid*, theta_rule)           every constraint, most of the time
    tau_rule_low = crossing(valid*, theta_rule_low)       most samples valid
    tau_group    = crossing(constraint_acc, theta_group)  the constraints, one at a time
  valid* = (valid - c) / (1 - c), c = valid_chance (a metrics column), the rate at which a
  uniformly random grid is valid (Task.valid_chance): the same as valid >= theta + c (1 - theta),
  a correction made only where it moves the threshold by at least one sample in M (chance_shift).
- Erosion: <clock>_lost is the first held crossing back below the threshold after the clock
  (the same convention downwards); null when the curve stays above to the last evaluation.
- tau_mem = crossing(mem - mem_chance, theta_mem); tau_mem_high likewise at theta_mem_high;
  tau_mem_near = crossing(mem_near - mem_near_chance, theta_mem), mem_near the fraction of
  samples within NEAR_HAMMING cells of a training item (MEM_CLOCKS).
- On a task without a rule (images), where the curves are measured: tau_mem_ratio =
  crossing(mem_ratio - mem_ratio_chance, theta_mem), Bonnaire's d1/d2 < 1/3 on the model's
  continuous output; tau_gen = crossing(gen, theta_rule), gen = valid / (valid of the
  held-out images), with its window to tau_mem (GEN_CLOCKS). Their chance levels are measured.
  tau_gap = crossing(loss_gap, theta_mem), loss_gap = 1 - L_train / L_heldout on fixed noise.
- Clock intervals: the same crossing on the upper (early bound) and lower (late bound)
  Wilson limits of the curve. constraint_acc is a mean over samples of per-sample fractions,
  not a binomial fraction; its band is the Wilson interval with n = M samples, which is
  conservative (a mean of M values in [0, 1] has variance at most p(1-p)/M).
- window = [tau, tau_mem] for each rule clock; window_log10 = log10(tau_mem / tau); vanished
  when tau_mem <= tau, or tau_mem found while the rule clock is censored. The window keys of
  tau_rule have no suffix; those of the other rule clocks end in the clock's suffix
  (window_log10_low, window_vanished_group, ...).
- epochs = step * batch / N."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from twoclocks.core.domains import UNIT_HALF, UNIT_OPEN, setting
from twoclocks.core.stats import crossing, erosion, held, wilson_interval

# A clock's summary keys are <tau><suffix>, valued from `_clock`'s result and `epochs`; `_ci`: [early,
# late], a `_lo`/`_hi` column pair in results.parquet. Memorisation clocks have no erosion.
CLOCK_FIELDS: dict[str, Callable[[dict, Callable[[float | None], float | None]], Any]] = {
    "": lambda c, epochs: c["tau"],
    "_censored": lambda c, epochs: c["censored"],
    "_left_censored": lambda c, epochs: c["left_censored"],
    "_ci": lambda c, epochs: c["ci"],
    "_epochs": lambda c, epochs: epochs(c["tau"]),
    "_lost": lambda c, epochs: c["lost"]["tau"],
    "_lost_ci": lambda c, epochs: c["lost"]["ci"],
    "_lost_epochs": lambda c, epochs: epochs(c["lost"]["tau"]),
}
CHANCE = "valid_chance"  # the metrics column of the rate at which random grids are valid
WINDOW_FIELDS = ("window", "window_log10", "window_log10_is_lower_bound", "window_vanished")  # window()'s keys


@dataclass
class ClockConfig:  # the thresholds the clocks are read at (each clock below names its field)
    theta_rule: float = setting(0.9, domain=UNIT_HALF)  # tau_rule: first step where valid >= theta_rule
    theta_mem: float = setting(0.1, domain=UNIT_HALF)  # tau_mem: first step where mem - mem_chance >= theta_mem
    theta_mem_high: float = setting(0.5, domain=UNIT_HALF)  # also reported: tau_mem at this higher threshold
    theta_rule_low: float = setting(0.5, domain=UNIT_HALF)  # tau_rule_low: valid >= this (most samples valid)
    # tau_group: first step where constraint_acc >= this (docs/protocol.md, section 4)
    theta_group: float = setting(0.95, domain=UNIT_HALF)
    ci_level: float = setting(0.95, domain=UNIT_OPEN)  # binomial (Wilson) confidence level


def threshold(theta: str, thresholds: dict | ClockConfig | None = None) -> float:
    """ClockConfig field `theta`: the run's (config or summary `thresholds`) where known, else the default."""
    if isinstance(thresholds, ClockConfig):
        return getattr(thresholds, theta)
    return (thresholds or {}).get(theta, getattr(ClockConfig(), theta))


def is_interval(suffix: str) -> bool:
    return suffix.endswith("_ci")


@dataclass(frozen=True)
class RuleClock:
    """One way of saying "the rule is learned": a curve, a threshold and the keys it reports."""

    tau: str  # summary key of the clock: tau_rule, tau_rule_low, tau_group
    suffix: str  # appended to the window keys: window_log10<suffix>, window_vanished<suffix>
    curve: str  # metrics column that crosses the threshold
    theta: str  # ClockConfig field holding the threshold
    style: tuple[str, str, str] = ("tab:gray", "--", "o")  # figures: colour, line style, marker
    chance: bool = False  # its curve is `valid`, read against the metrics' valid_chance

    def key(self, base: str) -> str:
        """A window key of this clock, e.g. key('window_vanished') = 'window_vanished_group'."""
        return f"{base}{self.suffix}"

    def label(self, thresholds: dict | ClockConfig | None = None) -> str:
        """'tau_group (constraint_acc >= 0.95)', with the run's threshold when given."""
        return f"{self.tau} ({self.curve} >= {threshold(self.theta, thresholds):g})"

    def shift(self, valid_chance: float, theta: float, samples: int) -> float:
        """What chance validity adds to its threshold theta (chance_shift); 0 for a curve other
        than `valid`."""
        return chance_shift(valid_chance, theta, samples) if self.chance else 0.0

    def offset(self, df: pd.DataFrame, theta: float) -> float:
        """Its shift in the run whose metrics are `df`: 0 for metrics without valid_chance (read
        as recorded)."""
        if CHANCE not in df or "samples" not in df or df[CHANCE].isna().all():
            return 0.0
        return self.shift(float(df[CHANCE].max()), theta, int(df["samples"].iloc[-1]))

    def signal(self, df: pd.DataFrame, theta: float) -> np.ndarray:
        """(evaluations,) the values that cross the threshold: the curve less its offset."""
        return df[self.curve].to_numpy() - self.offset(df, theta)

    def window_keys(self) -> list[str]:
        return [self.key(k) for k in WINDOW_FIELDS]

    def window_columns(self) -> list[str]:
        """Its scalar window keys (`window` itself is a pair, not a column)."""
        return [self.key(k) for k in WINDOW_FIELDS if k != "window"]

    def scalar_keys(self) -> list[str]:
        """Its scalar summary keys, which sweeps copy into results.parquet."""
        return [self.tau + s for s in CLOCK_FIELDS if not is_interval(s)] + self.window_columns()

    def interval_keys(self) -> list[str]:
        """Its [early, late] interval keys, each a `_lo`/`_hi` column pair in results.parquet."""
        return [self.tau + s for s in CLOCK_FIELDS if is_interval(s)]

    def result_columns(self) -> list[str]:
        """Every results.parquet column of this clock, in a fixed order."""
        return self.scalar_keys() + [f"{k}_{e}" for k in self.interval_keys() for e in ("lo", "hi")]

    def entries(self, c: dict, epochs: Callable[[float | None], float | None]) -> dict[str, Any]:
        """Its clock keys in a summary, from `_clock`'s result `c` (the window keys apart)."""
        return {self.tau + s: value(c, epochs) for s, value in CLOCK_FIELDS.items()}


@dataclass(frozen=True)
class MemClock:
    """One way of saying "the model copies": the excess of a copy fraction over its chance level
    crossing a threshold."""

    tau: str  # summary key: tau_mem, tau_mem_high
    theta: str  # ClockConfig field holding the threshold
    fields: tuple[str, ...]  # its summary keys, suffixes of CLOCK_FIELDS
    columns: tuple[str, ...]  # the fields that sweeps copy into results.parquet
    curve: str = "mem"  # metrics column of the copy fraction
    chance: str = "mem_chance"  # metrics column of its chance level
    first: bool = True  # its columns are among those every results table has had
    level: bool = True  # a memorisation level: claims are judged at it, figures draw it
    style: tuple[str, str] = ("tab:red", "--")  # figures: colour, line style
    # Measured only where its curve is (runs on images): absent from other runs' summaries, and
    # never derived for runs written before it, whose samples lack what it needs.
    optional: bool = False

    def entries(self, c: dict, epochs: Callable[[float | None], float | None]) -> dict[str, Any]:
        return {self.tau + s: CLOCK_FIELDS[s](c, epochs) for s in self.fields}

    def scalar_columns(self) -> list[str]:
        return [self.tau + s for s in self.columns if not is_interval(s)]

    def interval_keys(self) -> list[str]:
        return [self.tau + s for s in self.columns if is_interval(s)]

    def result_columns(self) -> list[str]:
        """Every results.parquet column of this clock, in a fixed order."""
        return self.scalar_columns() + [f"{k}_{e}" for k in self.interval_keys() for e in ("lo", "hi")]

    def label(self, thresholds: dict | None = None) -> str:
        """'tau_mem_near (mem_near - mem_near_chance >= 0.1)', with the run's threshold when given."""
        return f"{self.tau} ({self.curve} - {self.chance} >= {threshold(self.theta, thresholds):g})"

    def signal(self, df: pd.DataFrame, theta: float) -> np.ndarray:
        """(evaluations,) the values that cross the threshold: the copy fraction's excess over chance."""
        return df[self.curve].to_numpy() - df[self.chance].to_numpy()


# The first is the protocol's tau_rule (the paper's definition); the others are the issue of
# one threshold made visible: a rule learned at the group level but executed with slips. The
# one declaration of the rule clocks: summaries, stopping, results, fits, claims and figures
# iterate it when they run, so a clock added here is honoured by all of them.
RULE_CLOCKS: list[RuleClock] = [
    RuleClock("tau_rule", "", "valid", "theta_rule", ("tab:blue", "--", "^"), chance=True),
    RuleClock("tau_rule_low", "_low", "valid", "theta_rule_low", ("tab:cyan", ":", "s"), chance=True),
    RuleClock("tau_group", "_group", "constraint_acc", "theta_group", ("tab:purple", "-.", "D")),
]
PRIMARY = RULE_CLOCKS[0]
FIRST_CLOCK = ("", "_censored", "_left_censored", "_ci", "_epochs")
# tau_mem is the protocol's (exact copies); tau_mem_high the same at a stricter threshold;
# tau_mem_near the same threshold on near copies (twoclocks.evaluate.NEAR_HAMMING), so that a
# verdict on copying does not hinge on exactness.
MEM_CLOCKS: list[MemClock] = [
    MemClock("tau_mem", "theta_mem", FIRST_CLOCK, FIRST_CLOCK),
    MemClock("tau_mem_high", "theta_mem_high", ("", "_censored", "_epochs"), ("", "_censored"), level=False),
    MemClock(
        "tau_mem_near",
        "theta_mem",
        FIRST_CLOCK,
        FIRST_CLOCK,
        curve="mem_near",
        chance="mem_near_chance",
        first=False,
        style=("tab:orange", ":"),
    ),
    # Bonnaire et al.'s criterion on a model's continuous output (twoclocks.imagemetrics),
    # against its chance level measured on held-out images.
    MemClock(
        "tau_mem_ratio",
        "theta_mem",
        FIRST_CLOCK,
        FIRST_CLOCK,
        curve="mem_ratio",
        chance="mem_ratio_chance",
        first=False,
        style=("tab:pink", "-."),
        optional=True,
    ),
    # The relative gap between held-out and training loss on fixed noise (Favero et al.).
    MemClock(
        "tau_gap",
        "theta_mem",
        FIRST_CLOCK,
        FIRST_CLOCK,
        curve="loss_gap",
        chance="loss_gap_chance",
        first=False,
        style=("tab:brown", ":"),
        optional=True,
    ),
]
MEM = MEM_CLOCKS[0]
# Generalisation clocks of a task without a rule, measured only where their curve is (runs on
# images): tau_gen = crossing(gen, theta_rule), gen the probe's rate on the samples relative to
# its rate on held-out images (twoclocks.imagemetrics.evaluation). Each has a window to tau_mem.
GEN_CLOCKS: list[RuleClock] = [RuleClock("tau_gen", "_gen", "gen", "theta_rule", ("tab:olive", "--", "*"))]
GEN = GEN_CLOCKS[0]


def clock_named(name: str) -> RuleClock | MemClock:
    """The declaration of the clock whose summary key is `name`."""
    clocks: list[RuleClock | MemClock] = [*RULE_CLOCKS, *MEM_CLOCKS]
    return next(c for c in clocks if c.tau == name)


def clock_names() -> list[str]:
    """Every clock's summary key that every run has (each has a `<key>_censored` flag)."""
    return [*(rc.tau for rc in RULE_CLOCKS), *(mc.tau for mc in MEM_CLOCKS if not mc.optional)]


def mem_levels() -> list[MemClock]:
    """The memorisation clocks at which claims are judged (tau_mem first)."""
    return [mc for mc in MEM_CLOCKS if mc.level]


PEAK_CURVES = ("valid", "constraint_acc")  # summary: peak_<curve> and peak_<curve>_step
NOVEL_PEAK = "novel_valid"  # the peak every summary has had, before PEAK_CURVES'


def peak_keys(curve: str) -> list[str]:
    return [f"peak_{curve}_step", f"peak_{curve}"]


def clock_keys(optional: bool = False) -> list[str]:
    """Every key of compute_clocks' result, in its order; with `optional`, also those of the
    clocks measured only where their curves are (GEN_CLOCKS, optional MEM_CLOCKS)."""
    keys = ["max_step"]
    keys += [rc.tau + s for rc in RULE_CLOCKS for s in CLOCK_FIELDS]
    keys += [mc.tau + s for mc in MEM_CLOCKS if optional or not mc.optional for s in mc.fields] + ["thresholds"]
    keys += [k for rc in RULE_CLOCKS for k in rc.window_keys()]
    keys += [k for c in (NOVEL_PEAK, *PEAK_CURVES) for k in peak_keys(c)]
    if optional:
        keys += [k for gc in GEN_CLOCKS for k in [gc.tau + s for s in CLOCK_FIELDS] + gc.window_keys()]
    return keys


def group_band(df: pd.DataFrame, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson band of constraint_acc with n = M samples per evaluation (conservative: see the
    module docstring)."""
    acc = df["constraint_acc"].to_numpy(dtype=np.float64)
    M = df["samples"].to_numpy()
    lo, hi = np.empty_like(acc), np.empty_like(acc)
    for k, (a, m) in enumerate(zip(acc, M)):
        lo[k], hi[k] = (float(b) for b in wilson_interval(a * int(m), int(m), level))
    return lo, hi


def band(df: pd.DataFrame, column: str, level: float) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) Wilson limits of a curve: the metrics' own columns, or the group band."""
    if f"{column}_lo" in df:
        return df[f"{column}_lo"].to_numpy(), df[f"{column}_hi"].to_numpy()
    if column == "constraint_acc":
        return group_band(df, level)
    raise KeyError(f"no interval for {column}")


def _clock(df: pd.DataFrame, column: str, theta: float, level: float, offset: np.ndarray | float = 0.0) -> dict:
    steps = df["step"].to_numpy()
    values = df[column].to_numpy() - offset
    lo, hi = (b - offset for b in band(df, column, level))
    tau, left = crossing(steps, values, theta)
    early, _ = crossing(steps, hi, theta)
    late, _ = crossing(steps, lo, theta)
    # Lost early when the lower limit drops back (or never rose: the erosion may be immediate),
    # late when the upper limit does.
    lost_early = erosion(steps, lo, theta) if held(lo, theta) is not None else tau
    lost_ci = [None, None] if tau is None else [lost_early, erosion(steps, hi, theta)]
    lost = {"tau": erosion(steps, values, theta), "ci": lost_ci}
    return {"tau": tau, "censored": tau is None, "left_censored": left, "ci": [early, late], "lost": lost}


def chance_shift(valid_chance: float, theta: float, samples: int) -> float:
    """How far chance validity c raises a `valid` threshold theta ((valid - c) / (1 - c) >= theta
    is valid >= theta + c (1 - theta)); 0 when less than one sample in `samples`, which would
    only move readings that sit exactly at theta (128 of 256 at 0.5) below it."""
    shift = valid_chance * (1.0 - theta)
    return shift if shift * samples >= 1.0 else 0.0


def compute_clocks(df: pd.DataFrame, cfg: ClockConfig, batch: int, N: int) -> dict:
    """All clock quantities of one run, from its metrics table (sorted by step): the keys of
    clock_keys(), in its order."""
    df = df.sort_values("step").reset_index(drop=True)
    max_step = int(df["step"].max())

    def epochs(step: float | None) -> float | None:
        return None if step is None else step * batch / N

    out: dict[str, Any] = {"max_step": max_step}
    rules = {}
    for rc in RULE_CLOCKS:
        theta = getattr(cfg, rc.theta)
        rules[rc.tau] = _clock(df, rc.curve, theta, cfg.ci_level, rc.offset(df, theta))
        out.update(rc.entries(rules[rc.tau], epochs))
    mems = {}
    for mc in MEM_CLOCKS:
        if mc.curve not in df:  # near copies of a run written before they were measured
            continue
        chance = df[mc.chance].to_numpy()
        mems[mc.tau] = _clock(df, mc.curve, getattr(cfg, mc.theta), cfg.ci_level, chance)
        out.update(mc.entries(mems[mc.tau], epochs))
    thetas = dict.fromkeys([*(rc.theta for rc in RULE_CLOCKS), *(mc.theta for mc in MEM_CLOCKS), "ci_level"])
    out["thresholds"] = {name: getattr(cfg, name) for name in thetas}
    for rc in RULE_CLOCKS:
        out.update({rc.key(k): v for k, v in window(rules[rc.tau]["tau"], mems[MEM.tau]["tau"], max_step).items()})
    for col in (NOVEL_PEAK, *PEAK_CURVES):
        peak = int(df[col].to_numpy().argmax())  # the first one on ties
        out[f"peak_{col}_step"] = int(df["step"].iloc[peak])
        out[f"peak_{col}"] = float(df[col].iloc[peak])
    for gc in GEN_CLOCKS:
        if gc.curve in df:
            gen = _clock(df, gc.curve, getattr(cfg, gc.theta), cfg.ci_level)
            out.update(gc.entries(gen, epochs))
            out.update({gc.key(k): v for k, v in window(gen["tau"], mems[MEM.tau]["tau"], max_step).items()})
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
