"""Scaling-law fits over a sweep's results table, with censoring kept out of the numbers.

A fit regresses y on log10(x) by least squares (np.polyfit): log10(y) for clocks (a log-log
slope, i.e. the exponent of a power law), y itself for window_log10 (already in decades).
It is done separately in every *slice*: each combination of the other config columns that
vary in the sweep (family, G, depth, ...), except seeds and budget-only fields (train.steps,
eval.*), which change when and how often a run is measured, not what it learns.

Censoring. A right-censored clock (not reached by the last step) or a left-censored one
(reached by the first evaluation) is an inequality, not a value: it is dropped from the fit
and counted per x value. Its bound is then checked against the fitted line: a right-censored
run whose last step lies above the line (or a left-censored one whose first evaluation lies
below it) contradicts the fit. When more than half of the runs at some x value are censored
and at least one of them contradicts the line, the fit is flagged `censoring_limits` and
verdicts treat it as inconclusive: dropping those runs biases the slope (toward flat when
late clocks go missing). Censored runs whose budget simply ended before the line's
prediction (e.g. a short run at a large N) carry no such information and are only counted.

Rule clocks. Every relation that involves tau_rule or its window is also fitted for the other
rule clocks of twoclocks.clocks.RULE_CLOCKS (tau_rule_low, tau_group and their windows
window_log10_low, window_log10_group), where the results table has their columns.

CI. 95% percentile bootstrap over seeds: in every replicate, the runs at each x value are
resampled with replacement (their count kept) and the slope is refitted. The generator is
seeded, so the interval is reproducible. With one run per x value there is nothing to resample
and the interval is reported as missing.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from twoclocks.clocks import GEN_CLOCKS, MEM_CLOCKS, RULE_CLOCKS, MemClock, RuleClock, mem_levels
from twoclocks.config import keys_of_role
from twoclocks.core.domains import POOLED
from twoclocks.records.formats import rule_clocks_of

CONFIG_PREFIXES = ("task", "data.", "model.", "train.", "eval.", "clocks.")


def non_slicing() -> set[str]:
    """Columns that never split a sweep into slices: fields that say which draw a run is, how long
    it goes, how its clocks are read and kept, or how it is executed (domains.POOLED)."""
    return keys_of_role(*POOLED)


def y_columns() -> dict[str, tuple[str, str | None, str | None, bool]]:
    """y column -> (value column, right-censored flag, left-censored flag, fit log10(y)?), for
    every memorisation clock and every rule clock (its clock in steps and epochs, and its window)."""
    ys: dict[str, tuple[str, str | None, str | None, bool]] = {}
    for tau in [mc.tau for mc in MEM_CLOCKS] + [rc.tau for rc in (*RULE_CLOCKS, *GEN_CLOCKS)]:
        for y in (tau, f"{tau}_epochs"):
            ys[y] = (y, f"{tau}_censored", f"{tau}_left_censored", True)
    for rc in (*RULE_CLOCKS, *GEN_CLOCKS):
        ys[rc.key("window_log10")] = (rc.key("window_log10"), None, None, False)
    return ys


def window_clock(y: str) -> RuleClock | None:
    """The rule (or generalisation) clock whose window column `y` is, or None."""
    return next((rc for rc in (*RULE_CLOCKS, *GEN_CLOCKS) if rc.key("window_log10") == y), None)


N_BOOT = 2000
CI_LEVEL = 0.95


@dataclass
class Group:
    """The runs of one slice at one x value."""

    x: float
    n: int  # finished runs
    used: int  # uncensored runs that enter the fit
    right_censored: int
    left_censored: int
    center: float | None  # geometric mean (clocks) or mean (window) of the used values
    used_range: tuple[float, float] | None = None  # (min, max) of the used values
    right_bound: float | None = None  # smallest bound of the right-censored runs (clock > it)


@dataclass
class Fit:
    x: str  # e.g. data.N
    y: str  # e.g. tau_mem
    where: dict[str, Any]  # the slice: values of the other varied config columns
    log_y: bool
    slope: float | None = None
    intercept: float | None = None
    ci: tuple[float, float] | None = None
    groups: list[Group] = field(default_factory=list)
    censoring_limits: bool = False
    note: str = ""  # why there is no slope / CI, or which groups are censored
    center: tuple[float, float] | None = None  # (mean log10 x, mean fitted y): the line's pivot
    index: list = field(default_factory=list, repr=False)  # row labels of the slice in the table

    @property
    def n_used(self) -> int:
        return sum(g.used for g in self.groups)

    @property
    def n_runs(self) -> int:
        return sum(g.n for g in self.groups)

    @property
    def censored(self) -> int:
        return sum(g.right_censored + g.left_censored for g in self.groups)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The fitted curve in y's own units."""
        lin = self.intercept + self.slope * np.log10(x)
        return 10**lin if self.log_y else lin

    def predict_slope(self, x: np.ndarray, slope: float) -> np.ndarray:
        """A line of another slope through the fit's centroid (to draw the CI of the slope)."""
        assert self.center is not None, "a fit without points has no centroid"
        lin = self.center[1] + slope * (np.log10(x) - self.center[0])
        return 10**lin if self.log_y else lin

    def where_text(self) -> str:
        """'N=16, depth=2': the settings that the fit's slice holds fixed."""
        return ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in self.where.items())

    def label(self) -> str:
        where = self.where_text()
        return f"{self.y} vs {self.x}" + (f" [{where}]" if where else "")

    def censoring_text(self) -> str:
        """e.g. '2/3 right-censored at N=64, 1/3 left-censored at N=8' ('' when none)."""
        name = self.x.rsplit(".", 1)[-1]
        parts = []
        for g in self.groups:
            for count, kind in ((g.right_censored, "right"), (g.left_censored, "left")):
                if count:
                    parts.append(f"{count}/{g.n} {kind}-censored at {name}={_fmt(g.x)}")
        return ", ".join(parts)

    def evidence(self) -> str:
        """slope [CI] (runs used / finished, x values, censoring), as one string."""
        kind = "log-log slope" if self.log_y else "slope (decades per decade of x)"
        xs = len([g for g in self.groups if g.used])
        counts = f"{self.n_used}/{self.n_runs} runs uncensored, {xs} {self.x.rsplit('.', 1)[-1]} values"
        cens = self.censoring_text()
        counts += f"; {cens}" if cens else ""
        if self.slope is None:
            return f"no fit ({counts})"
        ci = "no CI (one run per x value)" if self.ci is None else f"95% CI [{self.ci[0]:.2f}, {self.ci[1]:.2f}]"
        return f"{kind} {self.slope:.2f}, {ci} ({counts})"

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(label=self.label(), evidence=self.evidence(), n_used=self.n_used, n_runs=self.n_runs)
        return d


def finished(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["status"] == "finished"] if "status" in df else df


def config_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c == "task" or c.startswith(CONFIG_PREFIXES)]


def varied_columns(df: pd.DataFrame) -> list[str]:
    """Config columns with more than one value among the finished runs."""
    df = finished(df)
    return [c for c in config_columns(df) if df[c].astype(str).nunique() > 1]


def y_values(df: pd.DataFrame, y: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(values, right_censored, left_censored, bound) of y for every row; censored values are
    NaN and `bound` holds what is known instead: the clock is later than the last step
    (right) or no later than the first evaluation (left), in y's units; NaN when unknown."""
    col, right, left, _ = y_columns()[y]
    clock = window_clock(y)
    if clock is not None:
        value = pd.to_numeric(df[y], errors="coerce").to_numpy(dtype=float)
        vanished = df[clock.key("window_vanished")].fillna(False).astype(bool).to_numpy()
        value = np.where(vanished, 0.0, value)  # an empty window is a known width: 0
        lower = df[clock.key("window_log10_is_lower_bound")].fillna(False).astype(bool).to_numpy()
        rc = lower | np.isnan(value)
        lc = np.zeros(len(df), dtype=bool)
        bound = np.where(lower, value, np.nan)  # window >= this; neither clock: unknown
    else:
        value = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
        rc = df[right].fillna(True).astype(bool).to_numpy() | np.isnan(value)
        lc = df[left].fillna(False).astype(bool).to_numpy() & ~rc
        last = (
            pd.to_numeric(df.get("max_step"), errors="coerce").to_numpy(dtype=float)
            if "max_step" in df
            else np.full(len(df), np.nan)
        )
        if y.endswith("_epochs"):  # epochs = step * batch / N
            last = (
                last
                * pd.to_numeric(df["epochs"], errors="coerce").to_numpy(float)
                / pd.to_numeric(df["train.steps"], errors="coerce").to_numpy(float)
                if {"epochs", "train.steps"} <= set(df)
                else np.full(len(df), np.nan)
            )
        bound = np.where(rc, last, np.where(lc, value, np.nan))
    value = np.where(rc | lc, np.nan, value)
    return value, rc, lc, bound


def bootstrap_slopes(xs: list[np.ndarray], ys: list[np.ndarray], n_boot: int, seed: int) -> np.ndarray:
    """Least-squares slopes of y on x, resampling the runs within each x group."""
    rng = np.random.default_rng(seed)
    x_all = np.concatenate(xs)
    dx = x_all - x_all.mean()
    resampled = np.concatenate([y[rng.integers(len(y), size=(n_boot, len(y)))] for y in ys], axis=1)
    dy = resampled - resampled.mean(axis=1, keepdims=True)
    return (dy @ dx) / (dx @ dx)


def fit_slice(df: pd.DataFrame, x: str, y: str, where: dict[str, Any], n_boot: int = N_BOOT, seed: int = 0) -> Fit:
    """One fit of y on log10(x) over the rows of one slice."""
    log_y = y_columns()[y][3]
    fit = Fit(x=x, y=y, where=where, log_y=log_y, index=[_native(i) for i in df.index])
    values, rc, lc, bound = y_values(df, y)
    xv = pd.to_numeric(df[x], errors="coerce").to_numpy(dtype=float)
    gx, gy = [], []
    for xval in sorted(set(xv[~np.isnan(xv)])):
        m = xv == xval
        used = values[m][~np.isnan(values[m])]
        if log_y:
            used = used[used > 0]
        ylog = np.log10(used) if log_y else used
        center = None if not len(used) else float(10 ** ylog.mean() if log_y else ylog.mean())
        rb = bound[m & rc]
        rb = rb[~np.isnan(rb)]
        g = Group(
            float(xval),
            int(m.sum()),
            len(used),
            int(rc[m].sum()),
            int(lc[m].sum()),
            center,
            (float(used.min()), float(used.max())) if len(used) else None,
            float(rb.min()) if len(rb) else None,
        )
        fit.groups.append(g)
        if len(used):
            gx.append(np.full(len(used), math.log10(xval)))
            gy.append(ylog)
    if len(gx) < 2 or any(v <= 0 for v in xv[~np.isnan(xv)]):
        fit.censoring_limits = any(g.right_censored + g.left_censored for g in fit.groups)
        fit.note = f"fewer than 2 {x} values with an uncensored {y}"
        return fit
    X, Y = np.concatenate(gx), np.concatenate(gy)
    fit.slope, fit.intercept = (float(v) for v in np.polyfit(X, Y, 1))
    fit.center = (float(X.mean()), float(Y.mean()))
    # Censored runs whose bound contradicts the fitted line (a clock still unreached at a step
    # beyond the line, or already reached before the line) say the line is wrong there.
    pred = fit.predict(np.where(np.isnan(xv) | (xv <= 0), 1.0, xv))
    contradicts = (rc & (bound > pred)) | (lc & (bound < pred))
    notes = []
    for g in fit.groups:
        m = xv == g.x
        censored = g.right_censored + g.left_censored
        if censored > g.n / 2 and contradicts[m].any():
            notes.append(
                f"{censored}/{g.n} censored at {x.rsplit('.', 1)[-1]}={_fmt(g.x)}, "
                f"{int(contradicts[m].sum())} beyond the fitted line"
            )
    fit.censoring_limits = bool(notes)
    if all(len(g) == 1 for g in gy):
        notes.append("one run per x value: no bootstrap CI")
    else:
        slopes = bootstrap_slopes(gx, gy, n_boot, seed)
        a = (1 - CI_LEVEL) / 2
        fit.ci = (float(np.quantile(slopes, a)), float(np.quantile(slopes, 1 - a)))
    fit.note = "; ".join(notes)
    return fit


def _fmt(v: Any) -> Any:
    return int(v) if isinstance(v, float) and v.is_integer() else v


def fit_relation(df: pd.DataFrame, x: str, y: str, n_boot: int = N_BOOT, seed: int = 0) -> list[Fit]:
    """Fits of y vs x in every slice of the finished runs where x takes 2+ values."""
    df = finished(df)
    if x not in df or df[x].nunique() < 2:
        return []
    pooled = non_slicing()
    keys = [c for c in varied_columns(df) if c != x and c not in pooled]
    groups = df.groupby([df[k].astype(str) for k in keys], sort=True, dropna=False) if keys else [((), df)]
    fits = []
    for _, part in groups:
        if part[x].nunique() < 2:
            continue
        where = {k: _fmt(_native(part[k].iloc[0])) for k in keys}
        fits.append(fit_slice(part, x, y, where, n_boot, seed))
    return fits


def _native(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def knob_column(df: pd.DataFrame) -> str | None:
    """The complexity knob of the sweep's task (task.G for parity), if a single task is swept:
    as its runs recorded it, else a built-in rule's (a plugin is never imported to ask it)."""
    from twoclocks.records.recorded import task_label

    done = finished(df)
    names = done["task"].dropna().unique() if "task" in df else []
    if len(names) != 1:
        return None
    knobs = done["task_knob"].dropna().unique() if "task_knob" in df else []
    knob = str(knobs[0]) if len(knobs) == 1 else task_label(names[0])[1]
    col = f"task.{knob}"
    return col if knob and col in df else None


def mem_levels_in(df: pd.DataFrame) -> list[MemClock]:
    """The memorisation levels measured in some run of a results table (near copies are not
    where the runs are older than them and their samples were not kept)."""
    return [mc for mc in mem_levels() if measured_in(df, mc.tau)]


def measured_in(df: pd.DataFrame, tau: str) -> bool:
    """Whether some run of a results table measured the clock `tau` (its censoring flag is set)."""
    return f"{tau}_censored" in df and bool(df[f"{tau}_censored"].notna().any())


def standard_fits(df: pd.DataFrame, n_boot: int = N_BOOT, seed: int = 0) -> list[Fit]:
    """The relations of the paper, for every x the sweep varies, every rule clock and every
    memorisation level the table has; on images, tau_gen and its window against N."""
    knob = knob_column(df)
    rules = rule_clocks_of(df.columns)
    mems = [mc.tau for mc in mem_levels_in(df)]
    relations = [("data.N", y) for tau in mems for y in (tau, f"{tau}_epochs")]
    relations += [("data.N", rc.tau) for rc in rules] + [("data.N", rc.key("window_log10")) for rc in rules]
    if knob:
        relations += [(knob, rc.tau) for rc in rules] + [(knob, tau) for tau in mems]
        relations += [(knob, rc.key("window_log10")) for rc in rules]
    relations += [(x, rc.tau) for x in ("model.depth", "model.width") for rc in rules]
    # Runs on images: the generalisation clock and its window against N (is tau_gen flat in N?)
    gens = [gc for gc in GEN_CLOCKS if measured_in(df, gc.tau)]
    relations += [("data.N", y) for gc in gens for y in (gc.tau, gc.key("window_log10"))]
    return [f for x, y in relations for f in fit_relation(df, x, y, n_boot, seed)]


def fits_frame(fits: list[Fit]) -> pd.DataFrame:
    """One row per fit, for reports and CSV."""
    rows = []
    for f in fits:
        rows.append(
            {
                "relation": f.label(),
                "x": f.x,
                "y": f.y,
                "slope": f.slope,
                "ci_lo": None if f.ci is None else f.ci[0],
                "ci_hi": None if f.ci is None else f.ci[1],
                "runs_used": f.n_used,
                "runs": f.n_runs,
                "censored": f.censored,
                "censoring_limits": f.censoring_limits,
                "note": f.note,
            }
        )
    return pd.DataFrame(rows)
