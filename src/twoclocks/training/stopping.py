"""Stopping a run once the clocks it is run for are settled (`train.stop_at`).

A clock is *settled* at an evaluation when no later evaluation can change it: its held crossing
(docs/protocol.md: the curve at or above theta at evaluation i and at i+1) is confirmed by an
evaluation that exists. Its early bound (the crossing of the upper Wilson limit) comes no later,
so it is settled too. Evaluating on the full run's grid and stopping at the first evaluation
where every wanted clock is settled therefore reports exactly the clocks of the full run. What
can differ is what lies beyond the stop step S: clocks that are not wanted (tau_mem when
stopping at `rule`, tau_mem_high when stopping at `mem`) and a clock's late bound (the lower
Wilson limit's crossing) read "not reached by step S (stopped)" where the full run might have
reached them later. Waiting for late bounds too would make `mem` runs go on long after copying
is plain, for a bound that the fits do not use.

The choices, and the clocks each waits for, are declared once in twoclocks.clocks.stopat.STOP_AT.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from twoclocks.clocks import clock_named
from twoclocks.clocks.stopat import STOP_AT
from twoclocks.config import RunConfig


def confirmed(values: np.ndarray, theta: float) -> bool:
    """True when some evaluation i and its successor i+1 both have values >= theta."""
    above = np.asarray(values, dtype=np.float64) >= theta
    return bool(np.any(above[:-1] & above[1:]))


def wanted_curves(cfg: RunConfig, df: pd.DataFrame) -> list[tuple[str, np.ndarray, float]]:
    """(clock name, curve, threshold) of every clock that `train.stop_at` waits for before the
    run ends early (none for a choice that never does)."""
    choice = STOP_AT[cfg.train.stop_at]
    if not choice.early:
        return []
    clocks = [clock_named(name) for name in choice.waits_for]
    thetas = [getattr(cfg.clocks, c.theta) for c in clocks]
    return [(c.tau, c.signal(df, theta), theta) for c, theta in zip(clocks, thetas)]


def stop_reason(cfg: RunConfig, rows: list[dict]) -> str | None:
    """Why the run may stop after the evaluations in `rows`, or None to go on."""
    if len(rows) < 2:
        return None
    df = pd.DataFrame(rows)
    curves = wanted_curves(cfg, df)
    if curves and all(confirmed(curve, theta) for _, curve, theta in curves):
        names = ", ".join(name for name, _, _ in curves)
        return f"{names} settled (train.stop_at={cfg.train.stop_at})"
    return None
