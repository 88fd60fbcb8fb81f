"""The keys of summary.json and the results-table columns made from them, declared once.

A run's summary is its clocks (`twoclocks.clocks.clock_keys`, derived from RULE_CLOCKS and
MEM_CLOCKS) followed by RUN_KEYS, what the trainer knows about the run. Every other list of
summary keys is derived from here: what readers may rely on in any finished summary
(`required_keys`), and the columns a sweep copies into results.parquet
(`twoclocks.sweeps.results`, from RUN_KEYS' `column` flags and the clocks' declarations).
Adding a clock to its declaration adds it to the summary, the results table and every reader.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from twoclocks.clocks import (
    CLOCK_FIELDS,
    GEN_CLOCKS,
    MEM,
    MEM_CLOCKS,
    NOVEL_PEAK,
    PRIMARY,
    RULE_CLOCKS,
    clock_keys,
    peak_keys,
)
from twoclocks.errors import quote


@dataclass(frozen=True)
class RunKey:
    name: str
    column: bool = False  # a results.parquet column
    required: bool = False  # every finished summary has had it, so readers may rely on it
    timing: bool = False  # differs between two executions of the same run


# What a run adds to its clocks, in summary.json's order.
RUN_KEYS = (
    RunKey("train_seconds", column=True, required=True, timing=True),
    RunKey("eval_seconds", column=True, required=True, timing=True),
    RunKey("wall_seconds", column=True, required=True, timing=True),
    RunKey("eval_share", column=True, required=True, timing=True),
    RunKey("num_params", column=True, required=True),
    RunKey("log2_population", column=True),
    RunKey("mem_chance", column=True, required=True),
    RunKey("mem_near_chance"),  # what rebuilding tau_mem_near needs from the rule
    RunKey("valid_chance"),  # what the rule clocks read `valid` against; absent before format 5
    RunKey("device", column=True, timing=True),
    RunKey("stop_at", column=True),
    RunKey("stopped_step", column=True),
    RunKey("stop_reason", column=True),
    RunKey("steps"),
    RunKey("seed", required=True),
    RunKey("N", required=True),
    RunKey("task", required=True),
    # The rule's short name and knob ("" when none). Like mem_near_chance, recorded because a
    # reader never imports a plugin's rule to ask it (twoclocks.records.recorded).
    RunKey("task_name"),
    RunKey("task_knob", column=True),
    RunKey("task_hash"),
    RunKey("model_family", required=True),
    RunKey("status", required=True),
    RunKey("versions"),
    RunKey("config", required=True),
    RunKey("steps_auto"),  # train.steps=auto: the prediction that sized the budget, else None
)
# The clock keys every finished summary has had (summary_lines, compare and the report read them).
REQUIRED_CLOCK_KEYS = ("max_step", PRIMARY.tau, MEM.tau, *peak_keys(NOVEL_PEAK))


def summary_keys() -> list[str]:
    """Every key of a new summary.json, in its order."""
    return clock_keys() + [k.name for k in RUN_KEYS]


def required_keys() -> list[str]:
    """The keys a finished summary of any version has."""
    return [*REQUIRED_CLOCK_KEYS, *(k.name for k in RUN_KEYS if k.required)]


def run_summary(clocks: dict, **run: Any) -> dict:
    """A summary: `clocks` (compute_clocks') then the run's values, one per RUN_KEYS entry."""
    names = [k.name for k in RUN_KEYS]
    if set(run) != set(names):
        raise ValueError(f"a summary needs {sorted(set(names) - set(run))}, not {sorted(set(run) - set(names))}")
    return {**clocks, **{name: run[name] for name in names}}


def step_keys() -> dict[str, str]:
    """{key: its clock} for every summary key valued in steps or epochs (a clock, its interval,
    its erosion, their epochs): a positive number where it is not null."""
    keys = set(clock_keys(optional=True))
    suffixes = [s for s in CLOCK_FIELDS if not s.endswith("censored")]
    taus = [rc.tau for rc in (*RULE_CLOCKS, *GEN_CLOCKS)] + [mc.tau for mc in MEM_CLOCKS]
    return {t + s: t for t in taus for s in suffixes if t + s in keys}


def pair_keys() -> set[str]:
    """The clock keys valued as a pair [early, late] (intervals, a window) rather than a number."""
    windows = {rc.key("window") for rc in (*RULE_CLOCKS, *GEN_CLOCKS)}
    return {k for k in clock_keys(optional=True) if k.endswith("_ci")} | windows


def bad_clock_value(summary: dict) -> str | None:
    """What is wrong with the first clock key of a summary whose value no run writes (NaN,
    infinite, text or a list where a number belongs, a pair that is not two numbers, a step that
    is not positive, a reached clock without its epochs, thresholds that are not numbers), or
    None when every clock key is sound."""
    steps, pairs = step_keys(), pair_keys()
    for key in [*clock_keys(optional=True), "mem_chance"]:
        if key not in summary:
            continue
        value = summary[key]
        if key == "thresholds":
            if not isinstance(value, dict) or not all(_number(v) for v in value.values()):
                return f"thresholds is {quote(value)}, not a table of numbers"
            continue
        if key in pairs and value is not None and (not isinstance(value, list) or len(value) != 2):
            return f"{key} is {quote(value)}, not a pair [early, late] or null"
        if key not in pairs and isinstance(value, list):
            return f"{key} is {quote(value)}, not a number or null"
        for v in value if isinstance(value, list) else [value]:
            if v is None or isinstance(v, bool):
                continue
            if not _number(v):
                return f"{key} is {quote(value)}, not a number or null"
            if key in steps and v <= 0:
                return f"{key} is {quote(value)}, not a positive step count or null"
        reached = key.removesuffix("_epochs")
        if key in steps and reached != key and value is None and summary.get(reached) is not None:
            return f"{key} is null while {reached} is reached"
    return None


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
