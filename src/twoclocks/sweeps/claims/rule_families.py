"""Claim 3 across rule families: is tau_mem (nearly) the same for different rules of equal
population on the same grid, at the same N and model?

For each rule (a task with its parameters) the median tau_mem over seeds; the spread is the
ratio max/min of these medians, with a bootstrap CI (seeds resampled within each rule). Rules
are judged in two sets, since the paper's claim concerns rules a model learns: those learned
before copying (in most of their runs the rule clock comes before tau_mem) and those learned
only by copying (the window vanished or the rule was never learned), where copying alone sets
the pace and tau_mem may differ for reasons of its own.

"Approximately invariant" is read as: the ratio stays below TOLERANCE = 2, the change of
tau_mem that doubling N gives (tau_mem grows about linearly with N, claim 4), so a rule moves
tau_mem less than a factor-two change of the training set would.

A rule whose tau_mem most runs did not reach has no median, only a lower bound: the median of
its runs with each censored clock at its bound (`max_step`). Against the largest tau_mem
measured for the other rules it bounds the ratio from below; a bound above TOLERANCE is "not
supported, by censoring bounds alone" (the verdict says so), a bound below it is inconclusive.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from twoclocks.clocks import MEM, PRIMARY
from twoclocks.sweeps.claims.fits import finished
from twoclocks.sweeps.claims.verdicts import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED

TOLERANCE = 2.0  # max/min ratio of the rules' median tau_mem read as "approximately invariant"
N_BOOT = 2000


@dataclass
class RuleSet:
    """The rules of one set (learned before copying, or only by copying) and their spread."""

    name: str
    medians: dict[str, float]  # rule -> median tau_mem over its seeds (steps)
    censored: dict[str, int]  # rule -> runs whose tau_mem was not reached
    ratio: float | None  # max/min of the medians
    ci: tuple[float, float] | None  # bootstrap 95% CI of the ratio
    verdict: str
    why: str


def rule_label(row: pd.Series) -> str:
    """'mirror(axes=lr)' from a results row: the task and its parameters."""
    params = {k.removeprefix("task."): row[k] for k in row.index if k.startswith("task.") and pd.notna(row[k])}
    inner = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
    return f"{row['task']}({inner})"


def learned_before_copying(part: pd.DataFrame, rule_clock: str, mem_clock: str) -> bool:
    """True when in most runs the rule clock was reached and came before the memorisation clock
    (or that was not reached at all)."""
    rule = part[rule_clock].to_numpy(dtype=float)
    mem = part[mem_clock].to_numpy(dtype=float)
    before = ~np.isnan(rule) & (np.isnan(mem) | (rule < mem))
    return bool(before.sum() * 2 > len(part))


def spread(groups: dict[str, np.ndarray], seed: int = 0) -> tuple[float, tuple[float, float]]:
    """(max/min of the medians, bootstrap 95% CI) over rules' tau_mem arrays (all reached)."""
    arrays = list(groups.values())
    medians = np.array([np.median(v) for v in arrays])
    rng = np.random.default_rng(seed)
    # The resamples are drawn in the order of one loop over replicates and rules (the draws of
    # `rng.choice(v, len(v))`); their medians are taken at once, per rule, over all replicates.
    draws = [[rng.integers(0, len(v), size=len(v)) for v in arrays] for _ in range(N_BOOT)]
    meds = np.stack([np.median(v[np.stack([d[g] for d in draws])], axis=1) for g, v in enumerate(arrays)], axis=1)
    lo, hi = np.quantile(meds.max(axis=1) / meds.min(axis=1), [0.025, 0.975])
    return float(medians.max() / medians.min()), (float(lo), float(hi))


def judge(name: str, parts: dict[str, pd.DataFrame], mem: str = MEM.tau) -> RuleSet:
    """The spread of the rules' (`parts`') median memorisation clock `mem` (module docstring)."""
    censored = {r: int(p[mem].isna().sum()) for r, p in parts.items()}
    reached = {r: p[mem].dropna().to_numpy(dtype=float) for r, p in parts.items()}
    medians = {r: float(np.median(v)) for r, v in reached.items() if len(v)}
    if len(parts) < 2:
        return RuleSet(name, medians, censored, None, None, INCONCLUSIVE, f"{len(parts)} rule(s) in this set")
    if any(censored[r] * 2 >= len(parts[r]) for r in parts):
        return judge_by_bounds(name, parts, medians, censored, mem)
    if any(len(v) < 2 for v in reached.values()):
        ratio = max(medians.values()) / min(medians.values())
        return RuleSet(name, medians, censored, ratio, None, INCONCLUSIVE, f"fewer than 2 runs with {mem} per rule")
    ratio, ci = spread(reached)
    if ci[1] <= TOLERANCE:
        verdict, why = SUPPORTED, f"max/min {ratio:.2f} [{ci[0]:.2f}, {ci[1]:.2f}] <= {TOLERANCE:g}"
    elif ci[0] > TOLERANCE:
        verdict, why = NOT_SUPPORTED, f"max/min {ratio:.2f} [{ci[0]:.2f}, {ci[1]:.2f}] > {TOLERANCE:g}"
    else:
        verdict, why = INCONCLUSIVE, f"max/min {ratio:.2f} [{ci[0]:.2f}, {ci[1]:.2f}] straddles {TOLERANCE:g}"
    return RuleSet(name, medians, censored, ratio, ci, verdict, why)


def judge_by_bounds(name: str, parts: dict[str, pd.DataFrame], medians: dict, censored: dict, mem: str) -> RuleSet:
    """The set's verdict where some rules reached `mem` in at most half their runs (module
    docstring): their median's lower bound against the largest `mem` of the others."""
    late = [r for r in parts if censored[r] * 2 >= len(parts[r])]
    reached = [r for r in parts if r not in late]
    why = f"{mem} not reached in most runs of {late}"
    if not reached or "max_step" not in parts[late[0]]:
        return RuleSet(name, medians, censored, None, None, INCONCLUSIVE, why)
    lower = {r: float(np.median(parts[r][mem].fillna(parts[r]["max_step"]).to_numpy(float))) for r in late}
    slow = max(lower, key=lambda r: lower[r])
    top = max(float(parts[r][mem].max()) for r in reached)
    bound = lower[slow] / top
    text = (
        f"{slow}: median {mem} > {lower[slow]:,.0f} (censoring bound) against at most {top:,.0f} measured for {reached}"
    )
    if bound > TOLERANCE:
        why = f"by censoring bounds alone: {text}: max/min > {bound:.2f} > {TOLERANCE:g}"
        return RuleSet(name, medians, censored, bound, None, NOT_SUPPORTED, why)
    return RuleSet(
        name,
        medians,
        censored,
        None,
        None,
        INCONCLUSIVE,
        f"{why} ({text}: max/min > {bound:.2f}, not above {TOLERANCE:g})",
    )


def rule_family_sets(df: pd.DataFrame, rule_clock: str = PRIMARY.tau, mem_clock: str = MEM.tau) -> list[RuleSet]:
    """The two rule sets of a sweep's finished runs that share one N and one model but differ in
    the rule. Runs of the sweep's most common (N, family, depth, width) are used."""
    done = finished(df).copy()
    if "task" not in done or done["task"].nunique() < 2:
        return []
    done["rule"] = done.apply(rule_label, axis=1)
    keys = [k for k in ("data.N", "model.family", "model.depth", "model.width") if k in done]
    # the setting that the most distinct rules share
    best = max(
        done.groupby([done[k].astype(str) for k in keys]),
        key=lambda kv: (kv[1]["rule"].nunique(), len(kv[1])),
    )[1]
    parts = {r: p for r, p in best.groupby("rule", sort=True)}
    learned = {r: p for r, p in parts.items() if learned_before_copying(p, rule_clock, mem_clock)}
    copied = {r: p for r, p in parts.items() if r not in learned}
    return [judge("learned before copying", learned, mem_clock), judge("learned only by copying", copied, mem_clock)]


def sets_text(sets: list[RuleSet]) -> str:
    return "; ".join(
        f"{s.name}: {s.verdict} ({s.why}; medians {json.dumps({r: round(v) for r, v in s.medians.items()})})"
        for s in sets
    )


def claim3_families(df: pd.DataFrame, rule_clock: str = PRIMARY.tau, mem_clock: str = MEM.tau) -> tuple[str, str]:
    """(verdict, why) of claim 3 across rule families, judged on the rules learned before
    copying; the other set is reported beside it."""
    sets = rule_family_sets(df, rule_clock, mem_clock)
    if not sets:
        return INCONCLUSIVE, "no runs of several rules at one N"
    learned = sets[0]
    why = sets_text(sets)
    if learned.ratio is not None and math.isfinite(learned.ratio):
        return learned.verdict, why
    return INCONCLUSIVE, why
