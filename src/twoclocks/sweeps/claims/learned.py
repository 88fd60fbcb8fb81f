"""What a claim's verdict rests on, and how a claim that compares knob levels is judged.

A verdict's *basis* is one of:
  fits on learned rules        every level of the knob it compares was learned before copying
                               (in most of its runs the rule clock came before tau_mem)
  includes unlearned rules     some level was learned only by copying or never: the verdict
                               contrasts "learned" with "not learned" more than complexity levels
  censoring bounds alone       decided by right-censored clocks ordering two levels, no slope
  fits                         a relation that does not compare rules (tau_mem vs N, capacity)
  fits where the rule was not  a relation of the rule clock or the window fitted on runs that
    learned before copying     copied before they learned the rule: their windows vanished
  no evidence                  inconclusive for want of runs

A claim that compares levels of the knob within slices (one N, depth, ...;
`ClaimDefinition.compares_knob`) is judged on the slices whose every level was learned before
copying when the sweep has such a slice -- the claim is about rules the model learns -- and on
every slice as well; both verdicts are printed (`Outcome.all_slices`). With no learned slice,
the verdict is the every-slice one, and its basis names the levels that were not learned.
"""

from __future__ import annotations

import pandas as pd

from twoclocks.sweeps.claims.fits import Fit
from twoclocks.sweeps.claims.registry import Outcome, Tested
from twoclocks.sweeps.claims.rule_families import learned_before_copying
from twoclocks.sweeps.claims.verdicts import INCONCLUSIVE, combine
from twoclocks.sweeps.claims.views import At


def unlearned_levels(df: pd.DataFrame, knob: str, at: At) -> list:
    """The knob values at which the rule was not learned before copying (in most runs), by the
    clocks `at`."""
    groups = df.groupby(knob, sort=True)
    return [k for k, part in groups if not learned_before_copying(part, at.rule.tau, at.mem.tau)]


def basis(verdict: str, reason: str, unlearned: dict[str, str] | None = None) -> str:
    """What a verdict rests on (see the module docstring). `unlearned`: for a claim that
    compares knob levels, {slice: the levels there not learned before copying, as text ('' when
    every level was learned)} over the slices the verdict used; None for any other claim."""
    if "by censoring bounds" in reason:
        return "censoring bounds alone"
    if verdict == INCONCLUSIVE and ("no runs" in reason or "no fit" in reason):
        return "no evidence"
    if unlearned is None:
        return "fits"
    where = [levels + (f" at {at}" if at else "") for at, levels in unlearned.items() if levels]
    return f"includes unlearned rules ({'; '.join(where)})" if where else "fits on learned rules"


def judge_fits(tested: Tested, missing: str, df: pd.DataFrame, at: At) -> Outcome:
    """A claim tested by several fits that do not compare rules: the fits combined, basis "fits";
    where a fit reads the rule clock or the window and its runs did not learn the rule before
    copying, the basis names those slices: the verdict then reads windows that vanished or
    rule clocks censored at the copying, not the relation the claim is about."""
    verdict, evidence, reason = combine(tested, missing)
    why = basis(verdict, reason)
    reads_rule = {at.rule.tau, at.rule.key("window_log10")}
    unlearned = [
        f.where_text() or "every run"
        for f, _, _ in tested
        if f.y in reads_rule and not learned_before_copying(df.loc[f.index], at.rule.tau, at.mem.tau)
    ]
    if unlearned and why == "fits":
        why = f"fits where the rule was not learned before copying ({'; '.join(unlearned)})"
    return Outcome(verdict, evidence, reason, [f for f, _, _ in tested], why)


def unlearned_text(fit: Fit, df: pd.DataFrame, knob: str, at: At) -> str:
    """'G=3, 4': the knob levels of the fit's slice not learned before copying in most of their
    runs ('' when all were)."""
    levels = unlearned_levels(df.loc[fit.index], knob, at)
    return f"{knob.split('.', 1)[-1]}={', '.join(f'{v:g}' for v in levels)}" if levels else ""


def judge_knob_claim(tested: Tested, missing: str, df: pd.DataFrame, knob: str | None, at: At) -> Outcome:
    """The verdict on learned rules (learned before copying, by the clocks `at`) where some slice
    has them, else on every slice (whose basis then says which levels were not learned where);
    `all_slices` is the verdict over every slice."""
    unlearned = [unlearned_text(f, df, knob, at) if knob else "" for f, _, _ in tested]
    verdict, evidence, reason = combine(tested, missing)
    whole = basis(verdict, reason, {f.where_text(): u for (f, _, _), u in zip(tested, unlearned)})
    all_slices = f"{verdict} ({whole})"
    learned = [t for t, u in zip(tested, unlearned) if not u]
    if not learned or len(learned) == len(tested):
        return Outcome(verdict, evidence, reason, [f for f, _, _ in tested], whole, all_slices)
    verdict, evidence, reason = combine(learned, missing)
    on_learned = basis(verdict, reason, {})
    return Outcome(verdict, evidence, reason, [f for f, _, _ in learned], on_learned, all_slices)


def map_runs(df: pd.DataFrame, knob: str) -> pd.DataFrame:
    """The runs of a sweep that form its learnability map: of the (N, width, family) settings,
    the one with the most (knob, depth) cells (a reproduce sweep also holds other grids)."""
    keys = [k for k in ("data.N", "model.width", "model.family") if k in df]
    groups = df.groupby([df[k].astype(str) for k in keys], sort=True) if keys else [((), df)]
    return max((part for _, part in groups), key=lambda p: len(p.groupby([knob, "model.depth"])))
