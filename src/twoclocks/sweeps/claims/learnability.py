"""The learnability map: which rule complexities (the task's knob, e.g. parity's G) a model of
each depth learns within the budget, and when (docs/sweeps.md, "Learnability map").

A cell is one (tokenisation, knob, depth): its runs' rule clock, summarised by the median over
seeds. A run whose clock is censored counts as "> its last step"; the cell is *learned* when
more than half of its runs reached the clock, and its median is then a number; otherwise the
cell is censored and reads "> budget". The claim "depth extends the range of learnable G, but
does not remove the limit" is judged per tokenisation from the largest learned knob at each
depth.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from twoclocks.sweeps.claims.fits import finished, knob_column
from twoclocks.sweeps.claims.verdicts import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED

# The keys that decide which cells share a token, each with how a row says it.
TOKENISATION: dict[str, Callable[[Any], str]] = {"model.patch": lambda v: f"patch {int(v)}", "task.layout": str}


def tokenisation(row: pd.Series) -> str:
    """'patch 2, contiguous' from a results row."""
    return ", ".join(say(row[k]) for k, say in TOKENISATION.items() if k in row and pd.notna(row[k])) or "-"


def varies_knob_and_depth(df: pd.DataFrame) -> bool:
    """True for a sweep whose finished runs vary both the task's knob and model.depth."""
    knob = knob_column(df)
    done = finished(df)
    return knob is not None and "model.depth" in done and done[knob].nunique() > 1 and done["model.depth"].nunique() > 1


def learnability_table(df: pd.DataFrame, clock: str = "tau_rule") -> pd.DataFrame:
    """One row per (tokenisation, knob, depth) cell: runs, learned runs, the median clock (None
    when censored), the budget (largest last step) and the N of its runs."""
    knob = knob_column(df)
    if knob is None or "model.depth" not in df:
        raise ValueError("a learnability map needs a sweep over one task's knob and model.depth")
    done = finished(df).copy()
    done["tokenisation"] = done.apply(tokenisation, axis=1)
    rows = []
    for (tok, k, depth), part in done.groupby(["tokenisation", knob, "model.depth"], sort=True):
        taus = part[clock].to_numpy(dtype=float)
        learned = ~np.isnan(taus)
        # Censored runs sort after every reached clock: the median is a number only when most
        # runs reached it.
        ordered = np.sort(np.where(learned, taus, np.inf))
        median = float(np.median(ordered)) if learned.sum() * 2 > len(taus) else None
        rows.append(
            {
                "tokenisation": tok,
                "knob": knob,
                "value": k,
                "depth": int(depth),
                "runs": len(part),
                "learned_runs": int(learned.sum()),
                "median": median if median is not None and math.isfinite(median) else None,
                "budget": int(part["max_step"].max()),
                "N": sorted(int(n) for n in part["data.N"].unique()) if "data.N" in part else [],
            }
        )
    return pd.DataFrame(rows)


def learnable_range(table: pd.DataFrame) -> pd.DataFrame:
    """Per tokenisation and depth: the largest knob value learned, and the knob values tried."""
    out = []
    for (tok, depth), part in table.groupby(["tokenisation", "depth"], sort=True):
        learned = part[part["median"].notna()]["value"]
        out.append(
            {
                "tokenisation": tok,
                "depth": depth,
                "max_learned": None if learned.empty else learned.max(),
                "tried": sorted(part["value"]),
            }
        )
    return pd.DataFrame(out)


def depth_extends_range(table: pd.DataFrame) -> tuple[str, str]:
    """(verdict, why) for "depth extends the range of learnable G, but does not remove the
    limit", over every tokenisation of the map; each must have at least two depths."""
    # Only the knob values tried at every depth of a tokenisation compare depths fairly.
    common = table.groupby("tokenisation")["value"].transform(
        lambda v: v.map(lambda x: (table.loc[v.index, "value"] == x).sum())
    )
    depths = table.groupby("tokenisation")["depth"].transform("nunique")
    table = table[common == depths]
    if table.empty or table.groupby("tokenisation")["value"].nunique().max() < 2:
        return INCONCLUSIVE, "not a knob x depth grid (fewer than 2 knob values tried at every depth)"
    ranges = learnable_range(table)
    verdicts, reasons = [], []
    for tok, part in ranges.groupby("tokenisation", sort=True):
        part = part.sort_values("depth")
        if len(part) < 2:
            verdicts.append(INCONCLUSIVE)
            reasons.append(f"{tok}: one depth only")
            continue
        top = [-math.inf if v is None or pd.isna(v) else float(v) for v in part["max_learned"]]
        shown = ", ".join(f"depth {d}: {'none' if t == -math.inf else f'<= {t:g}'}" for d, t in zip(part["depth"], top))
        monotone = all(b >= a for a, b in zip(top, top[1:]))
        extends = top[-1] > top[0]
        limit = top[-1] < max(max(t) for t in part["tried"])
        if monotone and extends and limit:
            verdicts.append(SUPPORTED)
            reasons.append(f"{tok}: learned up to {shown}; the largest knob stays unlearned")
        elif monotone and extends:
            verdicts.append(INCONCLUSIVE)
            reasons.append(f"{tok}: learned up to {shown}; every knob learned at the deepest (no limit seen)")
        elif not monotone:
            verdicts.append(NOT_SUPPORTED)
            reasons.append(f"{tok}: a deeper model learns a smaller range ({shown})")
        else:
            verdicts.append(NOT_SUPPORTED if top[0] > -math.inf else INCONCLUSIVE)
            reasons.append(f"{tok}: the same range at every depth ({shown})")
    if not verdicts:
        return INCONCLUSIVE, "no cells"
    if SUPPORTED in verdicts and NOT_SUPPORTED not in verdicts:
        verdict = SUPPORTED
    elif NOT_SUPPORTED in verdicts and SUPPORTED not in verdicts:
        verdict = NOT_SUPPORTED
    else:
        verdict = INCONCLUSIVE
    return verdict, "; ".join(reasons)
