"""What a claim's verdict rests on, and the two claims that need learned rules to mean anything:
8, depth extends the range of learnable complexity (but does not remove the limit), from the
learnability map; 9, tau_mem is nearly invariant across rule families of equal population.

A verdict's *basis* is one of:
  fits on learned rules        every level of the knob it compares was learned before copying
                               (in most of its runs the rule clock came before tau_mem)
  includes unlearned rules     some level was learned only by copying or never: the verdict
                               contrasts "learned" with "not learned" more than complexity levels
  censoring bounds alone       decided by right-censored clocks ordering two levels, no slope
  fits                         a relation that does not compare rules (tau_mem vs N, capacity)
  no evidence                  inconclusive for want of runs

Claims 1, 3 and 6 compare levels of the knob within slices (one N, depth, ...). Each is judged
on the slices whose every level was learned before copying when the sweep has such a slice --
the claim is about rules the model learns -- and on every slice as well; both verdicts are
printed (`KnobVerdict`). With no learned slice, the verdict is the every-slice one, and its
basis names the levels that were not learned.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from twoclocks.sweeps.claims.fits import Fit
from twoclocks.sweeps.claims.learnability import depth_extends_range, learnability_table, varies_knob_and_depth
from twoclocks.sweeps.claims.rule_families import claim3_families, learned_before_copying
from twoclocks.sweeps.claims.verdicts import INCONCLUSIVE, combine

KNOB_CLAIMS = (1, 3, 6)  # the claims that compare levels of the rule's complexity


def unlearned_levels(df: pd.DataFrame, knob: str) -> list:
    """The knob values at which the rule was not learned before copying (in most runs)."""
    return [k for k, part in df.groupby(knob, sort=True) if not learned_before_copying(part, "tau_rule")]


def basis(claim_id: int, verdict: str, reason: str, unlearned: dict[str, str] | None = None) -> str:
    """What the verdict of claim `claim_id` rests on (see the module docstring). `unlearned`:
    for the claims that compare knob levels, {slice: the levels there not learned before
    copying, as text ('' when every level was learned)} over the slices the verdict used."""
    if "by censoring bounds" in reason:
        return "censoring bounds alone"
    if verdict == INCONCLUSIVE and ("no runs" in reason or "no fit" in reason):
        return "no evidence"
    if claim_id not in KNOB_CLAIMS or unlearned is None:
        return "fits"
    where = [levels + (f" at {at}" if at else "") for at, levels in unlearned.items() if levels]
    return f"includes unlearned rules ({'; '.join(where)})" if where else "fits on learned rules"


@dataclass
class KnobVerdict:
    """A claim that compares levels of the knob (1, 3, 6), judged twice: on the slices whose
    every level was learned before copying (the claim's verdict, when there is such a slice) and
    on every slice (shown beside it)."""

    verdict: str
    evidence: str
    reason: str
    basis: str
    fits: list[Fit]
    all_slices: str  # "<verdict> (<basis>)" over every slice


def unlearned_text(fit: Fit, df: pd.DataFrame, knob: str) -> str:
    """'G=3, 4': the knob levels of the fit's slice not learned before copying in most of their
    runs ('' when all were)."""
    levels = unlearned_levels(df.loc[fit.index], knob)
    return f"{knob.split('.', 1)[-1]}={', '.join(f'{v:g}' for v in levels)}" if levels else ""


def judge_knob_claim(
    claim_id: int, tested: list[tuple[Fit, str, str]], missing: str, df: pd.DataFrame, knob: str | None
) -> KnobVerdict:
    """The verdict on learned rules where some slice has them, else on every slice (whose basis
    then says which levels were not learned where); `all_slices` is the verdict over every slice."""
    unlearned = [unlearned_text(f, df, knob) if knob else "" for f, _, _ in tested]
    verdict, evidence, reason = combine(tested, missing)
    whole = basis(claim_id, verdict, reason, {f.where_text(): u for (f, _, _), u in zip(tested, unlearned)})
    all_slices = f"{verdict} ({whole})"
    learned = [t for t, u in zip(tested, unlearned) if not u]
    if not learned or len(learned) == len(tested):
        return KnobVerdict(verdict, evidence, reason, whole, [f for f, _, _ in tested], all_slices)
    verdict, evidence, reason = combine(learned, missing)
    on_learned = basis(claim_id, verdict, reason, {})
    return KnobVerdict(verdict, evidence, reason, on_learned, [f for f, _, _ in learned], all_slices)


def map_runs(df: pd.DataFrame, knob: str) -> pd.DataFrame:
    """The runs of a sweep that form its learnability map: of the (N, width, family) settings,
    the one with the most (knob, depth) cells (a reproduce sweep also holds other grids)."""
    keys = [k for k in ("data.N", "model.width", "model.family") if k in df]
    groups = df.groupby([df[k].astype(str) for k in keys], sort=True) if keys else [((), df)]
    return max((part for _, part in groups), key=lambda p: len(p.groupby([knob, "model.depth"])))


def claim_8(df: pd.DataFrame, knob: str | None) -> tuple[str, str, str]:
    """(verdict, evidence, reason): depth extends the range of learnable complexity, not
    without limit; judged on the runs that form a learnability map (knob x depth)."""
    if knob is None or not varies_knob_and_depth(df):
        return INCONCLUSIVE, "no runs vary both the knob and model.depth", "no learnability map in this sweep"
    table = learnability_table(map_runs(df, knob))
    verdict, why = depth_extends_range(table)
    cells = ", ".join(
        f"{r.value:g}/d{r.depth}: {'> ' + format(r.budget, ',') if pd.isna(r.median) else format(r.median, ',.0f')}"
        for r in table.itertuples()
    )
    return verdict, f"median tau_rule per {knob.split('.', 1)[-1]}/depth cell: {cells}", why


def claim_9(df: pd.DataFrame) -> tuple[str, str, str]:
    """(verdict, evidence, reason): tau_mem nearly invariant across rule families (max/min of
    the rules' median tau_mem <= 2, judged on the rules learned before copying)."""
    verdict, why = claim3_families(df)
    return verdict, why, why
