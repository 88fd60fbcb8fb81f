"""Laws of the clocks: for each clock, log10 tau as a linear function of a run's variables,
fitted to finished runs with their censored clocks (`tobit`), its form chosen on held-out runs,
its uncertainty from a bootstrap over seeds.

The forms (FORMS), in the variables of `twoclocks.prediction.variables` (each numeric variable
centred at its mean over the fitted runs; a term whose variable never varies is left out):

    power     log10 tau = a_family + a_task + b logN + c bits + capacity             (P)
              capacity = d1 log2_width + d2 log2_depth + d3 patch + d4 log2_batch + d5 log10_lr
              + a_layout + a_levels: tau = A N^b, one exponent b for every family and rule
    family    (P) + b_family logN                       an exponent per family
    regime    (P) + b_family logN + e logN bits         the exponent moves with the rule's size
    curved    regime + q logN^2                         curvature in log N
    learned   regime + g L + h L logN   (tau_mem only)  L = 1 when the rule was learned before
              copying began: the two regimes of copying, each with its own exponent

The form of each clock is the one whose held-out censored log-likelihood (five folds, each
holding out whole configs with all their seeds) is highest (`choose_form`). Two questions are
then asked of the held-out runs a fold of configs cannot ask: the batch law (each batch level
held out) and, where the runs hold three rules or more, the rule law (each rule held out):
whether the rule's measured features enter, or its size alone (`design.RULE_LAWS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from twoclocks.prediction.design import BATCH_LAWS, FORMS, RULE_LAWS, Design
from twoclocks.prediction.tobit import TobitFit, censored_logpdf, fit_tobit, fit_tobit_batch, loglik, resampled_rows
from twoclocks.prediction.variables import Observed

RULE_FORMS = ("power", "family", "regime", "curved")  # "learned" needs a rule clock to lean on
FOLDS = 5
BOOTSTRAP = 100
SEED = 20260501  # the seed of every draw a law makes: folds, bootstrap, predictive samples


@dataclass
class Law:
    """One clock's fitted law: its form, the fit to every run, and the bootstrap fits."""

    clock: str
    form: str
    design: Design
    fit: TobitFit
    draws: list[TobitFit] = field(default_factory=list)  # bootstrap over seeds
    heldout: dict[str, float] = field(default_factory=dict)  # form -> held-out log-lik per run
    runs: int = 0  # runs fitted
    seeds_per_config: float = 1.0  # k of `samples`, the mean over the fitted configs

    @property
    def dof(self) -> int:
        """Degrees of freedom of the scatter: runs less coefficients."""
        return max(self.runs - len(self.fit.beta), 1)

    @property
    def scatter(self) -> float:
        """The scatter of runs around the law: sigma with the degrees-of-freedom correction
        sqrt(n / (n - p)) (the maximum-likelihood sigma is biased low by it)."""
        return self.fit.sigma * math.sqrt(self.runs / self.dof)

    @property
    def shrinkage(self) -> float:
        k = self.seeds_per_config
        return math.sqrt(k / (k - 1)) if k > 1 else 1.0

    def samples(self, v: pd.DataFrame, per_draw: int, rng: np.random.Generator) -> np.ndarray:
        """Predictive samples of log10 tau for the single row of `v`, for each bootstrap fit b:

            y = mu(x) + c (mu_b(x) - mu(x)) + scatter * t,   t ~ Student t with n - p dof

        mu_b carries the parameters' uncertainty; c = sqrt(k / (k - 1)) undoes the shrinkage of
        a bootstrap over k seeds per config (a resample of k values with replacement keeps
        (k - 1) / k of their variance); the t (not a normal) carries the uncertainty of the
        scatter itself. The scatter is not taken from the bootstrap fits, whose sigma_b are
        shrunk the same way. A rule no fitted run has gets no offset of its own (0: the
        features' law); how far it may lie off that law (`unseen_spread`) is added by the
        prediction, after the calibration has scaled these samples' spread."""
        x = self.design.matrix(v)[0]
        mu = x @ self.fit.beta
        mus = mu + self.shrinkage * (np.array([x @ d.beta for d in self.draws]) - mu) + self.design.offset(v)[0]
        t = rng.standard_t(self.dof, (len(self.draws), per_draw))
        return (mus[:, None] + self.scatter * t).ravel()

    def unseen_spread(self, v: pd.DataFrame) -> float:
        """The sd of a new draw of the rule's own offset for the single row of `v`: the spread of
        the fitted rules' offsets (`rule_spread`) for a rule no fitted run has, else 0."""
        unseen = "task" in self.design.terms and v["task"].iloc[0] not in self.design.levels.get("task", [])
        return self.rule_spread() if unseen else 0.0

    def rule_spread(self) -> float:
        """The root mean square of the fitted rules' own offsets (the random effect `task` of
        `design`): how far a rule lies off the features' law (0 with fewer than two rules)."""
        offsets = [b for b, label in zip(self.fit.beta, self.design.labels()) if label.startswith("task=")]
        return float(np.sqrt(np.mean(np.square(offsets)))) if len(offsets) >= 2 else 0.0

    def to_dict(self) -> dict:
        """Everything a prediction reads of the law, as JSON (`from_dict` reads it back to the
        same floats, so a cached law predicts what the fit did)."""
        return {
            "clock": self.clock,
            "form": self.form,
            "design": self.design.to_dict(),
            "fit": self.fit.to_dict(),
            "draws": [d.to_dict() for d in self.draws],
            "heldout": {f: (v if math.isfinite(v) else None) for f, v in self.heldout.items()},
            "runs": self.runs,
            "seeds_per_config": self.seeds_per_config,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Law:
        design = Design.from_dict(d["design"])
        heldout = {f: (-math.inf if v is None else float(v)) for f, v in d["heldout"].items()}
        fit, draws = TobitFit.from_dict(d["fit"]), [TobitFit.from_dict(x) for x in d["draws"]]
        return cls(d["clock"], d["form"], design, fit, draws, heldout, d["runs"], d["seeds_per_config"])

    def parameter_intervals(self, level: float = 0.95) -> dict[str, tuple[float, float, float]]:
        """Each coefficient (and sigma): (estimate, lo, hi), the bootstrap percentile interval."""
        q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
        betas = np.array([d.beta for d in self.draws])
        out = {}
        for j, name in enumerate(self.design.labels()):
            lo, hi = np.percentile(betas[:, j], q)
            out[name] = (float(self.fit.beta[j]), float(lo), float(hi))
        sigma = np.percentile([d.sigma for d in self.draws], q)
        out["sigma"] = (self.fit.sigma, float(sigma[0]), float(sigma[1]))
        return out


def cells(v: pd.DataFrame) -> np.ndarray:
    """An id per run, equal for runs that differ only in their seed (numbered in order of first
    appearance)."""
    text = v.round(9).astype(str).fillna("")  # NaN: an unknown feature
    cell = np.zeros(len(v), dtype=np.int64)
    for name in text.columns:  # column by column: a row-wise join of the texts is 100x slower
        codes, seen = pd.factorize(text[name])
        cell = pd.factorize(cell * len(seen) + codes)[0]
    return cell


def fit_form(
    form: str, v: pd.DataFrame, obs: Observed, batch: str = "free", rule: str = "features"
) -> tuple[Design, TobitFit]:
    design = Design.learn(FORMS[form], v, batch, rule)
    y = obs.y - design.offset(v)
    return design, fit_tobit(design.matrix(v), y, obs.right, obs.left, prior_sd=design.prior_sd())


def predict_mu(design: Design, fit: TobitFit, v: pd.DataFrame) -> np.ndarray:
    """The law's log10 tau at each row of `v`."""
    return design.matrix(v) @ fit.beta + design.offset(v)


def heldout_loglik(
    form: str,
    v: pd.DataFrame,
    obs: Observed,
    rng: np.random.Generator,
    batch: str = "free",
    by: str | None = None,
    rule: str = "features",
) -> float:
    """Mean censored log-likelihood of held-out runs: FOLDS folds of whole configs, or (`by`, a
    variable) one fold per level of that variable."""
    if by is None:
        cell = cells(v)
        fold = (rng.permutation(cell.max() + 1) % FOLDS)[cell]
    else:
        fold = v[by].factorize()[0]
    total = []
    for k in range(fold.max() + 1):
        test = fold == k
        if not test.any() or test.all() or (by is not None and not informative_fold(test)):
            continue
        design, fit = fit_form(form, v[~test], _subset(obs, ~test), batch, rule)
        mu = predict_mu(design, fit, v[test])
        o = _subset(obs, test)
        total.append(censored_logpdf(mu, fit.sigma, o.y, o.right, o.left))
    return float(np.concatenate(total).mean()) if total else -np.inf


def informative_fold(held: np.ndarray) -> bool:
    """Whether a fold that holds out the runs `held` (bool, one per run) tests the level they
    share: it leaves at least half of the runs. The level most runs have (the base of a
    one-at-a-time design: batch 64 beside 16 and 128) would leave a thin slice that varies
    little else, so the fold would score that slice's ignorance of every other variable, not
    how a law carries to the held-out level."""
    return 2 * int(np.count_nonzero(held)) <= len(held)


def _subset(obs: Observed, mask: np.ndarray) -> Observed:
    return Observed(obs.y[mask], obs.right[mask], obs.left[mask])


def choose_form(clock: str, v: pd.DataFrame, obs: Observed) -> tuple[str, str, str, dict[str, float]]:
    """(form, batch law, rule law, held-out scores): the form with the highest held-out
    log-likelihood (same folds for every form), its batch exponent free; then, where the runs
    vary the batch, the batch law (BATCH_LAWS) of that form that predicts each batch level held
    out best (the question a batch law answers: a batch no fitted run had; the level most runs
    have is not held out, `informative_fold`); then, where three rules or more can be held out
    with the clock measured in some of their runs, the rule law (RULE_LAWS) that predicts each
    rule held out best (the question: a rule no fitted run had). A choice that would rest on
    censored runs alone is not made (the features stay): held-out rules that never reached the
    clock score best under whichever law puts them latest, right or not."""
    forms = [*RULE_FORMS, "learned"] if clock == "tau_mem" else list(RULE_FORMS)
    scores = {f: heldout_loglik(f, v, obs, np.random.default_rng(SEED)) for f in forms}
    form = max(scores, key=lambda f: scores[f])
    batch = "free"
    if v["log2_batch"].nunique() >= 2:
        batches = {b: heldout_loglik(form, v, obs, np.random.default_rng(SEED), b, "log2_batch") for b in BATCH_LAWS}
        scores.update({f"{form}+batch={b}": s for b, s in batches.items()})
        batch = max(batches, key=lambda b: batches[b])
    if measured_rules(v, obs) < 3:
        return form, batch, "features", scores
    rules = {r: heldout_loglik(form, v, obs, np.random.default_rng(SEED), batch, "task", r) for r in RULE_LAWS}
    scores.update({f"{form}+rule={r}": s for r, s in rules.items()})
    return form, batch, max(rules, key=lambda r: rules[r]), scores


def measured_rules(v: pd.DataFrame, obs: Observed) -> int:
    """The rules that a fold holding each rule out can score on measurements: their fold is
    informative (`informative_fold`) and the clock was reached in at least one of their runs."""
    tasks = v["task"].to_numpy()
    exact = ~(obs.right | obs.left)
    return sum(informative_fold(tasks == t) and bool(exact[tasks == t].any()) for t in np.unique(tasks))


def bootstrap(
    design: Design, v: pd.DataFrame, obs: Observed, fit: TobitFit, rng: np.random.Generator, draws: int = BOOTSTRAP
) -> list[TobitFit]:
    """Refits on resampled seeds: every config keeps its number of runs, drawn with replacement
    from its own seeds, so the design (and every censored group) stays what it is."""
    cell = cells(v)
    groups = [np.flatnonzero(cell == c) for c in range(cell.max() + 1)]
    X, y, prior = design.matrix(v), obs.y - design.offset(v), design.prior_sd()
    start = np.append(fit.beta, np.log(fit.sigma))
    if not draws:
        return []
    idx = resampled_rows(groups, rng, draws)
    Xb, yb, right, left = X[idx], y[idx], obs.right[idx], obs.left[idx]
    theta = fit_tobit_batch(Xb, yb, right, left, start=start, prior_sd=prior)
    return [TobitFit.from_theta(t, ll) for t, ll in zip(theta, loglik(theta, Xb, yb, right, left))]


def fit_law(
    clock: str,
    v: pd.DataFrame,
    obs: Observed,
    form: str | None = None,
    draws: int = BOOTSTRAP,
    batch: str | None = None,
) -> Law:
    """Choose the form and the batch law (unless given), fit them to every run, and bootstrap
    the fit (`draws` refits)."""
    scores: dict[str, float] = {}
    rule = "features"
    if form is None:
        form, chosen, rule, scores = choose_form(clock, v, obs)
        batch = batch or chosen
    design, fit = fit_form(form, v, obs, batch or "free", rule)
    fits = bootstrap(design, v, obs, fit, np.random.default_rng(SEED), draws)
    cell = cells(v)
    return Law(clock, form, design, fit, fits, scores, runs=len(v), seeds_per_config=len(v) / (cell.max() + 1))
