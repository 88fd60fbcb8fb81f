"""A user's own task or model family is held to its contract at every call from twoclocks.

A plugin (a task class or a family builder that is not built in) is built here; its instance
then gets a subclass of its own class whose methods and properties call the user's and check
what they return (`twoclocks.training.contract_checks`), so that an exception or a wrong output
is one line (`PluginError`) naming the plugin's reference and the method,

    task /abs/r.py:R: constraints() returned shape (8,) for 8 items, not (8, k) with k >= 1

instead of a traceback deep in evaluation or clocks computed from wrong arrays. Built-in tasks
and families are returned as they are: they pay nothing. A probe then calls the plugin once on a
few items (a task) or samples (a model) when a run is built, before it writes anything, with
every random generator it could touch restored afterwards, so that the clocks are those of the
plugin unguarded.
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

import twoclocks.models as models
import twoclocks.tasks as tasks
from twoclocks.encoding import Encoding
from twoclocks.errors import PluginError, TwoClocksError, exception_line
from twoclocks.models.base import GenerativeModel
from twoclocks.models.config import ModelConfig
from twoclocks.tasks.base import Task
from twoclocks.training.contract_checks import MODEL_METHODS, TASK_METHODS, TASK_PROPERTIES, Check, min_items_problem
from twoclocks.training.numerics import generate

PROBE_ITEMS = 8  # items a task's probe samples
PROBE_SAMPLES = 2  # samples a model's probe generates


@contextmanager
def blamed(owner: str, what: str) -> Iterator[None]:
    """Inside the block, an exception of the plugin `owner` ("task /abs/r.py:R") is one
    PluginError line: `owner: what raised Type: message`. Interrupts pass, and so does a
    PluginError already raised by an inner guarded call; another twoclocks error gets `owner`
    and `what` in front."""
    try:
        yield
    except (KeyboardInterrupt, PluginError):
        raise
    except TwoClocksError as exc:
        raise PluginError(f"{owner}: {what}: {exc}") from None
    except BaseException as exc:  # a plugin's sys.exit() too: one line, not an exit status 0
        raise PluginError(f"{owner}: {what} raised {exception_line(exc)}") from None


def guard(obj: Any, owner: str, methods: Mapping[str, Check | None], properties: Mapping[str, Check | None]) -> None:
    """Give `obj` a guarded subclass of its class (see the module docstring), in place."""
    key = (type(obj), owner)
    if key not in _GUARDED:
        _GUARDED[key] = _guarded_class(type(obj), owner, methods, properties)
    obj.__class__ = _GUARDED[key]


_GUARDED: dict[tuple[type, str], type] = {}


def _guarded_class(
    cls: type, owner: str, methods: Mapping[str, Check | None], properties: Mapping[str, Check | None]
) -> type:
    """A subclass of `cls` with the same names, whose `methods` and `properties` are guarded."""
    namespace: dict[str, Any] = {"__module__": cls.__module__, "__qualname__": cls.__qualname__, "__doc__": cls.__doc__}
    for name, check in methods.items():
        found = inspect.getattr_static(cls, name, None)
        if isinstance(found, classmethod):
            namespace[name] = classmethod(_method(found.__func__, f"{name}()", owner, check))
        elif callable(found) and not isinstance(found, staticmethod):
            namespace[name] = _method(found, f"{name}()", owner, check)
    for name, check in properties.items():
        found = inspect.getattr_static(cls, name, None)
        if isinstance(found, property):
            namespace[name] = property(_method(found.__get__, name, owner, check))
    return type(cls)(cls.__name__, (cls,), namespace)


def _method(fn: Callable, what: str, owner: str, check: Check | None) -> Callable:
    def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        with blamed(owner, what):
            out = fn(self, *args, **kwargs)
        problem = None if check is None else check(self, args, out)
        if problem:
            raise PluginError(f"{owner}: {what} {problem}")
        return out

    guarded.__name__ = guarded.__qualname__ = getattr(fn, "__name__", what)
    guarded.__doc__ = getattr(fn, "__doc__", None)
    return guarded


@contextmanager
def untouched_generators(device: torch.device | None = None) -> Iterator[None]:
    """Python's, numpy's and torch's global generators (and the CUDA device's) as they were
    before the block: a probe of a plugin that draws from them does not move the run's draws."""
    state, np_state = random.getstate(), np.random.get_state()
    cuda = [device.index or 0] if device is not None and device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=cuda):
            yield
    finally:
        random.setstate(state)
        np.random.set_state(np_state)


# ----- a task ------------------------------------------------------------------------------
def checked_task(section: dict) -> Task:
    """The rule a resolved task section names; a plugin's guarded and probed (`probe_task`)."""
    cls = tasks.task_class(section["name"])
    if cls in tasks.BUILTIN:
        return tasks.build_task(section)
    owner = f"task {section['name']}"
    with blamed(owner, "building it"):
        task = tasks.build_task(section)
    guard(task, owner, TASK_METHODS, TASK_PROPERTIES)
    with untouched_generators():
        probe_task(task, owner)
    return task


def probe_task(task: Task, owner: str) -> None:
    """Every property and the rule's methods once, on PROBE_ITEMS sampled items: well formed,
    and (for a rule) every sampled item valid by the rule's own is_valid."""
    for name in TASK_PROPERTIES:
        getattr(task, name)  # checked as it is read
    task.token_order()
    task.source_digest()
    task.distinct_items(read=False)
    problem = min_items_problem(task.min_items)
    if problem:
        raise PluginError(f"{owner}: min_items {problem}")
    with blamed(owner, "definition()"):
        task.content_hash()  # the definition as JSON, kept with every run
    items = task.sample(PROBE_ITEMS, np.random.default_rng(0))
    task.constraints(items)
    valid = task.is_valid(items)
    task.constraint_acc(items)
    if task.has_rule and not valid.all():
        bad = np.flatnonzero(~valid)
        raise PluginError(
            f"{owner}: sample() drew items that is_valid() calls invalid ({len(bad)} of {PROBE_ITEMS}, "
            f"the first is item {bad[0]}); a run trains on valid items only"
        )


# ----- a model -----------------------------------------------------------------------------
def checked_model(cfg: ModelConfig, encoding: Encoding, train_cells: np.ndarray) -> GenerativeModel:
    """The model of a resolved model section; a plugin family's builder blamed for what it
    raises, and the model it builds guarded."""
    if cfg.family in models.BUILTIN:
        return models.build_model(cfg, encoding, train_cells)
    owner = f"model {cfg.family}"
    builder = models.family_plugin(cfg.family, cfg.source).obj
    with blamed(owner, "its builder"):
        model = builder(cfg, encoding, train_cells)
    if not isinstance(model, GenerativeModel):
        raise PluginError(f"{owner}: its builder returned a {type(model).__name__}, not a twoclocks GenerativeModel")
    guard(model, owner, MODEL_METHODS, {})
    return model


def probe_model(model: GenerativeModel, family: str, device: torch.device) -> None:
    """Generate PROBE_SAMPLES samples with a plugin family's fresh model, on the run's device
    and as an evaluation does (`numerics.generate`), so that a family whose sampling fails is
    refused before the run writes anything; a built-in family is not probed."""
    if family in models.BUILTIN:
        return
    with untouched_generators(device):
        noise = model.make_sample_noise(PROBE_SAMPLES, torch.Generator(device).manual_seed(0))
        generate(model, noise, PROBE_SAMPLES)
