"""Extrapolation warnings, in words: a law says nothing reliable where its runs never were.

A rule no fitted run has (predicted from its features: `features`), then three kinds, each
naming the config field:
- a modelled variable outside the range of the fitted runs of the same family and rule
  ("data.N=512 is 2.0x above the largest N fitted for dit on parity (256)");
- a modelled variable the fit never varied ("every fitted run has model.patch=2");
- any other config field at a value no fitted run had ("train.warmup=50: ...").
"""

from __future__ import annotations

import math
from collections.abc import Collection

import numpy as np
import pandas as pd

from twoclocks.prediction.variables import NUMERIC, config_key_values, task_knob


def _range_warning(key: str, value: float, lo: float, hi: float, where: str) -> str | None:
    if lo <= value <= hi:
        return None
    edge, side = (hi, "above the largest") if value > hi else (lo, "below the smallest")
    factor = max(value / edge, edge / value) if value > 0 and edge > 0 else float("inf")
    return f"{key}={value:g} is {factor:.2g}x {side} {key} fitted for {where} ({edge:g}): extrapolated"


def _bits_warning(flat: dict, x: float, lo: float, hi: float, where: str, unseen: bool) -> str | None:
    if lo - 1e-9 <= x <= hi + 1e-9:
        return None
    knob = task_knob(str(flat["task"]))
    setting = "" if knob is None else f"task.{knob}={flat.get(f'task.{knob}')}: "
    if math.isnan(x):  # an image set: its population is not enumerable (`design` centres it)
        size = f"the rule's size is unknown ({setting}no log2 population)"
        return f"{size}: the law takes the mean size of the fitted runs"
    # An unseen rule is predicted at the nearest fitted size (`predict.at_fitted_size`).
    how = f"predicted at the nearest fitted size, {min(max(x, lo), hi):.1f} bits" if unseen else "extrapolated"
    size = f"the rule's size ({setting}log2 population {x:.1f} bits)"
    return f"{size} is outside the {lo:.1f}-{hi:.1f} bits fitted for {where}: {how}"


def extrapolation_warnings(
    flat: dict, v: pd.DataFrame, table: pd.DataFrame, fitted: pd.DataFrame, measured: Collection[str] = ()
) -> list[str]:
    """Every warning for the config (`flat`: its flattened fields) with variables `v` (one row),
    against the fitted runs; `measured`: fields whose effect is measured, which warn where it
    is added (`measurement`)."""
    family, task = v["family"].iloc[0], v["task"].iloc[0]
    same = (fitted["family"] == family) & (fitted["task"] == task)
    same = same.to_numpy()
    where = f"{family} on {task}"
    unseen = not same.any()
    if unseen:
        same = (fitted["family"] == family).to_numpy()
        where = f"{family} (no fitted run of it on {task})"
    out: list[str] = []
    if task not in set(fitted["task"]):
        shown = ", ".join(f"{f} {float(v[f].iloc[0]):.3g}" for f in ("bits", "order"))
        out.append(
            f"task={task}: no fitted run has this rule; predicted from its measured features ({shown}), "
            "its own offset unknown: the interval carries the calibrated cost of an unseen rule"
        )
    for key, _ in NUMERIC.values():
        value, column = float(flat[key]), pd.to_numeric(table[key]).to_numpy(float)
        if np.ptp(column) == 0:
            if value != column[0]:
                out.append(
                    f"{key}={value:g}: every fitted run has {key}={column[0]:g}; the law does not say what it does"
                )
            continue
        text = _range_warning(key, value, float(column[same].min()), float(column[same].max()), where)
        out += [text] if text else []
    bits = fitted["bits"].to_numpy(float)
    lo, hi = float(bits[same].min()), float(bits[same].max())
    text = _bits_warning(flat, float(v["bits"].iloc[0]), lo, hi, where, unseen and task not in set(fitted["task"]))
    out += [text] if text else []
    # The knob is the rule's size (above); every other field, task.layout included, is checked
    # for a value no fitted run had.
    modelled = {key for key, _ in NUMERIC.values()} | {"model.family", "task", f"task.{task_knob(str(flat['task']))}"}
    for key, values in config_key_values(table).items():
        if key in modelled or key in measured or key not in flat:
            continue
        if values and flat[key] not in values and not _none_like(flat[key], values):
            shown = ", ".join(sorted(map(str, values)))
            out.append(f"{key}={flat[key]}: no fitted run has it (they have {shown}); not in the law")
    return out


def _none_like(value: object, values: set) -> bool:
    return value is None and all(isinstance(x, float) and np.isnan(x) for x in values)
