"""`twoclocks reproduce`'s verdicts: every registered claim (registry.py; the paper's nine in
paper.py) judged at every rule clock, and written as claims.json, claims.csv and text.

Rule clocks: every claim is judged at each rule clock of twoclocks.clocks.RULE_CLOCKS with that
clock's window. The claim's verdict is the one at tau_rule; by_clock has each clock's, and
robust says whether they are all the same (twoclocks.sweeps.claims.rule_clocks).

Memorisation levels: every claim is judged as well, at tau_rule, with copying read at near
copies -- tau_mem_near in place of tau_mem, every window recomputed against it. by_mem has the
verdict at each level and mem_robust whether they agree (twoclocks.sweeps.claims.mem_levels).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from twoclocks.clocks import PRIMARY, RULE_CLOCKS, mem_levels
from twoclocks.formats import rule_clocks_of
from twoclocks.io import write_json, write_table
from twoclocks.sweeps.claims import paper  # noqa: F401  (registers the paper's claims)
from twoclocks.sweeps.claims.learned import judge_fits, judge_knob_claim
from twoclocks.sweeps.claims.mem_levels import judge_mem_levels, mem_note
from twoclocks.sweeps.claims.registry import CLAIMS, READS, ClaimDefinition, Outcome, Runs, knob_claims
from twoclocks.sweeps.claims.rule_clocks import clock_labels, clock_view, relabel, relabel_obj
from twoclocks.sweeps.claims.verdicts import DECISION_RULES, INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED
from twoclocks.sweeps.results import with_later_clocks

__all__ = ["INCONCLUSIVE", "NOT_SUPPORTED", "SUPPORTED", "Claim", "evaluate_claims", "write_claims", "claims_text"]


@dataclass
class Claim:
    """A registered claim's verdict (one entry of claims.json)."""

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
    all_slices: str = ""  # a knob claim's verdict over every slice, learned or not, and its basis
    across_clocks: str = ""  # that, or which verdict holds at which rule clock
    # At tau_rule, the verdict at every memorisation level (exact, near copies: mem_levels.py).
    by_mem: dict[str, dict] = field(default_factory=dict)
    mem_robust: bool | None = None  # the same verdict at every level (None: judged at tau_mem only)
    across_mem: str = ""  # that, or which verdict holds at which level


def evaluate_claims(results: pd.DataFrame, root: str | Path | None = None) -> list[Claim]:
    """Every claim judged at every rule clock (tau_rule, tau_rule_low, tau_group).

    Each claim is written against tau_rule's columns and judged on `clock_view(table, clock)`,
    in which those columns hold the other clock's values, so a new claim is judged at every
    rule clock as well. A table made before the group-level clocks existed gets them from the
    run directories under `root` (the sweep directory). The returned claims carry the verdict
    at tau_rule in their main fields and every rule clock's in `by_clock`.
    """
    table, note = with_later_clocks(results, root)
    labels = clock_labels(table)
    # Matched by claim id, so a claim that some clock's table leaves out cannot shift the rest.
    per_clock = {rc.tau: {c.id: c for c in claims_at(clock_view(table, rc))} for rc in rule_clocks_of(table.columns)}
    claims = list(per_clock[PRIMARY.tau].values())
    for claim in claims:
        for rc in rule_clocks_of(table.columns):
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
    judge_mem_levels(table, claims, claims_at)
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


def judge_claim(claim: ClaimDefinition, runs: Runs) -> Claim:
    """One claim at the rule clock in the tau_rule columns of `runs`."""
    df = READS[claim.reads][1](runs)
    tested = claim.test(df, runs)
    if isinstance(tested, Outcome):
        out = tested
        out.basis = claim.fixed_basis(out)
    else:
        missing = claim.missing.format(knob=runs.kname)
        out = judge_knob_claim(tested, missing, df, runs.knob) if claim.compares_knob else judge_fits(tested, missing)
    fits, text = [f.to_dict() for f in out.fits], claim.text(runs)
    return Claim(
        claim.number, text, out.evidence, out.verdict, out.reason, fits, basis=out.basis, all_slices=out.all_slices
    )


def claims_at(results: pd.DataFrame) -> list[Claim]:
    """Every registered claim's verdict from a sweep's results table, at the rule clock in its
    tau_rule columns (decision rules: `rules_text`)."""
    runs = Runs.of(results)
    return [judge_claim(c, runs) for c in CLAIMS]


def rules_text() -> str:
    """The decision rules, from the registered claims and verdicts.py (claims.json "rules")."""
    claims = "\n".join(f"  {c.number}. {c.text()}: {c.rule}" for c in CLAIMS)
    reads: dict[str, list[str]] = {}
    for c in CLAIMS:
        reads.setdefault(c.reads, []).append(str(c.number))
    scope = "; ".join(f"claim{'s' * (len(n) > 1)} {', '.join(n)}: {READS[r][0]}" for r, n in reads.items())
    knob = ", ".join(map(str, knob_claims()))
    clocks = ", ".join(rc.label() for rc in RULE_CLOCKS)
    levels = ", ".join(mc.label() for mc in mem_levels())
    return (
        f"Claims (arXiv 2605.10019) and the fits that test them (x on log10 scale):\n{claims}\n"
        f"Runs read: {scope}.\n"
        f"Claims {knob} compare levels of the knob: judged on the slices whose every level was learned "
        "before copying when there are any, and over every slice as well (all_slices).\n"
        f"{DECISION_RULES}\n"
        f"Rule clocks: every claim is judged at each of {clocks}, with that clock's window; the "
        "claim's verdict is the one at tau_rule, by_clock has each clock's, robust whether they agree.\n"
        f"Memorisation levels: every claim is judged as well, at tau_rule, at each of {levels}, with "
        "every window recomputed against that level's clock; by_mem has each level's verdict, "
        "mem_robust whether they agree.\n"
    )


def judged_claims() -> list[str]:
    """The claims `reproduce` judges, one line each (the dry run's list)."""
    return [f"({c.number}) {c.text()} -- {c.rule}" for c in CLAIMS]


# ----- output ---------------------------------------------------------------------------------------
def write_claims(claims: list[Claim], out: Path, scale: str | None = None) -> None:
    rows = []
    for c in claims:
        row = {k: v for k, v in asdict(c).items() if k not in ("fits", "by_clock", "by_mem")}
        row.update({f"verdict_{tau}": e["verdict"] for tau, e in [*c.by_clock.items(), *c.by_mem.items()]})
        rows.append(row)
    write_table(out / "claims.csv", pd.DataFrame(rows))
    write_json(out / "claims.json", {"scale": scale, "rules": rules_text(), "claims": [asdict(c) for c in claims]})


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
        if len(c.by_mem) > 1:
            at = " | ".join(f"{tau}: {e['verdict']}" for tau, e in c.by_mem.items())
            lines.append(f"      at each memorisation level: {at} -> {c.across_mem}")
    lines += ["", *robustness_note(claims)]
    return "\n".join(lines)


def robustness_note(claims: list[Claim]) -> list[str]:
    """The closing note: which verdicts survive the choice of rule clock and which do not."""
    judged = [c for c in claims if len(c.by_clock) > 1]
    if not judged:
        return [f"Rule clocks: {claims[0].across_clocks}." if claims else "No claims.", *mem_note(claims)]
    clocks = "; ".join(e["clock"] for e in judged[0].by_clock.values())
    robust = [str(c.id) for c in judged if c.robust]
    fragile = [f"{c.id} ({c.across_clocks})" for c in judged if not c.robust]
    return [
        f"Rule clocks: {clocks}.",
        f"Robust to the rule clock (same verdict at each): {', '.join(robust) or 'none'}.",
        f"Depend on the rule clock: {', '.join(fragile) or 'none'}.",
        *mem_note(claims),
    ]
