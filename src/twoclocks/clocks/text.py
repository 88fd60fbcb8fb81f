"""Clocks as text: a clock's value or a window, as summaries, reports and sweeps print them."""

from __future__ import annotations

from twoclocks.clocks import PRIMARY, RuleClock


def format_clock(tau: float | None, max_step: int) -> str:
    """A clock as text: a number, or '> max step' when right-censored."""
    return f"> {max_step}" if tau is None else f"{tau:,.0f}"


def window_text(summary: dict, rc: RuleClock = PRIMARY) -> str:
    """A rule clock's window as text: 'vanished', '>= 1.20 decades', '0.85 decades' or 'undefined'."""
    if summary.get(rc.key("window_vanished")):
        return "vanished"
    w = summary.get(rc.key("window_log10"))
    if w is None:
        return "undefined"
    return f"{'>= ' if summary.get(rc.key('window_log10_is_lower_bound')) else ''}{w:.2f} decades"
