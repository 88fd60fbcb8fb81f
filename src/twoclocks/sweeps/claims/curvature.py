"""Is tau_mem's exponent in N constant? Claim 4's second reading.

"tau_mem grows nearly linearly with N" can mean a log-log slope near 1 over the range measured
(the first reading, `paper.nearly_linear`), or a constant exponent near 1. Over one slice of at
least three N levels the second is tested by a censored quadratic in x = log10 N:

    log10 tau_mem = a + b (x - xbar) + q (x - xbar)^2 + sigma eps                        (1)

fitted with the Tobit likelihood of `twoclocks.prediction.tobit` on the runs' censored
observations (`prediction.variables.observed`: a run censored at its budget enters as
"tau_mem > budget"), q's 95% interval from refits on seeds resampled within each N
level (CURVE_BOOT). The local slope at x is b + 2 q (x - xbar): the exponent at the smallest
and the largest N is quoted, and between adjacent levels the slope of their median tau_mem.
q > 0 with its interval above 0: the exponent rises with N, it is not constant.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from twoclocks.prediction.tobit import fit_tobit, fit_tobit_batch, resampled_rows
from twoclocks.prediction.variables import observed

CURVE_BOOT = 400
CURVE_SEED = 4  # the resampling draws' seed: the same table, the same interval


@dataclass(frozen=True)
class Curvature:
    q: float  # decades of tau_mem per decade of N, squared: (1)
    ci: tuple[float, float]
    slope_ends: tuple[float, float]  # the local exponent at the smallest and the largest N
    local: tuple[tuple[float, float, float | None], ...]  # (N_lo, N_hi, slope of the medians; None if censored)

    @property
    def rises(self) -> bool:
        return self.ci[0] > 0

    @property
    def falls(self) -> bool:
        return self.ci[1] < 0

    def words(self) -> str:
        lo, hi = self.ci
        shape = "the exponent rises with N" if self.rises else "falls with N" if self.falls else "no curvature shown"
        local = ", ".join(
            f"{a:g}-{b:g}: {s:.2f}" if s is not None else f"{a:g}-{b:g}: censored" for a, b, s in self.local
        )
        return (
            f"curvature q = {self.q:+.2f} [{lo:+.2f}, {hi:+.2f}] ({shape}; local exponent "
            f"{self.slope_ends[0]:.2f} at the smallest N, {self.slope_ends[1]:.2f} at the largest; "
            f"between levels {local})"
        )


def _design(x: np.ndarray, xbar: float) -> np.ndarray:
    return np.stack([np.ones_like(x), x - xbar, (x - xbar) ** 2], axis=-1)


def tau_mem_curvature(df: pd.DataFrame, x: str = "data.N", y: str = "tau_mem") -> Curvature | None:
    """(1) on the rows of one slice, or None with fewer than three N levels or three measured
    runs."""
    obs = observed(df, y)
    N = tuple(pd.to_numeric(df[x]).to_numpy(float))
    return curvature_of(N, tuple(obs.y), tuple(obs.right), tuple(obs.left))


@lru_cache(maxsize=64)
def curvature_of(
    N_values: tuple[float, ...], y: tuple[float, ...], right: tuple[bool, ...], left: tuple[bool, ...]
) -> Curvature | None:
    """(1) on these observations. Cached: a claim reading tau_mem is judged at every rule clock
    on the same runs, and the bootstrap need not run again for each."""
    N, ys, censored, below = np.array(N_values), np.array(y), np.array(right), np.array(left)
    levels = np.unique(N)
    if len(levels) < 3 or (~censored).sum() < 3:
        return None
    xs = np.log10(N)
    xbar = float(xs.mean())
    fit = fit_tobit(_design(xs, xbar), ys, censored, below)
    rng = np.random.default_rng(CURVE_SEED)
    groups = [np.flatnonzero(N == v) for v in levels]
    idx = resampled_rows(groups, rng, CURVE_BOOT)
    start = np.append(fit.beta, np.log(fit.sigma))
    qs = fit_tobit_batch(_design(xs[idx], xbar), ys[idx], censored[idx], below[idx], start=start)[:, 2]
    lo, hi = np.percentile(qs, [2.5, 97.5])
    b, q = float(fit.beta[1]), float(fit.beta[2])
    ends = (b + 2 * q * (xs.min() - xbar), b + 2 * q * (xs.max() - xbar))
    return Curvature(q, (float(lo), float(hi)), ends, tuple(local_slopes(levels, N, ys, censored)))


def local_slopes(
    levels: np.ndarray, N: np.ndarray, ys: np.ndarray, censored: np.ndarray
) -> list[tuple[float, float, float | None]]:
    """Slopes of the median log10 tau between adjacent N levels; None where a median is a bound
    (half or more of a level censored)."""
    medians = []
    for v in levels:
        at = N == v
        medians.append(None if censored[at].mean() >= 0.5 else float(np.median(ys[at])))
    out: list[tuple[float, float, float | None]] = []
    for (a, ma), (b, mb) in zip(zip(levels, medians), zip(levels[1:], medians[1:])):
        slope = None if ma is None or mb is None else (mb - ma) / (np.log10(b) - np.log10(a))
        out.append((float(a), float(b), slope))
    return out
