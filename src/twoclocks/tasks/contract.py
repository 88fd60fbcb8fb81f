"""A user's rule is held to the Task contract at every call: an exception it raises, or an
output of the wrong kind, is one line (`PluginError`) that names the rule and the method,
instead of a traceback deep in evaluation or, worse, clocks computed from wrong arrays.

`Task.__init_subclass__` wraps the methods of every Task subclass defined outside twoclocks;
`probe` calls them once, on a few items, when a run builds its rule, so that a broken rule is
refused before anything is written.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from twoclocks.errors import PluginError, TwoClocksError, exception_line, plugin_name, quote

PROBE_ITEMS = 8  # items `probe` samples
MAX_VALUES = 256  # cells are uint8


def _sample_problem(task: Any, args: tuple, out: Any) -> str | None:
    n = args[0] if args else None
    if not isinstance(out, np.ndarray):
        return f"returned a {type(out).__name__}, not a numpy array of cells (n, H, W)"
    if out.ndim != 3 or len(out) != n or out.shape[1:] != tuple(task.shape):
        return f"returned shape {out.shape} for n={quote(n)}, not (n, H, W) = (n, {task.shape[0]}, {task.shape[1]})"
    if not (np.issubdtype(out.dtype, np.integer) or out.dtype == bool):
        return f"returned {out.dtype} cells, not integers"
    if out.size and (out.min() < 0 or out.max() >= task.num_values):
        return f"returned cell values in [{out.min()}, {out.max()}], outside [0, {task.num_values})"
    return None


def _constraints_problem(task: Any, args: tuple, out: Any) -> str | None:
    n = len(args[0]) if args else None
    if not isinstance(out, np.ndarray):
        return f"returned a {type(out).__name__}, not a numpy bool array (n, k)"
    if out.ndim != 2 or len(out) != n or out.shape[1] < 1:
        return f"returned shape {out.shape} for {n} items, not (n, k) = ({n}, k >= 1)"
    if out.dtype != bool:
        return f"returned {out.dtype}, not bool"
    return None


# The methods a rule may define, and what their outputs must be (None: any output).
CHECKS: dict[str, Callable[[Any, tuple, Any], str | None] | None] = {
    "sample": _sample_problem,
    "constraints": _constraints_problem,
    "is_valid": None,
    "constraint_acc": None,
    "enumerate": None,
    "as_text": None,
    "near_ball": None,
    "definition": None,
}


def guard_class(cls: type) -> None:
    """Wrap the CHECKS methods that `cls` itself defines (see the module docstring)."""
    for name, check in CHECKS.items():
        if name in vars(cls) and callable(vars(cls)[name]):
            setattr(cls, name, _guarded(vars(cls)[name], name, check))


def _guarded(fn: Callable, name: str, check: Callable[[Any, tuple, Any], str | None] | None) -> Callable:
    @functools.wraps(fn)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            out = fn(self, *args, **kwargs)
        except TwoClocksError:
            raise
        except Exception as exc:
            raise PluginError(f"task {plugin_name(type(self))}: {name}() raised {exception_line(exc)}") from None
        problem = check(self, args, out) if check is not None else None
        if problem:
            raise PluginError(f"task {plugin_name(type(self))}: {name}() {problem}")
        return out

    return call


def probe(task: Any) -> None:
    """Call a rule's properties and methods once on PROBE_ITEMS sampled items: shape and value
    count well formed, items of the right kind, and (for a rule) every sampled item valid."""
    owner = f"task {plugin_name(type(task))}"
    try:
        shape, values = task.shape, task.num_values
        log2 = float(task.log2_population)
    except TwoClocksError:
        raise
    except Exception as exc:
        raise PluginError(f"{owner}: its shape, num_values or log2_population raised {exception_line(exc)}") from None
    shape_ok = isinstance(shape, tuple) and len(shape) == 2 and all(isinstance(s, int) and s > 0 for s in shape)
    if not shape_ok:
        raise PluginError(f"{owner}: shape is {quote(shape)}, not (H, W) of positive integers")
    if not isinstance(values, int) or not 2 <= values <= MAX_VALUES:
        raise PluginError(f"{owner}: num_values is {quote(values)}, not an integer in [2, {MAX_VALUES}]")
    if log2 < 0:
        raise PluginError(f"{owner}: log2_population is {log2}, below 0 (one valid item)")
    items = task.sample(PROBE_ITEMS, np.random.default_rng(0))
    valid = np.asarray(task.is_valid(items))
    if task.has_rule and not valid.all():
        bad = int(np.flatnonzero(~valid)[0])
        raise PluginError(
            f"{owner}: sample() drew items its own constraints() call invalid (item {bad} of {PROBE_ITEMS}); "
            f"a run trains on valid items only"
        )
