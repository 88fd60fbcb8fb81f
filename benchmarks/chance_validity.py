"""How far chance validity moves the rule clocks of the shipped references: the clocks as
measured (`valid` against θ) beside a chance-corrected reading ((valid - c) / (1 - c) against
θ), before any such change of protocol is made (docs/protocol.md, "Chance validity").

    python benchmarks/chance_validity.py [--reference rules ...]

c is the rate at which a uniformly random grid is valid, population / K^cells, from what each
run recorded (log2 of its population) and its rule's measured features (cells, values: the
`features` of the laws). Each run's curve is the evaluation curve its reference ships; the
crossing is the clocks' own (`core.stats.crossing`: the held crossing, interpolated in log
step). Prints, per rule: log2 c, the `valid` of the first evaluation (median over runs), and per
clock (τ_rule at 0.9, τ_rule_low at 0.5) the median as measured and as corrected, with how many
runs reached each and how many moved. "as measured" is recomputed from the curve and checked
against the results table (mismatches are counted, not hidden). Seconds on one core.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from twoclocks.clocks import RULE_CLOCKS, ClockConfig
from twoclocks.core.stats import crossing
from twoclocks.prediction.reference import reference_curves, reference_runs, shipped_names
from twoclocks.prediction.variables import table_variables

VALID_CLOCKS = [rc for rc in RULE_CLOCKS if rc.curve == "valid"]


def log2_chance(v: pd.DataFrame) -> np.ndarray:
    """log2 of the chance validity of each run (its variables: bits, log2_cells, log2_values)."""
    cells = np.exp2(v["log2_cells"].to_numpy(float))
    return v["bits"].to_numpy(float) - cells * v["log2_values"].to_numpy(float)


def clocks_of(curve: pd.DataFrame, c: float) -> dict[str, tuple[float | None, float | None]]:
    """Per valid clock: (as measured, chance-corrected) crossing of one run's curve."""
    curve = curve.sort_values("step")
    steps, valid = curve["step"].to_numpy(float), curve["valid"].to_numpy(float)
    out = {}
    for rc in VALID_CLOCKS:
        theta = getattr(ClockConfig(), rc.theta)
        out[rc.tau] = (crossing(steps, valid, theta)[0], crossing(steps, (valid - c) / (1 - c), theta)[0])
    return out


def rows(name: str) -> list[dict]:
    """One row per run and valid clock of one shipped reference."""
    table = reference_runs((name,)).table.reset_index(drop=True)
    curves = reference_curves(name)
    chance = log2_chance(table_variables(table))
    out = []
    for i, run in table.iterrows():
        curve = curves[curves["point"] == run["point"]]
        if curve.empty or not np.isfinite(chance[i]):
            continue
        first = float(curve.sort_values("step")["valid"].iloc[0])
        for tau, (measured, corrected) in clocks_of(curve, 2.0 ** chance[i]).items():
            recorded = None if run[f"{tau}_censored"] else float(run[tau])
            same = (measured is None) == (recorded is None) and (measured is None or np.isclose(measured, recorded))
            out.append(
                {
                    "reference": name,
                    "task": run["task"],
                    "clock": tau,
                    "log2_chance": chance[i],
                    "first_valid": first,
                    "measured": np.nan if measured is None else measured,
                    "corrected": np.nan if corrected is None else corrected,
                    "recorded_matches": bool(same),
                }
            )
    return out


def largest_shift(part: pd.DataFrame) -> float:
    """The largest |log10(corrected / measured)| over the runs that reached the clock both ways."""
    a, b = part["measured"].to_numpy(float), part["corrected"].to_numpy(float)
    both = ~np.isnan(a) & ~np.isnan(b)
    return float(np.max(np.abs(np.log10(b[both] / a[both])))) if both.any() else np.nan


def summary(df: pd.DataFrame) -> pd.DataFrame:
    def moved(part: pd.DataFrame) -> int:
        a, b = part["measured"].to_numpy(float), part["corrected"].to_numpy(float)
        return int(np.sum(np.isnan(a) != np.isnan(b)) + np.sum(~np.isnan(a) & ~np.isnan(b) & ~np.isclose(a, b)))

    out = []
    for (task, clock), part in df.groupby(["task", "clock"], sort=True):
        reached = part["measured"].notna()
        reached_c = part["corrected"].notna()
        out.append(
            {
                "task": task,
                "clock": clock,
                "runs": len(part),
                "log2_chance": round(float(part["log2_chance"].median()), 1),
                "first_valid": round(float(part["first_valid"].median()), 3),
                "measured": float(part.loc[reached, "measured"].median()) if reached.any() else np.nan,
                "reached": int(reached.sum()),
                "corrected": float(part.loc[reached_c, "corrected"].median()) if reached_c.any() else np.nan,
                "reached_corrected": int(reached_c.sum()),
                "moved": moved(part),
                "largest_shift_decades": largest_shift(part),
                "recorded_mismatch": int((~part["recorded_matches"]).sum()),
            }
        )
    return pd.DataFrame(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reference", nargs="+", default=shipped_names(), help="shipped references to read")
    args = ap.parse_args()
    df = pd.DataFrame([r for name in args.reference for r in rows(name)])
    with pd.option_context("display.width", 200, "display.max_columns", None, "display.float_format", "{:,.3g}".format):
        print(summary(df).to_string(index=False))


if __name__ == "__main__":
    main()
