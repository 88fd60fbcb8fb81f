"""Task registry: the built-in rules, tasks registered by name, and a user's own rules named by
import path or entry point (`twoclocks.plugins`). `resolve_task` turns a config's task section
into the form config.json keeps; `build_task` builds the rule it names."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import twoclocks.plugins as plugins
from twoclocks.core.fields import coerce, fill
from twoclocks.errors import ConfigError, PluginError, TwoClocksError, exception_line, quote
from twoclocks.tasks.base import Task
from twoclocks.tasks.ca import CellularAutomaton
from twoclocks.tasks.hamming_weight import HammingWeight
from twoclocks.tasks.images import MNIST, Digits, FashionMNIST
from twoclocks.tasks.latin import LatinSquare
from twoclocks.tasks.linear_code import LinearCode
from twoclocks.tasks.mirror import Mirror
from twoclocks.tasks.parity import GroupParity
from twoclocks.tasks.queens import Queens
from twoclocks.tasks.sparse_parity import SparseParity
from twoclocks.tasks.sudoku import Sudoku
from twoclocks.tasks.words import Words

ENTRY_POINTS = "twoclocks.tasks"  # the entry-point group of installed packages' tasks
SOURCE = "source"  # the task-section key that holds a rule file's content hash
RESERVED = ("name", SOURCE)  # task-section keys that are not the rule's parameters

TASKS: dict[str, type[Task]] = {}


def task_problem(obj: Any) -> str | None:
    """What keeps `obj` from being a task class, or None."""
    if not (inspect.isclass(obj) and issubclass(obj, Task)):
        return f"is not a twoclocks Task subclass (it is {type(obj).__name__} {obj!r})"[:200]
    if not isinstance(getattr(obj, "name", None), str) or not obj.name:
        return "has no `name` (a class attribute: the rule's short name)"
    if not dataclasses.is_dataclass(getattr(obj, "Params", None)):
        return "has no `Params` dataclass (its parameters, each with a default)"
    reserved = [f.name for f in dataclasses.fields(obj.Params) if f.name in RESERVED]
    if reserved:
        return f"uses the reserved parameter name(s) {reserved}"
    defaults = getattr(obj, "run_defaults", {})
    if not isinstance(defaults, dict) or any(not isinstance(k, str) or k.split(".")[0] == "task" for k in defaults):
        return "has `run_defaults` that are not a dict of config keys outside the task section"
    if inspect.isabstract(obj):
        return f"does not implement {sorted(getattr(obj, '__abstractmethods__', ()))}"
    return None


def register(cls: type[Task]) -> type[Task]:
    """Make `cls` known by `cls.name` in this process (e.g. `task=row_parity`). A class that
    lives in an importable module or a script file is kept in config.json by that path, so
    sweep workers and resumed runs load it by themselves."""
    problem = task_problem(cls)
    if problem:
        raise ConfigError(f"task {quote(cls)} {problem}")
    TASKS[cls.name] = cls
    return cls


# Binary rules, then puzzles, then natural data; `twoclocks tasks` lists them in this order.
BUILTIN: tuple[type[Task], ...] = (
    GroupParity,
    SparseParity,
    LinearCode,
    CellularAutomaton,
    HammingWeight,
    Mirror,
    Sudoku,
    LatinSquare,
    Queens,
    Words,
    Digits,
    MNIST,
    FashionMNIST,
)
for _cls in BUILTIN:
    register(_cls)


def task_plugin(name: str, source: str | None = None) -> plugins.Plugin:
    """The task class `name` refers to and the reference config.json keeps for it."""
    found = plugins.load(name, "task", ENTRY_POINTS, TASKS, task_problem, source)
    return plugins.kept_by_import_path(found, TASKS, builtin=found.obj in BUILTIN)


def task_class(name: str) -> type[Task]:
    return task_plugin(name).obj


def task_label(name: str) -> tuple[str, str]:
    """(short name, knob) of the task a config names, for names of directories and rows; a
    rule that cannot be loaded here keeps the last part of its reference and no knob."""
    try:
        cls = task_class(name)
    except ConfigError:
        return name.rpartition(":")[2], ""
    return cls.name, cls.knob


def portable(task: dict) -> bool:
    """Whether a process other than this one can load the task a resolved section names."""
    return task["name"] not in TASKS or TASKS[task["name"]] in BUILTIN


def run_defaults(name: Any) -> dict[str, Any]:
    """The config values the task `name` takes where a run does not set them (Task.run_defaults)."""
    return dict(task_class(coerce(name, str, "task")).run_defaults)


def resolve_task(task: dict) -> dict:
    """A config's task section with the reference config.json keeps, the file hash of a rule
    file, and every parameter coerced and filled in."""
    params = {k: v for k, v in task.items() if k not in RESERVED}
    source = coerce(task.get(SOURCE), str | None, f"task.{SOURCE}")
    found = task_plugin(coerce(task.get("name", "parity"), str, "task"), source)
    try:
        values = fill(found.obj.Params, params, "task", f"task {quote(found.ref)}")
    except TwoClocksError:
        raise
    except Exception as exc:  # a plugin's own Params refusing a value its own way
        raise PluginError(f"task {found.ref}: {found.obj.Params.__name__}(...) raised {exception_line(exc)}") from None
    return {"name": found.ref, **({SOURCE: found.source} if found.source else {}), **dataclasses.asdict(values)}


def build_task(task: dict) -> Task:
    """The rule a (resolved) task section names."""
    resolved = resolve_task(task)
    cls = task_class(resolved["name"])
    return cls(cls.Params(**{k: v for k, v in resolved.items() if k not in RESERVED}))


def make_task(name: str, **params: Any) -> Task:
    """Build a task by name, e.g. make_task("parity", G=3, layout="random")."""
    return build_task({"name": name, **params})
