"""Judging the claims at every memorisation level: tau_mem (exact copies) and tau_mem_near
(near copies, twoclocks.evaluate.NEAR_HAMMING), so that no verdict on copying hinges on
exactness.

As at the rule clocks (rule_clocks.py), a claim is written against tau_mem's columns.
`mem_view` returns the results table with those columns holding another level's clock and
every rule clock's window recomputed against it (clocks.window), so that every claim, including
one added later, is judged at each level. Runs that do not measure a level (written before near
copies, with no samples kept) are left out of its view. A claim's verdict at each level is in
`by_mem`, at tau_rule; `mem_robust` says whether they agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from twoclocks.clocks import MEM, WINDOW_FIELDS, MemClock, window
from twoclocks.formats import rule_clocks_of
from twoclocks.sweeps.claims.fits import mem_levels_in
from twoclocks.sweeps.claims.rule_clocks import rename_obj, rename_words


def mem_renames(mc: MemClock) -> dict[str, str]:
    """tau_mem's column -> the same column of `mc`."""
    return dict(zip(MEM.result_columns(), mc.result_columns()))


def _clock(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def mem_view(df: pd.DataFrame, mc: MemClock) -> pd.DataFrame:
    """The runs of `df` that measure `mc`, with tau_mem's columns holding mc's clock and every
    rule clock's window columns recomputed from it."""
    if mc == MEM:
        return df
    pairs = mem_renames(mc)
    view = df[df[f"{mc.tau}_censored"].notna()].drop(columns=[c for c in pairs if c in df])
    view = view.rename(columns={theirs: ours for ours, theirs in pairs.items() if theirs in df})
    for rc in rule_clocks_of(view.columns):
        wins = [
            window(_clock(tau), _clock(mem), int(top))
            for tau, mem, top in zip(view[rc.tau], view[MEM.tau], view["max_step"])
        ]
        for key in WINDOW_FIELDS:
            if key != "window":
                view[rc.key(key)] = [w[key] for w in wins]
    return view


def judge_mem_levels(table: pd.DataFrame, claims: list, claims_at: Callable[[pd.DataFrame], list]) -> None:
    """Fill each claim's by_mem, mem_robust and across_mem: `claims` are those judged at tau_mem
    (on `table`); `claims_at` judges them on another level's view."""
    shared = {c.removeprefix("clocks."): table[c].dropna().unique() for c in table if c.startswith("clocks.theta_mem")}
    thresholds = {k: float(v[0]) for k, v in shared.items() if len(v) == 1}
    levels = mem_levels_in(table)
    per_level = {mc.tau: {c.id: c for c in (claims if mc == MEM else claims_at(mem_view(table, mc)))} for mc in levels}
    for claim in claims:
        for mc in levels:
            c = per_level[mc.tau].get(claim.id)
            if c is None:
                continue
            names = mem_renames(mc)
            claim.by_mem[mc.tau] = {
                "clock": mc.label(thresholds),
                "verdict": c.verdict,
                "evidence": rename_words(c.evidence, names),
                "reason": rename_words(c.reason, names),
                "basis": c.basis,
                "fits": rename_obj(c.fits, names),
            }
        claim.mem_robust, claim.across_mem = across_levels(claim.by_mem)


def across_levels(by_mem: dict[str, dict]) -> tuple[bool | None, str]:
    """(robust, text): whether a claim's verdict is the same at every memorisation level."""
    if len(by_mem) < 2:
        return None, f"judged at {MEM.tau} only (no run measures near copies)"
    verdicts: dict[str, list[str]] = {}
    for tau, entry in by_mem.items():
        verdicts.setdefault(entry["verdict"], []).append(tau)
    if len(verdicts) == 1:
        [verdict] = verdicts
        same = len({e["evidence"] for e in by_mem.values()}) == 1  # a claim that reads no copying
        return True, f"{verdict} at every memorisation level" + (" (the same evidence at each)" if same else "")
    return False, "; ".join(f"{v} at {', '.join(taus)}" for v, taus in verdicts.items())


def mem_note(claims: list) -> list[str]:
    """Which verdicts survive the choice of memorisation level (exact or near copies)."""
    judged = [c for c in claims if len(c.by_mem) > 1]
    if not judged:
        return []
    robust = [str(c.id) for c in judged if c.mem_robust]
    fragile = [f"{c.id} ({c.across_mem})" for c in judged if not c.mem_robust]
    return [
        f"Robust to the memorisation level (exact and near copies): {', '.join(robust) or 'none'}.",
        f"Depend on it: {', '.join(fragile) or 'none'}.",
    ]
