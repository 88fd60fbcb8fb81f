"""What a measurement field moves the clocks by, where a config sets it to a value no fitted run
had: the law has no term for it, so its measured effect widens the interval instead.

The number of samples per evaluation (`eval.samples`, M) sets the noise of every fraction a
clock is read from (binomial: variance p(1 - p)/M), so a clock read from M samples differs from
one read from M_fit by an amount whose spread grows as sqrt(|1/M - 1/M_fit|); its scale k per
clock is measured by `benchmarks/eval_samples_effect.py --write` (the clocks of kept samples
recomputed from their first M' outcomes) and shipped in `reference/measurement.json`:

    sd_clock = k_clock sqrt(|1/M - 1/M_fit|),   M_fit the fitted runs' value nearest in 1/M

added in quadrature to each clock's predictive samples, and said in a warning.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import pandas as pd

from twoclocks.core.io import read_json

MEASURED = Path(__file__).resolve().parents[1] / "reference" / "measurement.json"


@lru_cache(maxsize=1)
def measured_effects() -> dict[str, dict]:
    """{config key: {"per_clock": {clock: k}, "source": text}} as shipped; {} without the file."""
    if not MEASURED.is_file():
        return {}
    return {str(key): dict(effect) for key, effect in read_json(MEASURED)["effects"].items()}


def inverse_distance(value: float, fitted: list[float]) -> tuple[float, float]:
    """(the fitted value nearest `value` in 1/M, sqrt(|1/value - 1/nearest|))."""
    nearest = min(fitted, key=lambda m: abs(1.0 / m - 1.0 / value))
    return nearest, math.sqrt(abs(1.0 / value - 1.0 / nearest))


def measurement_spread(flat: dict, table: pd.DataFrame) -> tuple[dict[str, float], dict[str, str]]:
    """(extra sd of log10 tau per clock, {field: its warning}) for the config `flat` against the
    fitted runs' `table`; nothing where every measured field is at a value some fitted run had."""
    spread: dict[str, float] = {}
    said = {}
    for key, effect in measured_effects().items():
        if key not in flat or key not in table:
            continue
        fitted = sorted(float(x) for x in pd.to_numeric(table[key]).dropna().unique())
        value = float(flat[key])
        if not fitted or value in fitted or value <= 0:
            continue
        nearest, distance = inverse_distance(value, fitted)
        sds = {str(c): float(k) * distance for c, k in effect["per_clock"].items()}
        for clock, sd in sds.items():
            spread[clock] = math.hypot(spread.get(clock, 0.0), sd)
        had = ", ".join(f"{x:g}" for x in fitted)
        shown = ", ".join(f"{c} {sd:.3f}" for c, sd in sds.items())
        said[key] = (
            f"{key}={value:g}: no fitted run has it (they have {had}); measured to move the clocks read "
            f"at {nearest:g} by sd {shown} decades ({effect['source']}): added to the intervals"
        )
    return spread, said
