"""The clocks a claim is judged at: one rule clock and one memorisation level (`At`).

A claim's test takes them as arguments and reads their columns (tau_group, tau_group_censored,
window_log10_group, tau_mem_near, ...), so its evidence names the clocks it was judged at.
`views` lists the pairs every claim is judged at: each rule clock with tau_mem (a claim's
by_clock) and tau_rule with each further memorisation level (by_mem). A level other than
tau_mem is read on the runs that measure it (runs written before near copies that kept no
samples do not), with every rule clock's window recomputed against it (`table_at`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from twoclocks.clocks import MEM, PRIMARY, WINDOW_FIELDS, MemClock, RuleClock, window
from twoclocks.records.formats import rule_clocks_of
from twoclocks.sweeps.claims.fits import mem_levels_in


@dataclass(frozen=True)
class At:
    """The clocks one verdict is judged at."""

    rule: RuleClock
    mem: MemClock

    def column(self, quantity: str) -> str:
        """The results column of a quantity a claim reads (a key of QUANTITIES)."""
        return QUANTITIES[quantity](self)


# What a claim's fit may read at its clocks: the rule clock, the memorisation clock, and the
# window from the one to the other (window_log10, in decades).
QUANTITIES: dict[str, Callable[[At], str]] = {
    "rule": lambda at: at.rule.tau,
    "mem": lambda at: at.mem.tau,
    "window": lambda at: at.rule.key("window_log10"),
}


PAPER = At(PRIMARY, MEM)  # the paper's clocks: a claim's main verdict


def views(table: pd.DataFrame) -> list[At]:
    """Every pair of clocks the claims are judged at, on a results table: each rule clock it has
    at tau_mem, then tau_rule at each further memorisation level some run measures."""
    rules = [At(rc, MEM) for rc in rule_clocks_of(table.columns)]
    return rules + [At(PRIMARY, mc) for mc in mem_levels_in(table) if mc != MEM]


def _step(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def table_at(table: pd.DataFrame, mc: MemClock) -> pd.DataFrame:
    """The runs of `table` that measure `mc`, with every rule clock's window columns measured
    to `mc` instead of tau_mem."""
    if mc == MEM:
        return table
    view = table[table[f"{mc.tau}_censored"].notna()].copy()
    for rc in rule_clocks_of(view.columns):
        wins = [window(_step(t), _step(m), int(s)) for t, m, s in zip(view[rc.tau], view[mc.tau], view["max_step"])]
        for key in WINDOW_FIELDS:
            if key != "window":
                view[rc.key(key)] = [w[key] for w in wins]
    return view


def clock_labels(table: pd.DataFrame) -> dict[str, str]:
    """tau -> 'tau_group (constraint_acc >= 0.95)' for every rule clock and memorisation level,
    with the sweep's threshold when all its runs share one (else the default, marked 'varies')."""
    labels = {}
    clocks: list[RuleClock | MemClock] = [*rule_clocks_of(table.columns), *mem_levels_in(table)]
    for clock in clocks:
        col = f"clocks.{clock.theta}"
        values = table[col].dropna().unique() if col in table else []
        labels[clock.tau] = clock.label({clock.theta: float(values[0])} if len(values) == 1 else None)
        if len(values) > 1:
            labels[clock.tau] += " (threshold varies between runs)"
    return labels


def across(by: dict[str, dict], kind: str, alone: str) -> tuple[bool | None, str]:
    """(robust, text): whether a claim's verdict is the same at every clock of a kind ('rule
    clock', 'memorisation level') in `by` (tau -> its entry), and if not, which holds where;
    `alone` is the text for a claim judged at one clock only."""
    if len(by) < 2:
        return None, alone
    verdicts: dict[str, list[str]] = {}
    for tau, entry in by.items():
        verdicts.setdefault(entry["verdict"], []).append(tau)
    if len(verdicts) == 1:
        [verdict] = verdicts
        # A claim that reads none of these clocks (tau_mem vs N at each rule clock) has the same
        # evidence at each (so has one whose every clock is censored alike).
        same = len({e["evidence"] for e in by.values()}) == 1
        return True, f"{verdict} at every {kind}" + (" (the same evidence at each)" if same else "")
    return False, "; ".join(f"{v} at {', '.join(taus)}" for v, taus in verdicts.items())
