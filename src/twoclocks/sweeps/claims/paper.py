"""The nine claims of the paper (arXiv 2605.10019), registered in the claim registry.

The fits that test them are twoclocks.sweeps.claims.fits's (x on log10 scale); the decision
rules of one fit are verdicts.py's. A claim comparing levels of the knob is judged on learned
slices where the sweep has them (learned.py); claims reading tau_mem leave out runs stopped once
the rule was learned (train.stop_at=rule): they never measure it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from twoclocks.sweeps.claims.curvature import tau_mem_curvature
from twoclocks.sweeps.claims.fits import Fit, fit_relation, knob_column, y_values
from twoclocks.sweeps.claims.learnability import depth_extends_range, learnability_table, varies_knob_and_depth
from twoclocks.sweeps.claims.learned import judge_knob_claim, map_runs
from twoclocks.sweeps.claims.registry import ClaimDefinition, Outcome, Runs, Tested, register
from twoclocks.sweeps.claims.rule_families import claim3_families, judge, learned_before_copying
from twoclocks.sweeps.claims.verdicts import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, band, direction
from twoclocks.sweeps.claims.views import QUANTITIES, At

LINEAR_TOL = 0.3  # claim 4: slope of tau_mem vs N within 1 +- this counts as "nearly linear"
FAMILIES_COMPARED = ("dit", "gpt", "mdm")  # claim 7 compares every family to the first
OFFSET_BOOT = 2000  # bootstrap replicates of each offset's CI

Check = Callable[[Fit, pd.DataFrame, Runs], tuple[str, str]]


def along(xs: tuple[str, ...], y: str, check: Check) -> Callable[[pd.DataFrame, Runs, At], Tested]:
    """A test: fit y (a key of views.QUANTITIES: 'rule', 'mem', 'window') against each x
    ("knob": the sweep's knob) per slice, each fit judged by `check`."""
    if y not in QUANTITIES:
        raise ValueError(f"a claim's fit reads one of {list(QUANTITIES)}, not {y!r}")

    def test(df: pd.DataFrame, runs: Runs, at: At) -> Tested:
        columns = [runs.knob if x == "knob" else x for x in xs]
        return [(f, *check(f, df, runs)) for x in columns if x for f in fit_relation(df, x, at.column(y))]

    return test


def increases(fit: Fit, df: pd.DataFrame, runs: Runs) -> tuple[str, str]:
    return direction(fit, +1)


def decreases(fit: Fit, df: pd.DataFrame, runs: Runs) -> tuple[str, str]:
    return direction(fit, -1)


def nearly_linear(fit: Fit, df: pd.DataFrame, runs: Runs) -> tuple[str, str]:
    """The slope over the slice's N range within the band; the reason adds whether the exponent
    is constant across it (`curvature`: a rising or falling exponent is said in words)."""
    verdict, why = band(fit, 1.0, LINEAR_TOL)
    shape = tau_mem_curvature(df.loc[fit.index], fit.x, fit.y) if fit.slope is not None else None
    if shape is None:
        return verdict, why
    constant = "" if not (shape.rises or shape.falls) else "; the exponent is not constant over this N range"
    return verdict, f"{why}; {shape.words()}{constant}"


def invariance(fit: Fit, df: pd.DataFrame, runs: Runs) -> tuple[str, str]:
    """Claim 3 in one slice: the knob levels' median memorisation clock (the fit's y) within a
    factor TOLERANCE of each other (max/min, bootstrap CI over seeds), the reading of claim 9
    across rule families."""
    knob = runs.knob
    assert knob is not None  # a fit along the knob exists only when there is one
    name = knob.split(".", 1)[-1]
    levels = judge("levels", {f"{name}={v:g}": p for v, p in df.loc[fit.index].groupby(knob, sort=True)}, fit.y)
    return levels.verdict, levels.why


def narrows_and_vanishes(df: pd.DataFrame, runs: Runs, at: At) -> Outcome:
    """The window narrows with complexity (judged as claims 1 and 3: on learned slices when
    there are any) and can vanish (in any run: a window vanishes where the rule is learned only
    by copying, so that part cannot rest on learned rules)."""
    knob, kname = runs.knob, runs.kname
    tested = along(("knob",), "window", decreases)(df, runs, at)
    out = judge_knob_claim(tested, f"no runs vary {kname}", df, knob, at)
    if knob and len(df):
        vanished = df[df[at.rule.key("window_vanished")].fillna(False).astype(bool)]
        where = sorted(set(vanished[knob])) if len(vanished) else []
        out.evidence += f" | vanished in {len(vanished)}/{len(df)} runs" + (f" (at {kname}={where})" if where else "")
        if out.verdict == SUPPORTED and vanished.empty:
            out.verdict, out.reason = INCONCLUSIVE, out.reason + "; narrows, but never vanished in the tested range"
    return out


def family_structure(df: pd.DataFrame, at: At) -> tuple[str, str]:
    """('shows' | 'contradicts' | 'unclear', evidence) for one family's runs."""
    reached = [~df[f"{tau}_censored"].fillna(True).astype(bool) for tau in (at.rule.tau, at.mem.tau)]
    both = df[reached[0] & reached[1]]
    open_ = int((~both[at.rule.key("window_vanished")].fillna(False).astype(bool)).sum())
    fits = fit_relation(df, "data.N", at.mem.tau)
    dirs = [direction(f, +1)[0] for f in fits]
    copied_first = int((~reached[0] & reached[1]).sum())  # the rule clock censored past the copying
    unlearned = f" ({copied_first} more copied before the rule clock was reached)" if copied_first else ""
    ev = f"window open in {open_}/{len(both)} runs with both clocks{unlearned}; " + (
        "; ".join(f"{f.label()}: {f.evidence()}" for f in fits) if fits else f"no {at.mem.tau} vs N fit"
    )
    if (len(both) and open_ < len(both) / 2) or NOT_SUPPORTED in dirs:
        return "contradicts", ev
    if len(both) and open_ > len(both) / 2 and dirs and all(d == SUPPORTED for d in dirs):
        return "shows", ev
    return "unclear", ev


def family_offsets(df: pd.DataFrame, family: str, at: At, ref: str = "dit", seed: int = 0) -> list[str]:
    """Offsets of `family` from `ref` at every (knob, N, depth, width) both ran: the difference
    of mean log10 of each clock of `at` (uncensored runs), with a 95% percentile bootstrap CI
    that resamples each family's runs (seeds) independently."""
    knob = knob_column(df)
    keys = [c for c in (knob, "data.N", "model.depth", "model.width") if c and c in df]
    rng = np.random.default_rng(seed)
    out = []
    a, b = df[df["model.family"] == family], df[df["model.family"] == ref]
    shared = sorted(set(map(tuple, a[keys].to_numpy().tolist())) & set(map(tuple, b[keys].to_numpy().tolist())))
    for cell in shared:
        where = " ".join(f"{k.split('.', 1)[1]}={v}" for k, v in zip(keys, cell))
        parts = []
        for clock in (at.rule.tau, at.mem.tau):
            ya, yb = (np.log10(y_values(d[(d[keys] == list(cell)).all(axis=1)], clock)[0]) for d in (a, b))
            ya, yb = ya[np.isfinite(ya)], yb[np.isfinite(yb)]
            if not len(ya) or not len(yb):
                parts.append(f"{clock} censored")
                continue
            boot = rng.choice(ya, (OFFSET_BOOT, len(ya))).mean(1) - rng.choice(yb, (OFFSET_BOOT, len(yb))).mean(1)
            lo, hi = np.percentile(boot, [2.5, 97.5])
            parts.append(f"d log10 {clock} {ya.mean() - yb.mean():+.2f} [{lo:+.2f}, {hi:+.2f}]")
        out.append(f"{family}-{ref} at {where}: " + ", ".join(parts))
    return out


def same_structure(df: pd.DataFrame, runs: Runs, at: At) -> Outcome:
    """Claim 7: every family shows the window structure; offsets from the first family."""
    fams = set(df["model.family"]) if "model.family" in df else set()
    missing = [f for f in FAMILIES_COMPARED if f not in fams]
    if missing:
        why = "; ".join(f"no {f} runs" for f in missing)
        return Outcome(INCONCLUSIVE, why, f"inconclusive: {why}")
    by_family = {f: df[df["model.family"] == f] for f in FAMILIES_COMPARED}
    res = {f: family_structure(part, at) for f, part in by_family.items()}
    states = {f: s for f, (s, _) in res.items()}
    if all(s == "shows" for s in states.values()):
        verdict = SUPPORTED
    elif "shows" in states.values() and "contradicts" in states.values():
        verdict = NOT_SUPPORTED
    else:
        verdict = INCONCLUSIVE
    offsets = [o for f in FAMILIES_COMPARED[1:] for o in family_offsets(df, f, at, FAMILIES_COMPARED[0])]
    evidence = " | ".join(f"{f}: {ev}" for f, (_, ev) in res.items())
    evidence += " | offsets (95% bootstrap CI over seeds): " + ("; ".join(offsets) or "no shared N and G")
    reason = (
        ", ".join(f"{f}: {s}" for f, s in states.items())
        + f" (structure = window open in most runs and {at.mem.tau} rising with N)"
    )
    never = [f for f, part in by_family.items() if not learned_before_copying(part, at.rule.tau, at.mem.tau)]
    basis = f"the rule not learned before copying in most runs of {', '.join(never)}" if never else ""
    return Outcome(verdict, evidence, reason, basis=basis)


def depth_extends(df: pd.DataFrame, runs: Runs, at: At) -> Outcome:
    """Claim 8, judged on the runs that form a learnability map (knob x depth)."""
    knob = runs.knob
    if knob is None or not varies_knob_and_depth(df):
        return Outcome(INCONCLUSIVE, "no runs vary both the knob and model.depth", "no learnability map in this sweep")
    table = learnability_table(map_runs(df, knob), at.rule.tau)
    verdict, why = depth_extends_range(table)
    cells = ", ".join(
        f"{r.value:g}/d{r.depth}: {'> ' + format(r.budget, ',') if pd.isna(r.median) else format(r.median, ',.0f')}"
        for r in table.itertuples()
    )
    return Outcome(verdict, f"median {at.rule.tau} per {knob.split('.', 1)[-1]}/depth cell: {cells}", why)


def across_rule_families(df: pd.DataFrame, runs: Runs, at: At) -> Outcome:
    """Claim 9: max/min of the rules' median tau_mem <= 2, on the rules learned before copying."""
    verdict, why = claim3_families(df, at.rule.tau, at.mem.tau)
    return Outcome(verdict, why, why)


for _claim in (
    ClaimDefinition(
        1,
        "tau_rule increases with complexity {knob}",
        "main",
        "tau_rule vs the task's knob, slope > 0",
        along(("knob",), "rule", increases),
        compares_knob=True,
        missing="no runs vary {knob}",
    ),
    ClaimDefinition(
        2,
        "tau_rule decreases with capacity (depth, width)",
        "main",
        "tau_rule vs model.depth and vs model.width, slope < 0",
        along(("model.depth", "model.width"), "rule", decreases),
        missing="no runs vary model.depth or model.width",
    ),
    ClaimDefinition(
        3,
        "tau_mem nearly invariant to the rule ({knob})",
        "main, measuring tau_mem",
        "per slice, max/min of the knob levels' median tau_mem <= 2 (95% bootstrap CI over seeds), "
        "as claim 9; the evidence gives the log-log slope",
        along(("knob",), "mem", invariance),
        compares_knob=True,
        missing="no runs vary {knob}",
    ),
    ClaimDefinition(
        4,
        "tau_mem grows nearly linearly with N (log-log slope ~ 1)",
        "main, measuring tau_mem",
        f"tau_mem vs data.N, slope within 1 +- {LINEAR_TOL:g}; with three or more N levels, whether "
        "the exponent is constant (a censored quadratic in log N, curvature CI by bootstrap over seeds)",
        along(("data.N",), "mem", nearly_linear),
        missing="no runs vary data.N",
    ),
    ClaimDefinition(
        5,
        "the innovation window widens with N",
        "main, measuring tau_mem",
        "window_log10 vs data.N, slope > 0",
        along(("data.N",), "window", increases),
        missing="no runs vary data.N",
    ),
    ClaimDefinition(
        6,
        "the window narrows with complexity ({knob}) and can vanish",
        "main, measuring tau_mem",
        "window_log10 vs the knob, slope < 0, and at least one run with a vanished window",
        narrows_and_vanishes,
        compares_knob=True,
    ),
    ClaimDefinition(
        7,
        "the same structure in all three families (DiT, GPT, MDM)",
        "every family",
        "per family: window open (tau_rule < tau_mem) in most runs and tau_mem vs N slope > 0; the "
        "evidence gives each family's log10 offsets from the DiT at the N and G they share",
        same_structure,
    ),
    ClaimDefinition(
        8,
        "depth extends the range of learnable {knob}, but not without limit",
        "main",
        "from the learnability map (sweeps/claims/learnability.py): the largest knob value learned "
        "grows with depth, and the largest stays unlearned",
        depth_extends,
        basis="learnability map",
    ),
    ClaimDefinition(
        9,
        "tau_mem nearly invariant across rule families of equal population",
        "every task, measuring tau_mem",
        "max/min of the rules' median tau_mem <= 2 at one N, judged on rules learned before copying "
        "(sweeps/claims/rule_families.py)",
        across_rule_families,
        basis="rules learned before copying, judged apart",
    ),
):
    register(_claim)
