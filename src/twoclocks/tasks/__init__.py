"""Task registry: `make_task(name, **params)` builds any registered rule-valid task."""

from __future__ import annotations

import dataclasses
from typing import Any

from twoclocks.errors import ConfigError
from twoclocks.tasks.base import Task
from twoclocks.tasks.ca import CellularAutomaton
from twoclocks.tasks.hamming_weight import HammingWeight
from twoclocks.tasks.latin import LatinSquare
from twoclocks.tasks.linear_code import LinearCode
from twoclocks.tasks.mirror import Mirror
from twoclocks.tasks.parity import GroupParity
from twoclocks.tasks.queens import Queens
from twoclocks.tasks.sparse_parity import SparseParity
from twoclocks.tasks.sudoku import Sudoku

TASKS: dict[str, type[Task]] = {}


def register(cls: type[Task]) -> type[Task]:
    TASKS[cls.name] = cls
    return cls


# Binary rules, then puzzles; `twoclocks tasks` lists them in this order.
for _cls in (
    GroupParity,
    SparseParity,
    LinearCode,
    CellularAutomaton,
    HammingWeight,
    Mirror,
    Sudoku,
    LatinSquare,
    Queens,
):
    register(_cls)


def task_params(name: str, **params: Any):
    """Resolve `params` against the task's Params dataclass (unknown keys are an error)."""
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}; choose one of {sorted(TASKS)}")
    cls = TASKS[name]
    fields = {f.name: f for f in dataclasses.fields(cls.Params)}
    for key in params:
        if key not in fields:
            raise ConfigError(f"unknown field task.{key} for task {name!r}; it has {sorted(fields)}")
    return cls.Params(**params)


def make_task(name: str, **params: Any) -> Task:
    """Build a task by name, e.g. make_task("parity", G=3, layout="random")."""
    return TASKS[name](task_params(name, **params))
