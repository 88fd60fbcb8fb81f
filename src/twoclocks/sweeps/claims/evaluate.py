"""`twoclocks reproduce`: run a predefined sweep and give a verdict on each claim of the paper.

Claims (arXiv 2605.10019) and the fits that test them (twoclocks.sweeps.claims.fits; x on log10 scale):
  1. tau_rule increases with complexity G          tau_rule vs task knob, slope > 0
  2. tau_rule decreases with capacity              tau_rule vs model.depth and vs model.width, slope < 0
  3. tau_mem is nearly rule-invariant (across G)   per slice, max/min of the knob levels' median
                                                   tau_mem <= 2 (95% bootstrap CI over seeds), as
                                                   claim 9; the evidence gives the log-log slope
  4. tau_mem grows nearly linearly with N          tau_mem vs data.N, slope within 1 +- 0.3
  5. the window widens with N                      window_log10 vs data.N, slope > 0
  6. the window narrows with complexity and can vanish   window_log10 vs knob, slope < 0, and
                                                   at least one run with a vanished window
  7. the same structure in DiT, GPT and MDM        per family: window open (tau_rule < tau_mem) in
                                                   most runs and tau_mem vs N slope > 0; the
                                                   evidence gives each family's log10 offsets
                                                   from the DiT at the N and G they share
  8. depth extends the range of learnable G, but not without limit    from the learnability map
                                                   (sweeps/claims/learnability.py): the largest G learned
                                                   grows with depth, and the largest G stays unlearned
  9. tau_mem nearly invariant across rule families  max/min of the rules' median tau_mem <= 2 at one
                                                   N, judged on rules learned before copying
                                                   (sweeps/claims/rule_families.py)
Claims 1-6 and 8 use the DiT runs of the sweep's main task (its most common), claim 9 the DiT
runs of every task. Every verdict states its basis (sweeps/claims/learned.py): fits on learned
rules, fits that include rules not learned before copying, or censoring bounds alone. Claims 1,
3 and 6 are judged on the slices whose every knob level was learned before copying when there
are any, and over every slice as well (`Claim.all_slices`). Claims 3-6 and 9 leave out runs
stopped once the rule was learned (train.stop_at=rule): they never measure tau_mem.

Decision rules for one fit (95% bootstrap CI of the slope over seeds):
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
supported if all are; else inconclusive. No fit at all: inconclusive.

Rule clocks: every claim is judged with the rules above at each rule clock -- tau_rule (valid
>= 0.9), tau_rule_low (valid >= 0.5), tau_group (constraint_acc >= 0.95) -- with that clock's
window. The claim's verdict is the one at tau_rule; by_clock has each clock's, and robust says
whether they are all the same (twoclocks.sweeps.claims.rule_clocks).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd

from twoclocks.clocks import PRIMARY
from twoclocks.errors import ConfigError
from twoclocks.io import write_json, write_table
from twoclocks.sweeps.claims.fits import Fit, finished, fit_relation, knob_column, rule_clocks_in, y_values
from twoclocks.sweeps.claims.learned import basis, claim_8, claim_9, judge_knob_claim
from twoclocks.sweeps.claims.rule_clocks import clock_labels, clock_view, relabel, relabel_obj, with_rule_clocks
from twoclocks.sweeps.claims.rule_families import judge
from twoclocks.sweeps.claims.verdicts import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, band, combine, direction
from twoclocks.sweeps.spec import SweepSpec, load_spec

SCALES = ("tiny", "cpu", "cpu-long", "gpu")
LINEAR_TOL = 0.3  # claim 4: slope of tau_mem vs N within 1 +- this counts as "nearly linear"


@dataclass
class Claim:
    id: int
    claim: str
    evidence: str
    verdict: str
    reason: str
    fits: list[dict] = field(default_factory=list)
    # The fields above are the verdict at tau_rule (the paper's clock). by_clock holds the
    # verdict at every rule clock: {tau: {clock, verdict, evidence, reason}} (rule_clocks.py).
    by_clock: dict[str, dict] = field(default_factory=dict)
    robust: bool | None = None  # the same verdict at every rule clock (None: judged at one only)
    basis: str = ""  # what the verdict rests on (learned.basis): fits on learned rules, ...
    all_slices: str = ""  # claims 1, 3, 6: the verdict over every slice, learned or not, and its basis
    across_clocks: str = ""  # that, or which verdict holds at which rule clock


def scale_spec(scale: str) -> SweepSpec:
    """The packaged sweep of a scale (src/twoclocks/sweeps/specs/reproduce_<scale>.yaml), without
    the points of a family (gpt, mdm) that is not available."""
    if scale not in SCALES:
        raise ConfigError(f"--scale must be one of {list(SCALES)}, got {scale!r}")
    spec = load_spec(Path(str(files("twoclocks") / "sweeps" / "specs" / f"reproduce_{scale}.yaml")))
    for family in ("gpt", "mdm"):
        if not family_available(family):
            spec.grids = drop_family(spec.grids, family)
    return spec


def gpt_available() -> bool:
    from twoclocks.models import FAMILIES

    return "gpt" in FAMILIES


def drop_family(grids: list[dict], family: str) -> list[dict]:
    out = []
    for g in grids:
        key = "model.family" if "model.family" in g else "model" if "model" in g else None
        if key is None:
            out.append(g)
            continue
        values = [v for v in g[key] if v != family]
        if values:
            out.append({**g, key: values})
    return out


def _fits(df: pd.DataFrame, x: str | None, y: str) -> list[Fit]:
    return fit_relation(df, x, y) if x else []


def evaluate_claims(results: pd.DataFrame, root: str | Path | None = None) -> list[Claim]:
    """Every claim judged at every rule clock (tau_rule, tau_rule_low, tau_group).

    Each claim is written against tau_rule's columns and judged on `clock_view(table, clock)`,
    in which those columns hold the other clock's values, so a new claim is judged at every
    rule clock as well. A table made before the group-level clocks existed gets them from the
    run directories under `root` (the sweep directory). The returned claims carry the verdict
    at tau_rule in their main fields and every rule clock's in `by_clock`.
    """
    table, note = with_rule_clocks(results, root)
    labels = clock_labels(table)
    # Matched by claim id, so a claim that some clock's table leaves out cannot shift the rest.
    per_clock = {rc.tau: {c.id: c for c in claims_at(clock_view(table, rc))} for rc in rule_clocks_in(table)}
    claims = list(per_clock[PRIMARY.tau].values())
    for claim in claims:
        for rc in rule_clocks_in(table):
            c = per_clock[rc.tau].get(claim.id)
            if c is None:
                continue
            claim.by_clock[rc.tau] = {
                "clock": labels[rc.tau],
                "verdict": c.verdict,
                "evidence": relabel(c.evidence, rc),
                "reason": relabel(c.reason, rc),
                "basis": c.basis,
                "all_slices": c.all_slices,
                "fits": relabel_obj(c.fits, rc),
            }
        claim.robust, claim.across_clocks = across_clocks(claim.by_clock, note)
    return claims


def across_clocks(by_clock: dict[str, dict], note: str = "") -> tuple[bool | None, str]:
    """(robust, text): whether a claim's verdict is the same at every rule clock, and if not,
    which verdict holds at which clock."""
    if len(by_clock) < 2:
        return None, f"judged at tau_rule only ({note})" if note else "judged at tau_rule only"
    verdicts: dict[str, list[str]] = {}
    for tau, entry in by_clock.items():
        verdicts.setdefault(entry["verdict"], []).append(tau)
    if len(verdicts) == 1:
        [verdict] = verdicts
        # A claim that reads no rule clock (tau_mem vs N) has the same evidence at each (so has one
        # whose every clock is censored alike).
        same = len({e["evidence"] for e in by_clock.values()}) == 1
        return True, f"{verdict} at every rule clock" + (" (the same evidence at each)" if same else "")
    return False, "; ".join(f"{v} at {', '.join(taus)}" for v, taus in verdicts.items())


def invariance(fit: Fit, df: pd.DataFrame, knob: str | None) -> tuple[str, str]:
    """Claim 3 in one slice: the knob levels' median tau_mem within a factor TOLERANCE of each
    other (max/min, bootstrap CI over seeds), the reading of claim 9 across rule families."""
    assert knob is not None  # a fit along the knob exists only when there is one
    name = knob.split(".", 1)[-1]
    levels = judge("levels", {f"{name}={v:g}": p for v, p in df.loc[fit.index].groupby(knob, sort=True)})
    return levels.verdict, levels.why


def measuring_mem(df: pd.DataFrame) -> pd.DataFrame:
    """The runs that measure tau_mem: not those stopped once the rule is learned (stop_at=rule)."""
    return df[df["train.stop_at"].fillna("none") != "rule"] if "train.stop_at" in df else df


def claims_at(results: pd.DataFrame) -> list[Claim]:
    """The seven verdicts from a sweep's results table, at the rule clock in its tau_rule
    columns (see the module docstring for the rules)."""
    df = finished(results)
    fams = set(df["model.family"]) if "model.family" in df else set()
    dit = df[df["model.family"] == "dit"] if "dit" in fams else df
    # Claims 1-6 and 8 compare levels of one rule: the sweep's most common task (claim 9 the rest).
    primary = dit["task"].value_counts().idxmax() if "task" in dit and len(dit) else None
    main = dit[dit["task"] == primary] if primary is not None else dit
    knob = knob_column(main) if len(main) else None
    kname = knob.split(".", 1)[1] if knob else "complexity"
    claims = []

    mem = measuring_mem(main)

    def add(i: int, text: str, tested: list[tuple[Fit, str, str]], missing: str) -> None:
        verdict, evidence, reason = combine(tested, missing)
        fits = [f.to_dict() for f, _, _ in tested]
        claims.append(Claim(i, text, evidence, verdict, reason, fits, basis=basis(i, verdict, reason)))

    def add_knob(i: int, text: str, tested: list[tuple[Fit, str, str]], runs: pd.DataFrame) -> None:
        k = judge_knob_claim(i, tested, f"no runs vary {kname}", runs, knob)
        fits = [f.to_dict() for f in k.fits]
        claims.append(Claim(i, text, k.evidence, k.verdict, k.reason, fits, basis=k.basis, all_slices=k.all_slices))

    tested = [(f, *direction(f, +1)) for f in _fits(main, knob, "tau_rule")]
    add_knob(1, f"tau_rule increases with complexity {kname}", tested, main)
    add(
        2,
        "tau_rule decreases with capacity (depth, width)",
        [(f, *direction(f, -1)) for x in ("model.depth", "model.width") for f in _fits(main, x, "tau_rule")],
        "no runs vary model.depth or model.width",
    )
    add_knob(
        3,
        f"tau_mem nearly invariant to the rule ({kname})",
        [(f, *invariance(f, mem, knob)) for f in _fits(mem, knob, "tau_mem")],
        mem,
    )
    add(
        4,
        "tau_mem grows nearly linearly with N (log-log slope ~ 1)",
        [(f, *band(f, 1.0, LINEAR_TOL)) for f in _fits(mem, "data.N", "tau_mem")],
        "no runs vary data.N",
    )
    add(
        5,
        "the innovation window widens with N",
        [(f, *direction(f, +1)) for f in _fits(mem, "data.N", "window_log10")],
        "no runs vary data.N",
    )
    claims.append(claim_6(mem, knob, kname))
    claims.append(claim_7(df, fams))
    verdict, evidence, reason = claim_8(main, knob)
    text = f"depth extends the range of learnable {kname}, but not without limit"
    claims.append(Claim(8, text, evidence, verdict, reason, basis="learnability map"))
    verdict, evidence, reason = claim_9(measuring_mem(dit))
    text = "tau_mem nearly invariant across rule families of equal population"
    claims.append(Claim(9, text, evidence, verdict, reason, basis="rules learned before copying, judged apart"))
    for claim in claims[-2:]:
        if claim.verdict == INCONCLUSIVE and claim.reason.startswith(("no ", "not a ")):
            claim.basis = "no evidence"
    return claims


def claim_6(df: pd.DataFrame, knob: str | None, kname: str) -> Claim:
    """The window narrows with complexity (judged as claims 1 and 3: on learned slices when
    there are any) and can vanish (in any run: a window vanishes where the rule is learned only
    by copying, so that part cannot rest on learned rules)."""
    tested = [(f, *direction(f, -1)) for f in _fits(df, knob, "window_log10")]
    k = judge_knob_claim(6, tested, f"no runs vary {kname}", df, knob)
    verdict, evidence, reason = k.verdict, k.evidence, k.reason
    if knob and len(df):
        vanished = df[df["window_vanished"].fillna(False).astype(bool)]
        where = sorted(set(vanished[knob])) if len(vanished) else []
        evidence += f" | vanished in {len(vanished)}/{len(df)} runs" + (f" (at {kname}={where})" if where else "")
        if verdict == SUPPORTED and vanished.empty:
            verdict, reason = INCONCLUSIVE, reason + "; narrows, but never vanished in the tested range"
    return Claim(
        6,
        f"the window narrows with complexity ({kname}) and can vanish",
        evidence,
        verdict,
        reason,
        [f.to_dict() for f in k.fits],
        basis=k.basis,
        all_slices=k.all_slices,
    )


def family_structure(df: pd.DataFrame) -> tuple[str, str]:
    """('shows' | 'contradicts' | 'unclear', evidence) for one family's runs."""
    both = df[~df["tau_rule_censored"].fillna(True).astype(bool) & ~df["tau_mem_censored"].fillna(True).astype(bool)]
    open_ = int((~both["window_vanished"].fillna(False).astype(bool)).sum())
    fits = fit_relation(df, "data.N", "tau_mem")
    dirs = [direction(f, +1)[0] for f in fits]
    ev = f"window open in {open_}/{len(both)} runs with both clocks; " + (
        "; ".join(f"{f.label()}: {f.evidence()}" for f in fits) if fits else "no tau_mem vs N fit"
    )
    if (len(both) and open_ < len(both) / 2) or NOT_SUPPORTED in dirs:
        return "contradicts", ev
    if len(both) and open_ > len(both) / 2 and dirs and all(d == SUPPORTED for d in dirs):
        return "shows", ev
    return "unclear", ev


CLAIM7_FAMILIES = ("dit", "gpt", "mdm")  # claim 7 compares every family to the first
OFFSET_BOOT = 2000  # bootstrap replicates of each offset's CI


def family_available(family: str) -> bool:
    return gpt_available() if family == "gpt" else family in _registered()


def _registered() -> set[str]:
    from twoclocks.models import FAMILIES

    return set(FAMILIES)


def family_offsets(df: pd.DataFrame, family: str, ref: str = "dit", seed: int = 0) -> list[str]:
    """Offsets of `family` from `ref` at every (knob, N, depth, width) both ran: the difference
    of mean log10 tau_rule and of mean log10 tau_mem (uncensored runs), with a 95% percentile
    bootstrap CI that resamples each family's runs (seeds) independently."""
    knob = knob_column(df)
    keys = [c for c in (knob, "data.N", "model.depth", "model.width") if c and c in df]
    rng = np.random.default_rng(seed)
    out = []
    a, b = df[df["model.family"] == family], df[df["model.family"] == ref]
    shared = sorted(set(map(tuple, a[keys].to_numpy().tolist())) & set(map(tuple, b[keys].to_numpy().tolist())))
    for cell in shared:
        where = " ".join(f"{k.split('.', 1)[1]}={v}" for k, v in zip(keys, cell))
        parts = []
        for clock in ("tau_rule", "tau_mem"):
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


def claim_7(df: pd.DataFrame, fams: set[str]) -> Claim:
    text = "the same structure in all three families (DiT, GPT, MDM)"
    missing = [f for f in CLAIM7_FAMILIES if f not in fams or not family_available(f)]
    if missing:
        why = "; ".join(f"no {f} runs" for f in missing)
        return Claim(7, text, why, INCONCLUSIVE, f"inconclusive: {why}")
    res = {f: family_structure(df[df["model.family"] == f]) for f in CLAIM7_FAMILIES}
    states = {f: s for f, (s, _) in res.items()}
    if all(s == "shows" for s in states.values()):
        verdict = SUPPORTED
    elif "shows" in states.values() and "contradicts" in states.values():
        verdict = NOT_SUPPORTED
    else:
        verdict = INCONCLUSIVE
    offsets = [o for f in CLAIM7_FAMILIES[1:] for o in family_offsets(df, f)]
    evidence = " | ".join(f"{f}: {ev}" for f, (_, ev) in res.items())
    evidence += " | offsets (95% bootstrap CI over seeds): " + ("; ".join(offsets) or "no shared N and G")
    reason = (
        ", ".join(f"{f}: {s}" for f, s in states.items())
        + " (structure = window open in most runs and tau_mem rising with N)"
    )
    return Claim(7, text, evidence, verdict, reason)


def judged_claims() -> list[str]:
    """The claims `reproduce` judges, one line each, from the claims module's own list (an
    entry may continue on indented lines)."""
    entries: list[str] = []
    for line in (__doc__ or "").splitlines():
        start = re.match(r"^ {2}(\d)\. (.+)$", line)
        if start:
            entries.append(f"({start.group(1)}) {start.group(2).strip()}")
        elif entries and line.startswith(" " * 20) and not line.strip().startswith(tuple("0123456789")):
            entries[-1] += " " + line.strip()
        elif entries and not line.strip():
            break
    return [re.sub(r"  +", " -- ", e) for e in entries]


# ----- output ---------------------------------------------------------------------------------------
def write_claims(claims: list[Claim], out: Path, scale: str | None = None) -> None:
    rows = []
    for c in claims:
        row = {k: v for k, v in asdict(c).items() if k not in ("fits", "by_clock")}
        row.update({f"verdict_{tau}": e["verdict"] for tau, e in c.by_clock.items()})
        rows.append(row)
    write_table(out / "claims.csv", pd.DataFrame(rows))
    write_json(out / "claims.json", {"scale": scale, "rules": __doc__, "claims": [asdict(c) for c in claims]})


def claims_text(claims: list[Claim]) -> str:
    """One row per claim: claim | verdict, then its evidence and the reason, indented."""
    width = max(len(c.claim) for c in claims) + 6
    lines = [f"{'claim':<{width}}verdict", "-" * (width + 13)]
    for c in claims:
        lines.append(f"({c.id}) {c.claim:<{width - 4}}{c.verdict}")
        lines.append(f"      evidence: {c.evidence}")
        lines.append(f"      why: {c.reason}")
        if c.basis:
            lines.append(f"      basis: {c.basis}")
        if c.all_slices and c.all_slices != f"{c.verdict} ({c.basis})":
            lines.append(f"      over every slice, learned or not: {c.all_slices}")
        if len(c.by_clock) > 1:
            at = " | ".join(f"{tau}: {e['verdict']}" for tau, e in c.by_clock.items())
            lines.append(f"      at each rule clock: {at} -> {c.across_clocks}")
    lines += ["", *robustness_note(claims)]
    return "\n".join(lines)


def robustness_note(claims: list[Claim]) -> list[str]:
    """The closing note: which verdicts survive the choice of rule clock and which do not."""
    judged = [c for c in claims if len(c.by_clock) > 1]
    if not judged:
        return [f"Rule clocks: {claims[0].across_clocks}." if claims else "No claims."]
    clocks = "; ".join(e["clock"] for e in judged[0].by_clock.values())
    robust = [str(c.id) for c in judged if c.robust]
    fragile = [f"{c.id} ({c.across_clocks})" for c in judged if not c.robust]
    return [
        f"Rule clocks: {clocks}.",
        f"Robust to the rule clock (same verdict at each): {', '.join(robust) or 'none'}.",
        f"Depend on the rule clock: {', '.join(fragile) or 'none'}.",
    ]
