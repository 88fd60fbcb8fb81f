"""The claims `reproduce` judges, one `ClaimDefinition` each, in one registry (`CLAIMS`).

A definition says what the claim states, which runs it reads (`READS`), how it is tested,
whether it compares levels of the rule's knob, and what its verdict rests on (its basis).
Everything that lists claims -- the verdicts (evaluate.py), claims.json and claims.csv, the
text `reproduce` prints, its dry run, the report's claims table -- iterates this registry, so
a new claim is one `register(ClaimDefinition(...))`; the paper's nine are in paper.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from twoclocks.clocks import MEM
from twoclocks.clocks.stopat import stop_measures
from twoclocks.sweeps.claims.fits import Fit, finished, knob_column
from twoclocks.sweeps.claims.verdicts import INCONCLUSIVE
from twoclocks.sweeps.claims.views import At

# A fit and what one decision rule made of it: (fit, verdict, why).
Tested = list[tuple[Fit, str, str]]


@dataclass(frozen=True)
class Runs:
    """The finished runs of a results table, cut the ways claims read them."""

    every: pd.DataFrame  # every finished run
    reference: pd.DataFrame  # the DiT's runs (every run when the sweep has no DiT)
    main: pd.DataFrame  # the reference runs of the sweep's main task (its most common)
    knob: str | None  # the column of the main task's complexity knob ("task.G"), if it varies
    kname: str  # the knob's name ("G"), "complexity" when there is none

    @classmethod
    def of(cls, results: pd.DataFrame) -> Runs:
        df = finished(results)
        fams = set(df["model.family"]) if "model.family" in df else set()
        reference = df[df["model.family"] == "dit"] if "dit" in fams else df
        primary = reference["task"].value_counts().idxmax() if "task" in reference and len(reference) else None
        main = reference[reference["task"] == primary] if primary is not None else reference
        knob = knob_column(main) if len(main) else None
        return cls(df, reference, main, knob, knob.split(".", 1)[1] if knob else "complexity")


def measuring_mem(df: pd.DataFrame) -> pd.DataFrame:
    """The runs that measure tau_mem: not those stopped once other clocks settle (stop_at=rule)."""
    if "train.stop_at" not in df:
        return df
    return df[df["train.stop_at"].map(lambda v: stop_measures(v, MEM.tau)).astype(bool)]


# What a claim reads: name -> (in words, the runs).
READS: dict[str, tuple[str, Callable[[Runs], pd.DataFrame]]] = {
    "main": ("the DiT runs of the sweep's main task", lambda r: r.main),
    "main, measuring tau_mem": (
        "the DiT runs of the main task, less those stopped once the rule was learned",
        lambda r: measuring_mem(r.main),
    ),
    "every task, measuring tau_mem": (
        "the DiT runs of every task, less those stopped once the rule was learned",
        lambda r: measuring_mem(r.reference),
    ),
    "every family": ("every finished run, of every family", lambda r: r.every),
}


@dataclass
class Outcome:
    """A claim's verdict at one pair of clocks, with what it rests on."""

    verdict: str
    evidence: str
    reason: str
    fits: list[Fit] = field(default_factory=list)
    basis: str = ""
    all_slices: str = ""  # knob claims: "<verdict> (<basis>)" over every slice, learned or not


@dataclass(frozen=True)
class ClaimDefinition:
    """One claim. `test(runs_read, runs, at)`, judged at the clocks `at` (views.At), returns
    either the fits it tested (`Tested`), which are combined by the rules of verdicts.py -- on
    learned slices first when `compares_knob` (learned.judge_knob_claim) -- or a finished
    `Outcome`. `basis`: for a test that returns an
    Outcome without one, the fixed text of what it rests on ("" for none), replaced by "no
    evidence" when the claim is inconclusive for want of runs."""

    number: int
    statement: str  # "{knob}" stands for the knob's name
    reads: str  # a key of READS
    rule: str  # how the test decides, in words (claims.json "rules", the dry run)
    test: Callable[[pd.DataFrame, Runs, At], Tested | Outcome]
    compares_knob: bool = False  # compares levels of the rule's knob within slices
    missing: str = ""  # the reason when the test finds no fit ("{knob}" as above)
    basis: str = ""

    def text(self, runs: Runs | None = None) -> str:
        return self.statement.format(knob=runs.kname if runs else "G")

    def fixed_basis(self, outcome: Outcome) -> str:
        if outcome.basis or not self.basis:
            return outcome.basis
        no_runs = outcome.verdict == INCONCLUSIVE and outcome.reason.startswith(("no ", "not a "))
        return "no evidence" if no_runs else self.basis


CLAIMS: list[ClaimDefinition] = []


def register(claim: ClaimDefinition) -> ClaimDefinition:
    """Add a claim to those every output lists (kept in order of number)."""
    if claim.reads not in READS:
        raise ValueError(f"claim {claim.number} reads {claim.reads!r}; it may read one of {list(READS)}")
    if any(c.number == claim.number for c in CLAIMS):
        raise ValueError(f"claim {claim.number} is registered twice")
    CLAIMS.append(claim)
    CLAIMS.sort(key=lambda c: c.number)
    return claim


def knob_claims() -> tuple[int, ...]:
    """The numbers of the claims that compare levels of the rule's complexity."""
    return tuple(c.number for c in CLAIMS if c.compares_knob)
