"""One config -> each clock's predicted median, 80% and 95% predictive intervals, the window,
P(window open), P(clock within the budget), and an extrapolation warning in words for every
variable outside the fitted runs.

From the predictive samples y_s of log10 tau (`Law.samples`; S = BOOTSTRAP x PER_DRAW):

    median, intervals       quantiles of 10**y_s: 50%; 10-90%; 2.5-97.5%
    P(tau <= S steps)       mean_s [y_s <= log10 S]
    window (log10)          w_s = y_mem,s - y_rule,s;   P(window open) = mean_s [w_s > 0]

Where the laws carry a calibration (`calibration`: the shipped reference's, or one fitted on
the held-out runs of the given sweeps), each sample y_s lies a times as far from the samples'
median and adds N(0, extra^2), extra growing with the config's reach from the runs that
measured that clock (`reach`). The residuals of the
clocks are drawn independently of each other. Where the law of tau_mem
has the regime term L (learned before copying), each sample takes the regime its own draws
give: L = 1 where the tau_rule draw comes before the L = 1 draw of tau_mem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from twoclocks.config import RunConfig
from twoclocks.errors import ConfigError
from twoclocks.prediction.calibration import Calibration, calibrated_samples
from twoclocks.prediction.features import RULE_FEATURES
from twoclocks.prediction.laws import BOOTSTRAP, SEED, Law, fit_law
from twoclocks.prediction.measurement import measurement_spread
from twoclocks.prediction.reach import TOL, Reach, clock_warnings, reach_of, unplaced
from twoclocks.prediction.reference import Runs
from twoclocks.prediction.variables import (
    CLOCKS,
    RecordedRule,
    config_flat,
    config_variables,
    learned_first,
    observed,
    recorded_clocks,
    table_variables,
    waited_for,
)
from twoclocks.prediction.warnings import extrapolation_warnings
from twoclocks.tasks import BUILTIN, TASKS

PER_DRAW = 100
MIN_MEASURED = 3  # runs that reached a clock, the fewest a law of it is fitted on
LEVELS = (0.8, 0.95)


@dataclass
class Laws:
    """A law per clock, fitted on the same runs."""

    runs: Runs
    variables: pd.DataFrame  # of the fitted runs
    laws: dict[str, Law]
    calibration: Calibration | None = None  # None: intervals from the laws alone

    @classmethod
    def fit(
        cls, runs: Runs, forms: dict[str, str] | None = None, draws: int = BOOTSTRAP, batch: str | None = None
    ) -> Laws:
        """Fit every clock the runs recorded (`draws` bootstrap refits each; `batch`: a batch
        law to use instead of the one held-out runs choose); a clock that too few runs reached
        has no law (one line)."""
        v = run_variables(runs.table)
        laws = {}
        for clock in recorded_clocks(runs.table):
            keep = waited_for(runs.table, clock)
            obs = observed(runs.table[keep], clock)
            measured = int((~obs.right).sum())
            if measured < MIN_MEASURED:
                raise ConfigError(
                    f"{clock}: only {measured} of {len(runs.table)} fitted runs reached it "
                    f"({'; '.join(runs.sources)}); a law needs {MIN_MEASURED} (fit on runs long enough to reach it)"
                )
            law = fit_law(clock, v[keep].reset_index(drop=True), obs, (forms or {}).get(clock), draws, batch)
            laws[clock] = law
        return cls(runs, v, laws)

    def to_dict(self) -> dict:
        """The fitted laws and their calibration as JSON (`from_dict`; `cache`)."""
        calibration = None if self.calibration is None else self.calibration.to_dict()
        return {"laws": {c: law.to_dict() for c, law in self.laws.items()}, "calibration": calibration}

    @classmethod
    def from_dict(cls, runs: Runs, d: dict) -> Laws:
        """The laws `to_dict` wrote, for the runs they were fitted on."""
        laws = {str(c): Law.from_dict(law) for c, law in d["laws"].items()}
        calibration = None if d.get("calibration") is None else Calibration.from_dict(d["calibration"])
        return cls(runs, run_variables(runs.table), laws, calibration)

    @cached_property
    def measured(self) -> dict[str, np.ndarray]:
        """Per clock, which fitted runs reached it (one bool per row of `variables`): read once,
        for every config asked of these laws."""
        return {clock: ~observed(self.runs.table, clock).right for clock in self.laws}

    def reaches(self, v: pd.DataFrame) -> dict[str, Reach]:
        """How far the one-row config frame `v` lies from the runs that measured each clock."""
        return {clock: reach_of(v, self.variables, mask) for clock, mask in self.measured.items()}

    def refusals(self, v: pd.DataFrame) -> dict[str, str]:
        """The clocks not predicted for the one-row config frame `v`, each with why (`unplaced`)."""
        whys = {clock: unplaced(v, self.variables, mask) for clock, mask in self.measured.items()}
        return {clock: why for clock, why in whys.items() if why is not None}

    def calibrated(self, calibration: Calibration) -> Laws:
        return Laws(self.runs, self.variables, self.laws, calibration)


def run_variables(table: pd.DataFrame) -> pd.DataFrame:
    """The variables of finished runs, with the regime each was in (`learned_first`)."""
    return table_variables(table).assign(learned=learned_first(table))


@dataclass
class ClockPrediction:
    clock: str
    form: str
    median: float
    intervals: dict[float, tuple[float, float]]  # level -> (lo, hi) in steps
    p_within: float  # P(tau <= the config's train.steps)
    # (bound, runs) where every fitted run of the config's rule and family was censored at this
    # clock: all the runs say of it is tau > bound (the largest step one of them reached)
    unreached: tuple[float, int] | None = None
    refused: str | None = None  # why the clock is not predicted (`reach.unplaced`); its numbers are NaN

    def to_dict(self) -> dict:
        """Strict JSON: a value that does not exist (P(within) without a budget, a bound beyond
        a float, a clock not predicted) is None, never NaN or infinity."""
        out: dict = {"form": self.form, "median": number(self.median), "p_within_steps": number(self.p_within)}
        out["unreached_above"] = None if self.unreached is None else self.unreached[0]
        out["not_predicted"] = self.refused
        out.update({f"interval_{round(100 * q)}": [number(x) for x in self.intervals[q]] for q in LEVELS})
        return out

    def bound_text(self) -> str:
        """What the runs of the config's rule say where none reached the clock, or ''."""
        if self.unreached is None:
            return ""
        bound, runs = self.unreached
        return f"  (none of the {runs} runs of this rule reached it; the longest ran {steps_text(bound)} steps)"


def steps_text(x: float) -> str:
    """A number of steps as text: 12,345; beyond a billion (a rule the law puts out of reach)
    in powers of ten, 3.0e+26."""
    return f"{x:,.0f}" if x < 1e9 else f"{x:.1e}"


def number(x: float) -> float | None:
    """x, or None where it is not a finite number (JSON has no NaN or infinity)."""
    return float(x) if np.isfinite(x) else None


@dataclass
class Prediction:
    clocks: dict[str, ClockPrediction]
    window_log10: tuple[float, float, float]  # median, 95% interval, of tau_mem / tau_rule
    p_window_open: float
    steps: int | None  # the budget P(within) refers to
    fitted_on: str
    warnings: list[str] = field(default_factory=list)
    calibrated_on: str | None = None  # what the intervals' calibration was fitted on

    def to_dict(self) -> dict:
        return {
            "clocks": {c: p.to_dict() for c, p in self.clocks.items()},
            "window_log10": {
                "median": number(self.window_log10[0]),
                "interval_95": [number(x) for x in self.window_log10[1:]],
            },
            "p_window_open": number(self.p_window_open),
            "steps": self.steps,
            "fitted_on": self.fitted_on,
            "calibrated_on": self.calibrated_on,
            "warnings": self.warnings,
        }

    def lines(self) -> list[str]:
        width = max(len(c) for c in self.clocks)
        out = []
        for c, p in self.clocks.items():
            if p.refused is not None:
                out.append(f"{c:<{width}}   not predicted: {p.refused}{p.bound_text()}")
                continue
            lo80, hi80 = p.intervals[0.8]
            lo95, hi95 = p.intervals[0.95]
            within = "" if self.steps is None else f"  P(<= {self.steps:,} steps) = {p.p_within:.2f}"
            within += p.bound_text()
            lo80, lo95 = max(lo80, 1.0), max(lo95, 1.0)  # no clock ticks before step 1
            out.append(
                f"{c:<{width}} ~ {steps_text(p.median):>9}  80% [{steps_text(lo80)}, {steps_text(hi80)}]  "
                f"95% [{steps_text(lo95)}, {steps_text(hi95)}]  ({p.form}){within}"
            )
        w, wlo, whi = self.window_log10
        if np.isfinite(w):
            out.append(f"window log10(tau_mem/tau_rule) ~ {w:+.2f}  95% [{wlo:+.2f}, {whi:+.2f}]")
            out.append(f"P(window open) = {self.p_window_open:.2f}")
        else:
            missing = [c for c in ("tau_mem", "tau_rule") if self.clocks[c].refused]
            verb = "are" if len(missing) > 1 else "is"
            out.append(f"window log10(tau_mem/tau_rule): not predicted ({' and '.join(missing)} {verb} not)")
        out.append(f"fitted on {self.fitted_on}")
        out.append(
            f"intervals calibrated on {self.calibrated_on}"
            if self.calibrated_on
            else "intervals from the laws alone (not calibrated on held-out runs): too narrow away from the runs"
        )
        out += [f"warning: {w}" for w in self.warnings]
        return out


def check_predictable(cfg_v: pd.DataFrame, fitted: pd.DataFrame) -> None:
    """A family the fit never saw has no law; nor has a rule it never saw whose features are
    unknown (a rule named by path: it needs runs of its own). One line, naming the field."""
    family, task = cfg_v["family"].iloc[0], cfg_v["task"].iloc[0]
    if family not in set(fitted["family"]):
        seen = ", ".join(sorted(set(fitted["family"])))
        raise ConfigError(f"model.family={family}: no fitted run has it (the fit has {seen}); cannot predict")
    if task not in set(fitted["task"]) and cfg_v[list(RULE_FEATURES)].isna().any(axis=None):
        raise ConfigError(pilot_runs_needed(task))


def pilot_runs_needed(task: str) -> str:
    """What a prediction of a rule of one's own, or of a built-in task the rule features do not
    describe, needs, in one line."""
    cls = TASKS.get(task)
    why = f"{cls.kind} data, not a rule on cells" if cls in BUILTIN else "it is not built in"
    return (
        f"task={task}: no fitted run has this rule and its features are unknown ({why}); "
        f"give the laws 2-3 pilot runs of it: twoclocks sweep task={task} --grid data.N=8,16,32 "
        f"train.stop_at=mem --out PILOT, then twoclocks predict task={task} ... --from PILOT"
    )


def at_fitted_size(v: pd.DataFrame, fitted: pd.DataFrame) -> pd.DataFrame:
    """v with the size (bits) and the measured features of a rule no fitted run has held inside
    those of the fitted runs of its family. Of a rule with runs the law knows how its clocks
    move with its size; across rules it does not: the size effect is fitted on other rules
    (group parity's bits go with its group size G), and carried 10-50 bits beyond them it put
    Sudoku 4x4's rule clocks below one step and a sparse parity's past 10^8; a feature carried
    beyond the fitted rules' (sparse parity's one constraint, where the others have 6-18) put
    its tau_mem 1.6 decades late. The reach keeps the rule as it is, so the interval still
    carries the calibrated cost of a rule outside (sb) and of an unseen rule (sr)."""
    family, task = v["family"].iloc[0], v["task"].iloc[0]
    if task in set(fitted["task"]):
        return v
    same = fitted[(fitted["family"] == family).to_numpy()]
    held = {}
    for name in (n for n in ("bits", *RULE_FEATURES) if n in v and n in same):
        values, value = pd.to_numeric(same[name]).dropna(), float(v[name].iloc[0])
        if not values.empty and np.isfinite(value):
            held[name] = float(np.clip(value, values.min(), values.max()))
    return v.assign(**held)


def at_another_size(v: pd.DataFrame, fitted: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """v, and a warning, with a rule whose fitted runs all have one size asked at another size
    relabelled as a rule no fitted run has. Its own offset is measured at that size only, and
    the law's size slope is fitted across other rules: carried from Sudoku 4x4 (8.2 bits) to 9x9
    (72.5 bits) it put tau_mem at 92 steps, where the reference measured 1,632-10,059 for its eight
    rules at N = 16.
    As an unseen rule it is predicted from its features at the nearest fitted size, the interval
    widened by the calibrated cost of an unseen rule. A rule whose features are unknown (one's
    own) keeps its name: only its own runs can describe it."""
    task, bits = str(v["task"].iloc[0]), float(v["bits"].iloc[0])
    sizes = pd.to_numeric(fitted.loc[(fitted["task"] == task).to_numpy(), "bits"]).dropna().unique()
    features_known = not v[list(RULE_FEATURES)].isna().any(axis=None)
    if len(sizes) != 1 or not np.isfinite(bits) or abs(bits - sizes[0]) < TOL or not features_known:
        return v, None
    warning = (
        f"task={task} at {bits:.1f} bits (log2 population): every fitted run of it has {sizes[0]:.1f} bits, "
        "and a rule's own offset holds at its size only"
    )
    return v.assign(task=f"{task} ({bits:.1f} bits)"), warning


def predict_samples(
    laws: Laws, v: pd.DataFrame, reaches: dict[str, Reach] | None = None, rule_spread: bool = True
) -> dict[str, np.ndarray]:
    """log10 tau samples of every clock for the one-row frame v (`reaches`: `Laws.reaches(v)`,
    where the caller has them already; a rule no fitted run has at a size inside theirs:
    `at_fitted_size`, its offset's spread added unless `rule_spread` is False: the validation
    keeps it apart, as the calibration does not scale it)."""
    if reaches is None and laws.calibration is not None:
        reaches = laws.reaches(v)  # of the rule's own size
    v = at_fitted_size(v, laws.variables)
    rng = np.random.default_rng(SEED)
    out = {}
    for clock, law in laws.laws.items():
        if clock == "tau_mem" and "learned" in law.design.terms:
            continue
        out[clock] = law.samples(v.assign(learned=0.0), PER_DRAW, rng)
    mem = laws.laws["tau_mem"]
    if "learned" in mem.design.terms:
        before = mem.samples(v.assign(learned=1.0), PER_DRAW, rng)
        after = mem.samples(v.assign(learned=0.0), PER_DRAW, rng)
        out["tau_mem"] = np.where(out["tau_rule"] < before, before, after)
    if laws.calibration is not None and reaches is not None:
        for clock, y in out.items():
            extra, a = laws.calibration.extra_sd(clock, reaches[clock]), laws.calibration.scale(clock)
            out[clock] = calibrated_samples(y, a, extra, rng.standard_normal(len(y)))
    if rule_spread:  # a rule no fitted run has: a new draw of its offset, unscaled by the calibration
        for clock, y in out.items():
            spread = laws.laws[clock].unseen_spread(v)
            if spread > 0:
                out[clock] = y + spread * rng.standard_normal(len(y))
    return out


def unreached_bound(laws: Laws, v: pd.DataFrame, clock: str) -> tuple[float, int] | None:
    """(the largest censoring bound, how many runs) where the fitted runs of v's rule and
    family waited for `clock` and none reached it; else None. Its law's median there rests on
    bounds alone: the line says so beside it."""
    fitted = laws.variables
    same = (fitted["task"] == v["task"].iloc[0]).to_numpy() & (fitted["family"] == v["family"].iloc[0]).to_numpy()
    same &= waited_for(laws.runs.table, clock)
    if not same.any():
        return None
    obs = observed(laws.runs.table[same], clock)
    return (float(10 ** obs.y.max()), int(same.sum())) if obs.right.all() else None


def predict_config(laws: Laws, cfg: RunConfig, rule: RecordedRule | None = None) -> Prediction:
    """The prediction of every clock for `cfg` (see the module docstring); with `rule`, for the
    config with that rule of one's own as its runs recorded it (`pilots`)."""
    v = config_variables(cfg, rule)
    flat = config_flat(cfg, rule)
    check_predictable(v, laws.variables)
    asked = v  # the rule as named: its runs' bounds are shown beside the law, whatever their size
    v, resized = at_another_size(v, laws.variables)
    reaches = laws.reaches(v)
    samples = predict_samples(laws, v, reaches)
    spread, measured = measurement_spread(flat, laws.runs.table)
    noise = np.random.default_rng(SEED + 1)
    for clock, sd in spread.items():  # a measurement field at a value no fitted run had
        if clock in samples:
            samples[clock] = samples[clock] + sd * noise.standard_normal(len(samples[clock]))
    steps = cfg.train.steps if isinstance(cfg.train.steps, int) else None
    refused = laws.refusals(v)
    for clock in refused:  # its samples still choose tau_mem's regime above; they are not shown
        samples[clock] = np.full_like(samples[clock], np.nan)
    clocks = {}
    for clock in laws.laws:
        y = samples[clock]
        intervals = {
            q: (float(10 ** np.quantile(y, (1 - q) / 2)), float(10 ** np.quantile(y, (1 + q) / 2))) for q in LEVELS
        }
        within = float(np.mean(y <= np.log10(steps))) if steps and clock not in refused else float("nan")
        median = float(10 ** np.median(y))
        unreached = unreached_bound(laws, asked, clock)
        form = laws.laws[clock].form
        clocks[clock] = ClockPrediction(clock, form, median, intervals, within, unreached, refused.get(clock))
    w = samples["tau_mem"] - samples["tau_rule"]
    window = (float(np.median(w)), float(np.quantile(w, 0.025)), float(np.quantile(w, 0.975)))
    warnings = [resized] if resized else []
    warnings += extrapolation_warnings(flat, v, laws.runs.table, laws.variables, measured)
    warnings += measured.values()
    known = reach_of(v, laws.variables, np.ones(len(laws.variables), bool), by_size=False)
    warnings += clock_warnings({c: r for c, r in reaches.items() if c not in refused}, known, v, flat)
    unrecorded = [c for c in CLOCKS if c not in laws.laws]
    if unrecorded:
        older = "a results table older than it"
        warnings.append(f"{', '.join(unrecorded)}: not predicted; no fitted run recorded it ({older})")
    calibrated_on = laws.calibration.fitted_on if laws.calibration else None
    p_open = float(np.mean(w > 0)) if np.isfinite(window[0]) else float("nan")
    return Prediction(clocks, window, p_open, steps, laws.runs.describe(), warnings, calibrated_on)
