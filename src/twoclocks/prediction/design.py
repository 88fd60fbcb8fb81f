"""The terms of a law and their design matrix: which variables a form has, how each becomes
columns, which the fitted runs can tell apart, and the prior on each coefficient.

    log10 tau = a_family + a_layout + a_levels + b logN + c bits + f . features + capacity + u_rule + ...

`features` are the rule's measured features (`features.RULE_FEATURES`), which enter where the
runs hold several rules (with one rule they are functions of its size, which `bits` carries).
u_rule is the rule's own offset, a random effect: one column per rule the runs hold, each with
a normal prior of sd RULE_SD around 0, so that a rule with runs gets the offset its runs give
(shrunk toward the features' prediction by how few they are) and a rule with none gets 0, the
features' prediction, and an interval widened by the calibration's term for an unseen rule.

A batch law fixes the exponent of the batch (`BATCH_LAWS`): "free" fits it; "per_sample" is
the steps-per-sample law tau_steps = tau_epochs N / batch, a coefficient of -1 on log10 batch,
so that a law of tau in epochs is the same for every batch.

A rule law says what describes a rule beyond its offset (`RULE_LAWS`): "features", its size and
measured features; "size", its size alone (the features left out: on nine rules, four features
can fit the rules' offsets and miss a rule held out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from twoclocks.prediction.features import RULE_FEATURES
from twoclocks.prediction.tobit import PRIOR_SD
from twoclocks.prediction.variables import CATEGORICAL, NUMERIC

RANDOM = ("task",)  # terms with a prior around 0 (random effects), identified by that prior
CAPACITY = tuple(n for n in NUMERIC if n != "logN")
BASE = ("1", "family", "layout", "levels", "logN", "bits", *RULE_FEATURES, *CAPACITY, *RANDOM)
FORMS: dict[str, tuple[str, ...]] = {
    "power": BASE,
    "family": (*BASE, "logN:family"),
    "regime": (*BASE, "logN:family", "logN:bits"),
    "curved": (*BASE, "logN:family", "logN:bits", "logN^2"),
    "learned": (*BASE, "logN:family", "logN:bits", "learned", "logN:learned"),
}
RULE_LAWS: dict[str, tuple[str, ...]] = {  # the rule features each rule law leaves out
    "features": (),
    "size": RULE_FEATURES,
}
RULE_SD = 0.5  # decades: the prior spread of a rule's own offset around its features' law
BATCH_LAWS: dict[str, tuple[tuple[str, float], ...]] = {
    "free": (),
    "per_sample": (("log2_batch", -math.log10(2.0)),),  # tau proportional to 1 / batch
}


@dataclass(frozen=True)
class Design:
    """The columns of one form over the variables of the fitted runs."""

    terms: tuple[str, ...]  # the form's terms that vary in the fitted runs
    levels: dict[str, list[str]]  # categorical -> levels seen, the first is the reference
    centres: dict[str, float]  # numeric -> mean over the fitted runs
    fixed: tuple[tuple[str, float], ...] = ()  # variables with a fixed coefficient (BATCH_LAWS)

    @classmethod
    def learn(cls, form: tuple[str, ...], v: pd.DataFrame, batch: str = "free", rule: str = "features") -> Design:
        levels = {c: sorted(v[c].unique()) for c in CATEGORICAL if c in v}
        numeric = [*NUMERIC, "bits", *RULE_FEATURES, "learned"]
        centres = {c: _mean(v[c]) for c in numeric if c in v}
        fixed = BATCH_LAWS[batch]
        terms = tuple(t for t in form if t not in dict(fixed) and t not in RULE_LAWS[rule])
        if len(levels.get("task", [])) < 2:  # one rule: its features are functions of its size
            terms = tuple(t for t in terms if t not in RULE_FEATURES and t not in RANDOM)
        return cls(identified(cls(terms, levels, centres, fixed), v), levels, centres, fixed)

    def columns(self, term: str, v: pd.DataFrame) -> np.ndarray:
        """The (runs, k) block of one term (a numeric variable centred; an unknown value, a
        rule feature of a rule named by path, at the centre)."""
        if term == "1":
            return np.ones((len(v), 1))
        if ":" in term:
            a, b = term.split(":")
            return self.columns(a, v) * self.columns(b, v)
        if term == "logN^2":
            return self.columns("logN", v) ** 2
        if term in self.levels:
            shown = self.levels[term] if term in RANDOM else self.levels[term][1:]
            block = np.stack([(v[term] == level).to_numpy(float) for level in shown], axis=1) if shown else None
            return block if block is not None else np.zeros((len(v), 1))
        return np.nan_to_num(v[term].to_numpy(float) - self.centres[term])[:, None]

    def matrix(self, v: pd.DataFrame) -> np.ndarray:
        return np.concatenate([self.columns(t, v) for t in self.terms], axis=1)

    def offset(self, v: pd.DataFrame) -> np.ndarray:
        """The fixed part of log10 tau (BATCH_LAWS), one value per row of `v`."""
        out = np.zeros(len(v))
        for name, coefficient in self.fixed:
            out += coefficient * v[name].to_numpy(float)
        return out

    def prior_sd(self) -> np.ndarray:
        """The prior sd of each column's coefficient: none on the intercept, RULE_SD on a rule's
        offset, PRIOR_SD on every other."""
        sds = [
            np.full(len(self.term_labels(t)), math.inf if t == "1" else RULE_SD if t in RANDOM else PRIOR_SD)
            for t in self.terms
        ]
        return np.concatenate(sds)

    def term_labels(self, term: str) -> list[str]:
        """One label per column of `columns(term)`, e.g. 'logN:family=gpt'."""
        if ":" in term:
            a, b = term.split(":")
            return [f"{x}:{y}" for x in self.term_labels(a) for y in self.term_labels(b)]
        if term in RANDOM:
            return [f"{term}={level}" for level in self.levels[term]]
        if term in self.levels and len(self.levels[term]) > 1:
            return [f"{term}={level}" for level in self.levels[term][1:]]
        return [term]

    def labels(self) -> list[str]:
        return [label for t in self.terms for label in self.term_labels(t)]

    def to_dict(self) -> dict:
        return {"terms": list(self.terms), "levels": self.levels, "centres": self.centres, "fixed": self.fixed}

    @classmethod
    def from_dict(cls, d: dict) -> Design:
        fixed = tuple((str(name), float(c)) for name, c in d.get("fixed", ()))
        return cls(tuple(d["terms"]), {k: list(v) for k, v in d["levels"].items()}, dict(d["centres"]), fixed)


def _mean(column: pd.Series) -> float:
    """The mean of the known values (0 where none is known: the column is then all centre)."""
    values = pd.to_numeric(column).to_numpy(float)
    return float(np.nanmean(values)) if np.isfinite(values).any() else 0.0


def identified(design: Design, v: pd.DataFrame) -> tuple[str, ...]:
    """The terms of `design`, in order, that the runs `v` can tell apart from the terms before
    them: each kept term raises the rank of the design matrix by its number of columns. A term
    that varies but lies in the span of the others (an exponent per rule size where every other
    size has one N; an exponent per regime where one regime has one N per family) would be set
    by the coefficients' prior alone, and extrapolate as the prior says, not as any run does.
    A random term (RANDOM) is identified by its prior, by design: kept."""
    kept: list[str] = []
    block = np.ones((len(v), 0))
    for term in design.terms:
        if term in RANDOM:
            kept.append(term)
            continue
        trial = np.concatenate([block, design.columns(term, v)], axis=1)
        if np.linalg.matrix_rank(trial) == trial.shape[1]:
            kept.append(term)
            block = trial
    return tuple(kept)
