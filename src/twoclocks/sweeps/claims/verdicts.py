"""The decision rules that turn a fit into a verdict (supported / not supported /
inconclusive), and a claim tested by several fits into one verdict: DECISION_RULES in words
(written into claims.json; docs/sweeps.md explains them)."""

from __future__ import annotations

from twoclocks.sweeps.claims.fits import Fit

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"

DECISION_RULES = """Decision rules for one fit (95% bootstrap CI of the slope over seeds):
  direction claims: supported if the CI excludes 0 on the predicted side; not supported if it
    excludes 0 on the other side; inconclusive if it straddles 0.
  band claims (value v +- tolerance t): supported if the CI lies inside [v-t, v+t]; not
    supported if it lies wholly outside; inconclusive if it overlaps the edge.
  Otherwise inconclusive: no fit (fewer than 2 x values with an uncensored clock), no CI (one
    seed per x value), or censoring_limits (censored runs at some x contradict the line) --
  except that a direction claim is still decided by censoring bounds alone when every run at
    some x is right-censored beyond every uncensored run at another x (e.g. tau_rule > 6,000
    at G=3 against <= 220 at G=2 says "increases"), and no pair says the opposite.
A claim tested by several fits (slices, or depth and width): not supported if any fit is;
supported if all are; else inconclusive. No fit at all: inconclusive."""


def _usable(fit: Fit) -> str | None:
    """Why a fit cannot decide anything, or None."""
    if fit.slope is None:
        return f"fewer than 2 {fit.x} values with an uncensored {fit.y}"
    if fit.censoring_limits:
        return f"more than half of the runs censored at some {fit.x}: the slope is biased"
    if fit.ci is None:
        return "one seed per x value: no CI"
    return None


def censored_order(fit: Fit) -> tuple[list[str], list[str]]:
    """Pairs of x values ordered by censoring alone: every run at one x is right-censored
    beyond every uncensored value at the other. Returns (increasing, decreasing) as text."""
    up: list[str] = []
    down: list[str] = []
    name = fit.x.rsplit(".", 1)[-1]
    for a in fit.groups:
        for b in fit.groups:
            if (
                a.used_range is None
                or b.right_bound is None
                or b.right_censored < b.n
                or b.right_bound <= a.used_range[1]
            ):
                continue
            text = f"{fit.y} > {b.right_bound:.4g} at {name}={b.x:g} vs <= {a.used_range[1]:.4g} at {name}={a.x:g}"
            (up if b.x > a.x else down).append(text)
    return up, down


def direction(fit: Fit, sign: int) -> tuple[str, str]:
    why = _usable(fit)
    if why:  # the slope cannot decide; an ordering shown by censoring bounds alone still can
        up, down = censored_order(fit)
        agree, disagree = (up, down) if sign > 0 else (down, up)
        if agree and not disagree:
            return SUPPORTED, f"{why}; but by censoring bounds: {'; '.join(agree)}"
        if disagree and not agree:
            return NOT_SUPPORTED, f"{why}; but by censoring bounds: {'; '.join(disagree)}"
        return INCONCLUSIVE, why
    assert fit.ci is not None  # a usable fit has a CI
    lo, hi = fit.ci
    if (lo > 0 and sign > 0) or (hi < 0 and sign < 0):
        return SUPPORTED, "CI excludes 0 in the predicted direction"
    if (lo > 0 and sign < 0) or (hi < 0 and sign > 0):
        return NOT_SUPPORTED, "CI excludes 0 in the opposite direction"
    if lo == hi == 0:  # every value the same, e.g. windows that all vanished (width 0)
        return INCONCLUSIVE, "no spread: every run has the same value (a window that vanished is 0)"
    return INCONCLUSIVE, "CI straddles 0"


def band(fit: Fit, value: float, tol: float) -> tuple[str, str]:
    why = _usable(fit)
    if why:
        return INCONCLUSIVE, why
    assert fit.ci is not None  # a usable fit has a CI
    lo, hi = fit.ci
    if value - tol <= lo and hi <= value + tol:
        return SUPPORTED, f"CI inside [{value - tol:g}, {value + tol:g}]"
    if hi < value - tol or lo > value + tol:
        return NOT_SUPPORTED, f"CI outside [{value - tol:g}, {value + tol:g}]"
    return INCONCLUSIVE, f"CI overlaps the edge of [{value - tol:g}, {value + tol:g}]"


def combine(results: list[tuple[Fit, str, str]], missing: str) -> tuple[str, str, str]:
    """(verdict, evidence, reason) of a claim tested by several fits."""
    if not results:
        return INCONCLUSIVE, missing, missing
    verdicts = [v for _, v, _ in results]
    verdict = (
        NOT_SUPPORTED
        if NOT_SUPPORTED in verdicts
        else SUPPORTED
        if all(v == SUPPORTED for v in verdicts)
        else INCONCLUSIVE
    )
    evidence = " | ".join(f"{f.label()}: {f.evidence()}" for f, _, _ in results)
    reason = "; ".join(f"{f.label()}: {v} ({why})" for f, v, why in results)
    return verdict, evidence, reason
