"""A rule of one's own, predicted from a few pilot runs of it:

    twoclocks predict task=./myrule.py:R task.n=5 data.N=512 --from PILOT_SWEEP

The laws are fitted on the shipped reference and the pilot runs together: the pilot runs give
the rule its own offset (`design`: a random effect per rule), the reference gives every shape
(the exponent in N, the family, the capacity, the optimiser). The intervals carry the shipped
calibration, and reach from the pilot runs (a config at N = 512 from pilots at N <= 32 is more
than a decade beyond them in N, and its interval says so).

The rule is never imported (a prediction reads data; it runs nobody's code): what the laws
need of it is what the pilot runs recorded: their rule (the task column, a file rule matched
also by its content hash and class name, so a sweep run from another folder counts), its
parameters and its log2 population. A config whose parameters no pilot run had is refused in
one line: its size is unknown without running the rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from twoclocks.config import RunConfig, apply_overrides
from twoclocks.errors import ConfigError
from twoclocks.plugins import file_hash, is_path_reference
from twoclocks.prediction.features import DESCRIBED
from twoclocks.prediction.predict import pilot_runs_needed
from twoclocks.prediction.reference import Runs, distinct_runs, reference_runs
from twoclocks.prediction.variables import RecordedRule, task_params
from twoclocks.tasks import TASKS


def own_rule(overrides: Mapping[str, Any]) -> str | None:
    """The task an override dict names when the rule features do not describe it (a rule of
    one's own, or a built-in task of natural data: `features.DESCRIBED`), else None."""
    name = overrides.get("task", overrides.get("task.name"))
    if isinstance(name, dict):
        name = name.get("name")
    return None if name is None or str(name) in DESCRIBED else str(name)


def config_without_rule(
    overrides: Mapping[str, Any], name: str | None = None
) -> tuple[RunConfig, tuple[tuple[str, object], ...]]:
    """(the config of every field but the task, the task's parameters as sorted pairs): the
    rule is left unresolved, so that nothing imports it. A task class known in this process by
    `name` (a built-in task of natural data) adds its run_defaults (words: one cell per token),
    as a run of it does; the overrides win."""
    known = TASKS.get(name) if name is not None else None
    defaults = dict(known.run_defaults) if known is not None else {}
    rest = {k: v for k, v in {**defaults, **overrides}.items() if k != "task" and not str(k).startswith("task.")}
    given = {str(k).removeprefix("task."): v for k, v in overrides.items() if str(k).startswith("task.")}
    params = tuple(sorted((k, v) for k, v in given.items() if k not in ("name", "source")))
    return apply_overrides(RunConfig(), rest), params


def same_rule(column: pd.Series, sources: pd.Series, name: str) -> np.ndarray:
    """Which rows of a results table are runs of the rule `name` (a file rule: the same file,
    or one of the same content and class name)."""
    hit = (column.astype(str) == name).to_numpy().copy()
    if is_path_reference(name):
        path_text, _, attr = name.rpartition(":")
        path = Path(path_text).expanduser()
        hit |= (column.astype(str) == f"{path.resolve()}:{attr}").to_numpy()
        if path.is_file():  # reading its bytes runs nothing
            by_content = (sources.astype(str) == file_hash(path)).to_numpy()
            hit |= by_content & column.astype(str).str.endswith(f":{attr}").to_numpy()
    return hit


def recorded_rule(name: str, params: tuple[tuple[str, object], ...], pilots: pd.DataFrame) -> RecordedRule:
    """The rule of the config as the pilot runs recorded it (module docstring); one line if no
    pilot run is of this rule, or none had these parameters."""
    sources = pilots["task.source"] if "task.source" in pilots else pd.Series("", index=pilots.index)
    runs = pilots[same_rule(pilots["task"], sources, name)]
    if runs.empty:
        raise ConfigError(f"task={name}: no run of the --from sweeps is of this rule; give its pilot runs")
    given = dict(params)
    for _, row in runs.iterrows():
        recorded = dict(task_params(row))
        if all(recorded.get(k) == v for k, v in given.items()):
            return RecordedRule(str(row["task"]), tuple(sorted(recorded.items())), float(row["log2_population"]))
    had = sorted({" ".join(f"task.{k}={v}" for k, v in task_params(r)) or "its defaults" for _, r in runs.iterrows()})
    raise ConfigError(
        f"task={name}: no pilot run had {' '.join(f'task.{k}={v}' for k, v in params)}; the pilot runs had "
        f"{'; '.join(had)} (the rule's size is known only from runs of it)"
    )


def joint_runs(pilots: Runs) -> Runs:
    """The shipped reference and the pilot runs, each run once."""
    ref = reference_runs()
    return Runs(distinct_runs(pd.concat([ref.table, pilots.table], ignore_index=True)), (*ref.sources, *pilots.sources))


def pilot_sweeps(sweeps: Sequence[str | Path] | None, name: str) -> Sequence[str | Path]:
    """The sweeps that hold a rule's pilot runs; one line on what to run where none is given."""
    if not sweeps:
        raise ConfigError(pilot_runs_needed(name))
    return sweeps
