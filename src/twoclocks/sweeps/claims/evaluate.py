"""`twoclocks reproduce`'s verdicts: every registered claim (registry.py; the paper's nine in
paper.py) judged at every pair of clocks of views.py, and written as claims.json, claims.csv and
text.

Rule clocks: every claim is judged at each rule clock of twoclocks.clocks.RULE_CLOCKS with that
clock's window. The claim's verdict is the one at tau_rule; by_clock has each clock's, and
robust says whether they are all the same.

Memorisation levels: every claim is judged as well, at tau_rule, with copying read at near
copies -- tau_mem_near in place of tau_mem, every window measured to it. by_mem has the verdict
at each level and mem_robust whether they agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from twoclocks.clocks import MEM, PRIMARY, RULE_CLOCKS, mem_levels
from twoclocks.core.io import write_json, write_table
from twoclocks.sweeps.claims import paper  # noqa: F401  (registers the paper's claims)
from twoclocks.sweeps.claims.fits import mem_levels_in
from twoclocks.sweeps.claims.learned import judge_fits, judge_knob_claim
from twoclocks.sweeps.claims.registry import CLAIMS, READS, ClaimDefinition, Outcome, Runs, knob_claims
from twoclocks.sweeps.claims.verdicts import DECISION_RULES, INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED
from twoclocks.sweeps.claims.views import PAPER, At, across, clock_labels, table_at, views
from twoclocks.sweeps.results import with_later_clocks
from twoclocks.sweeps.sweepdir import SweepDir

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
    # verdict at every rule clock: {tau: {clock, verdict, evidence, reason, ...}}.
    by_clock: dict[str, dict] = field(default_factory=dict)
    robust: bool | None = None  # the same verdict at every rule clock (None: judged at one only)
    basis: str = ""  # what the verdict rests on (learned.basis): fits on learned rules, ...
    all_slices: str = ""  # a knob claim's verdict over every slice, learned or not, and its basis
    across_clocks: str = ""  # that, or which verdict holds at which rule clock
    # At tau_rule, the verdict at every memorisation level (exact, near copies).
    by_mem: dict[str, dict] = field(default_factory=dict)
    mem_robust: bool | None = None  # the same verdict at every level (None: judged at tau_mem only)
    across_mem: str = ""  # that, or which verdict holds at which level

    def entry(self, label: str, slices: bool = True) -> dict:
        """This verdict as an entry of by_clock (by_mem: `slices` False, no all_slices),
        labelled with the clock it was judged at."""
        fields = ("verdict", "evidence", "reason", "basis", "all_slices", "fits")
        return {"clock": label, **{k: getattr(self, k) for k in fields if slices or k != "all_slices"}}


def evaluate_claims(table: pd.DataFrame) -> list[Claim]:
    """Every claim judged at every pair of clocks of `views`; the returned claims carry the
    verdict at tau_rule and tau_mem in their main fields, every rule clock's in `by_clock` and
    every memorisation level's in `by_mem`. `table` as `read_results` gives it (the current
    format, or an older one whose runs could not give the later clocks: those are judged at
    the clocks it has, and the verdict says which it lacks)."""
    _, note = with_later_clocks(table, None)  # what the table lacks, if anything
    pairs = views(table)
    tables = {mc: table_at(table, mc) for mc in dict.fromkeys(at.mem for at in pairs)}
    runs = {mc: Runs.of(t) for mc, t in tables.items()}
    # Matched by claim id, so a claim that some view's table leaves out cannot shift the rest.
    judged = {at: {c.id: c for c in claims_at(tables[at.mem], at, runs[at.mem])} for at in pairs}
    labels, levels = clock_labels(table), mem_levels_in(table)
    claims = list(judged[PAPER].values())
    for claim in claims:
        at = {a: judged[a][claim.id] for a in judged if claim.id in judged[a]}
        claim.by_clock = {a.rule.tau: c.entry(labels[a.rule.tau]) for a, c in at.items() if a.mem == MEM}
        by_mem = [(a.mem.tau, c) for a, c in at.items() if a.rule == PRIMARY and a.mem in levels]
        claim.by_mem = {tau: c.entry(labels[tau], slices=False) for tau, c in by_mem}
        alone = f"judged at {PRIMARY.tau} only" + (f" ({note})" if note else "")
        claim.robust, claim.across_clocks = across(claim.by_clock, "rule clock", alone)
        alone = f"judged at {MEM.tau} only (no run measures near copies)"
        claim.mem_robust, claim.across_mem = across(claim.by_mem, "memorisation level", alone)
    return claims


def judge_claim(claim: ClaimDefinition, runs: Runs, at: At) -> Claim:
    """One claim at the clocks `at`."""
    df = READS[claim.reads][1](runs)
    tested = claim.test(df, runs, at)
    if isinstance(tested, Outcome):
        out = tested
        out.basis = claim.fixed_basis(out)
    else:
        missing = claim.missing.format(knob=runs.kname)
        knob = claim.compares_knob
        out = judge_knob_claim(tested, missing, df, runs.knob, at) if knob else judge_fits(tested, missing, df, at)
    fits, text = [f.to_dict() for f in out.fits], claim.text(runs)
    return Claim(
        claim.number, text, out.evidence, out.verdict, out.reason, fits, basis=out.basis, all_slices=out.all_slices
    )


def claims_at(results: pd.DataFrame, at: At = PAPER, runs: Runs | None = None) -> list[Claim]:
    """Every registered claim's verdict from a sweep's results table at the clocks `at`
    (decision rules: `rules_text`)."""
    runs = runs or Runs.of(results)
    return [judge_claim(c, runs, at) for c in CLAIMS]


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
    write_table(SweepDir(out).claims_table, pd.DataFrame(rows))
    write_json(SweepDir(out).claims, {"scale": scale, "rules": rules_text(), "claims": [asdict(c) for c in claims]})


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
    """The closing note: which verdicts survive the choice of rule clock and of memorisation
    level, and which do not."""
    judged = [c for c in claims if len(c.by_clock) > 1]
    if not judged:
        lines = [f"Rule clocks: {claims[0].across_clocks}." if claims else "No claims."]
    else:
        lines = [f"Rule clocks: {'; '.join(e['clock'] for e in judged[0].by_clock.values())}."]
        rules = [(c.id, c.robust, c.across_clocks) for c in judged]
        lines += _split(rules, "Robust to the rule clock (same verdict at each)", "Depend on the rule clock")
    levels = [(c.id, c.mem_robust, c.across_mem) for c in claims if len(c.by_mem) > 1]
    if levels:
        lines += _split(levels, "Robust to the memorisation level (exact and near copies)", "Depend on it")
    return lines


def _split(judged: list[tuple[int, bool | None, str]], robust: str, depend: str) -> list[str]:
    """The claims (id, robust, across) robust to a choice of clock, and those that depend on it."""
    ok = [str(i) for i, same, _ in judged if same]
    fragile = [f"{i} ({text})" for i, same, text in judged if not same]
    return [f"{robust}: {', '.join(ok) or 'none'}.", f"{depend}: {', '.join(fragile) or 'none'}."]
