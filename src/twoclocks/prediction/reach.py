"""How far a config lies from the runs that measured a clock: the evidence a law's prediction
of that clock rests on.

A law is fitted on every run, but a clock is seen only where a run reached it: tau_mem at
N = 64 in a run stopped at 1,500 steps says only "tau_mem > 1,500". So the reach of a
prediction is read against the runs that *measured* the clock (not censored), of the same
family and rule, and, for N, of the same rule size where any such run exists (a G = 3
config at N = 128 is as far from the evidence as the nearest G = 3 run that measured it):

    decades_N   log10 of the factor by which N lies outside the measured runs' N range (0 inside)
    rule_outside  1 where the rule's size, or one of its measured features (`features`), lies
                outside the measured runs' (a feature the rule does not have, NaN, is not), else 0
    outside     how many other variables lie outside the measured runs: a numeric one (width,
                depth, patch, batch, lr) outside their range, or differing from a value they
                all share; a categorical one (the layout) at a level none of them had
    unvaried    how many of those no fitted run varied at all, so that the law has no term for
                them (counted here, not in `outside`): the law cannot say which way they move
                the clock, only the calibration how far such a variable has moved it
    rule_unseen 1 where no measured run of the family had this rule: the law gives it its
                features' prediction, without the rule's own offset

Both enter the calibrated width of the intervals (`calibration`) and the warnings.

A clock of a rule no fitted run measured it on is placed by the other rules' offsets and
features; with fewer than MIN_RULES rules measured (the shipped reference measured tau_rule on
parity and mirror only) neither their features' law nor the spread of their offsets (one degree
of freedom) is known, and held-out runs show it: parity G = 2 predicted as an unseen rule from
mirror alone came out 1.5-3.4 decades late, outside its calibrated 95% interval in 62 of 76
predictions. Such a clock is not predicted (`unplaced`), with the reason and what would place it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from twoclocks.prediction.features import RULE_FEATURES
from twoclocks.prediction.variables import CATEGORICAL, NUMERIC

OTHER = ("bits", *(n for n in NUMERIC if n != "logN"))
LEVELS = tuple(c for c in CATEGORICAL if c not in ("family", "task"))  # family, task: `evidence`
TOL = 1e-9
# Rules a clock must have been measured on before it is carried to a rule it was never measured
# on: with two, the spread of their offsets has one degree of freedom.
MIN_RULES = 3


@dataclass(frozen=True)
class Reach:
    decades_N: float
    outside: int  # variables outside the evidence that the fitted runs varied, the size not counted
    N_range: tuple[float, float] | None  # the N range of the measured runs it is read against
    where: str  # "dit on parity", in words, for the warnings
    N_where: str = ""  # "dit on parity with this rule size", where N_range comes from
    outside_vars: tuple[str, ...] = ()  # every variable outside, "bits" and the unvaried included
    unvaried: int = 0  # variables outside that no fitted run varied (not in `outside`)
    rule_unseen: int = 0  # 1: no measured run of the family had the rule
    features_outside: tuple[str, ...] = ()  # the rule's features outside the evidence's

    @property
    def rule_outside(self) -> int:
        return int(self.N_range is None or "bits" in self.outside_vars or bool(self.features_outside))

    def terms(self) -> dict[str, float]:
        """What the calibration's extra spread grows with (`calibration.extra_variance`)."""
        return {
            "decades_N": decades(self.decades_N),
            "rule_outside": float(self.rule_outside),
            "outside": float(self.outside),
            "unvaried": float(self.unvaried),
            "rule_unseen": float(self.rule_unseen),
        }


def evidence(v: pd.DataFrame, fitted: pd.DataFrame, measured: np.ndarray) -> tuple[pd.DataFrame, str]:
    """The measured runs of the config's family and rule (of its family only, if none)."""
    family, task = v["family"].iloc[0], v["task"].iloc[0]
    same = (fitted["family"] == family).to_numpy() & measured
    both = same & (fitted["task"] == task).to_numpy()
    if both.any():
        return fitted[both], f"{family} on {task}"
    return fitted[same], f"{family} (no run of it on {task} measured this clock)"


def reach_of(v: pd.DataFrame, fitted: pd.DataFrame, measured: np.ndarray, by_size: bool = True) -> Reach:
    """The reach of the one-row config frame `v` against the fitted runs whose clock was
    measured (`measured`, one bool per row of `fitted`); N against the runs of the same rule
    size where there are any, unless `by_size` is False."""
    runs, where = evidence(v, fitted, measured)
    unseen = int(not (runs["task"] == v["task"].iloc[0]).any()) if not runs.empty else 1
    if runs.empty:
        return Reach(float("inf"), len(OTHER) - 1 + len(LEVELS), None, where, rule_unseen=unseen)
    bits = float(v["bits"].iloc[0])
    same_bits = runs[(runs["bits"] - bits).abs() < TOL] if by_size else runs.iloc[:0]
    n_runs, n_where = (same_bits, f"{where} with this rule size") if not same_bits.empty else (runs, where)
    logN = float(v["logN"].iloc[0])
    lo, hi = float(n_runs["logN"].min()), float(n_runs["logN"].max())
    d_N = max(lo - logN, logN - hi, 0.0)
    out = tuple(
        name for name in OTHER if not (runs[name].min() - TOL <= float(v[name].iloc[0]) <= runs[name].max() + TOL)
    ) + tuple(name for name in LEVELS if v[name].iloc[0] not in set(runs[name]))
    fixed = unvaried_in(fitted)
    n_unvaried = len([x for x in out if x in fixed])
    n_out = len([x for x in out if x != "bits" and x not in fixed])
    features = tuple(name for name in RULE_FEATURES if name in v and outside_of(float(v[name].iloc[0]), runs[name]))
    return Reach(d_N, n_out, (10**lo, 10**hi), where, n_where, out, n_unvaried, unseen, features)


def unplaced(v: pd.DataFrame, fitted: pd.DataFrame, measured: np.ndarray) -> str | None:
    """Why a clock is not predicted for the one-row config `v` (`measured`: one bool per row of
    `fitted`, the runs that reached it), or None: no fitted run of v's rule reached it, of any
    family (a family's offset is shared by every rule), and the runs that did had fewer than
    MIN_RULES rules."""
    task = str(v["task"].iloc[0])
    rules = sorted({str(t) for t in fitted.loc[measured, "task"]})
    if task in rules or len(rules) >= MIN_RULES:
        return None
    which = f"{len(rules)} rule{'s' if len(rules) != 1 else ''} ({', '.join(rules)})" if rules else "no rule"
    return (
        f"no fitted run of task={task} reached it, and the runs that did had {which}: "
        f"too few to carry to another (needs {MIN_RULES}); pilot runs of this rule that reach it can (--from)"
    )


def outside_of(value: float, known: pd.Series) -> bool:
    """Whether a known value lies outside the known values of `known` (NaN: unknown, not outside)."""
    known = pd.to_numeric(known).dropna()
    return math.isfinite(value) and not known.empty and not (known.min() - TOL <= value <= known.max() + TOL)


def unvaried_in(fitted: pd.DataFrame) -> set[str]:
    """The variables of OTHER and LEVELS (the rule's size aside) every fitted run has at one value."""
    return {name for name in (*OTHER, *LEVELS) if name != "bits" and fitted[name].nunique(dropna=False) < 2}


def _named(name: str, v: pd.DataFrame, config: dict) -> str:
    """'model.width=32' for a variable (the config's own value), the rule's size in bits;
    'task.layout unset' for a field the config's task does not have (a rule without a layout)."""
    if name == "bits":
        return f"the rule's size ({float(v['bits'].iloc[0]):.1f} bits)"
    key = CATEGORICAL[name] if name in CATEGORICAL else NUMERIC[name][0]
    return f"{key}={config[key]}" if config.get(key) not in (None, "") else f"{key} unset"


def reach_words(r: Reach, known: Reach, v: pd.DataFrame, config: dict) -> list[str]:
    """The warnings of a clock whose measured runs lie away from the config (`config`: its
    flattened fields), without the clock's name (`clock_warnings` puts the names of the clocks
    that share a text in front). What `known` (the reach from every fitted run) already shows,
    the config's own warnings say (`warnings`): not repeated."""
    if r.N_range is None:
        return [f"no fitted run of {r.where} measured it; the law rests on other families"]
    out = []
    N = config["data.N"]
    if r.decades_N > TOL and r.N_range != known.N_range:
        lo, hi = r.N_range
        edge, side = (hi, "above the largest") if N > hi else (lo, "below the smallest")
        out.append(
            f"data.N={N} is {10**r.decades_N:.2g}x {side} N of the runs of {r.N_where} "
            f"that measured it ({edge:,.0f}): extrapolated"
        )
    for name in (x for x in r.outside_vars if x not in known.outside_vars):
        if name in CATEGORICAL:
            out.append(f"no run of {r.where} that measured it had {_named(name, v, config)}")
        else:
            out.append(f"{_named(name, v, config)} lies outside every run of {r.where} that measured it")
    return out


def clock_warnings(reaches: dict[str, Reach], known: Reach, v: pd.DataFrame, config: dict) -> list[str]:
    """Every clock's reach warnings, clocks with the same text on one line."""
    texts: dict[str, list[str]] = {}
    for clock, r in reaches.items():
        for text in reach_words(r, known, v, config):
            texts.setdefault(text, []).append(clock)
    return [f"{', '.join(clocks)}: {text}" for text, clocks in texts.items()]


def decades(x: float) -> float:
    """Finite stand-in for an infinite reach (no measured run at all): two decades."""
    return 2.0 if math.isinf(x) else x
