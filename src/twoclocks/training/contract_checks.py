"""What each method of a user's task or model must return (the contracts of
`twoclocks.tasks.base.Task` and `twoclocks.models.base.GenerativeModel`), as checks that say in
words what is wrong with an output, or None.

A check is `check(obj, args, out) -> str | None`: `obj` the task or model, `args` the positional
arguments of the call, `out` what it returned. The words follow the method's name in a message:
`task /abs/r.py:R: constraints() returned shape (8,) for 8 items, not (8, k) with k >= 1`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

Check = Callable[[Any, tuple, Any], "str | None"]
MAX_VALUES = 256  # cells are uint8


def _kind(out: Any) -> str:
    return f"a {type(out).__name__}" if not isinstance(out, np.ndarray) else f"{out.dtype} shape {out.shape}"


def _first(args: tuple) -> Any:
    return args[0] if args else None


def _count(args: tuple) -> int | None:
    """The number of items (rows) the call's first argument holds."""
    first = _first(args)
    try:
        return len(first)
    except TypeError:
        return None


def cells_problem(out: Any, n: Any, shape: tuple, values: int, what: str) -> str | None:
    """What is wrong with `out` as integer cells (n, H, W) in [0, values); n None: any count.
    `what` says what n counts, e.g. "for n=8"."""
    if not isinstance(out, np.ndarray):
        return f"returned {_kind(out)}, not a numpy array of cells (n, H, W)"
    expected = ("n" if n is None else n, *shape)
    if out.ndim != 3 or tuple(out.shape[1:]) != tuple(shape) or (n is not None and len(out) != n):
        return f"returned shape {out.shape} {what}, not ({', '.join(map(str, expected))})"
    if not (out.dtype == bool or np.issubdtype(out.dtype, np.integer)):
        return f"returned {out.dtype} cells, not integers"
    if out.size and (int(out.min()) < 0 or int(out.max()) >= values):
        return f"returned cell values in [{int(out.min())}, {int(out.max())}], outside [0, {values})"
    return None


def _rows_problem(out: Any, n: int | None, ndim: int, what: str) -> str | None:
    if not isinstance(out, np.ndarray):
        return f"returned {_kind(out)}, not a numpy array {what}"
    if out.ndim != ndim or len(out) != n or (ndim == 2 and out.shape[1] < 1):
        return f"returned shape {out.shape} for {n} items, not {what}"
    return None


# ----- a task ------------------------------------------------------------------------------
def _sample(task: Any, args: tuple, out: Any) -> str | None:
    n = _first(args)
    return cells_problem(out, n, task.shape, task.num_values, f"for n={n}")


def _bool_rows(ndim: int) -> Check:
    """The check of a bool output with one row per item: (n,) when ndim is 1 (is_valid), (n, k)
    with k >= 1 when it is 2 (constraints)."""

    def check(task: Any, args: tuple, out: Any) -> str | None:
        n = _count(args)
        problem = _rows_problem(out, n, ndim, f"({n}, k) with k >= 1" if ndim == 2 else f"({n},)")
        if problem is None and out.dtype != bool:
            return f"returned {out.dtype}, not bool"
        return problem

    return check


def _constraint_acc(task: Any, args: tuple, out: Any) -> str | None:
    n = _count(args)
    problem = _rows_problem(out, n, 1, f"({n},)")
    if problem is not None:
        return problem
    if not (out.dtype == bool or np.issubdtype(out.dtype, np.number)) or np.iscomplexobj(out):
        return f"returned {out.dtype}, not fractions"
    if out.size and not (np.all(np.isfinite(out)) and out.min() >= 0 and out.max() <= 1):
        return "returned values outside [0, 1] (a fraction of constraints per item)"
    return None


def _enumerate(task: Any, args: tuple, out: Any) -> str | None:
    return None if out is None else cells_problem(out, None, task.shape, task.num_values, "for the population")


def _as_text(task: Any, args: tuple, out: Any) -> str | None:
    n = _count(args)
    if out is None:
        return None
    if not isinstance(out, (list, tuple)) or len(out) != n or not all(isinstance(s, str) for s in out):
        return f"returned {_kind(out)}, not None or a list of {n} strings"
    return None


def _near_ball(task: Any, args: tuple, out: Any) -> str | None:
    if out is None or (isinstance(out, (int, np.integer)) and not isinstance(out, bool) and out >= 1):
        return None
    return f"returned {out!r:.60}, not None or a count >= 1"


def _definition(task: Any, args: tuple, out: Any) -> str | None:
    if isinstance(out, dict) and all(isinstance(k, str) for k in out):
        return None
    return f"returned {_kind(out)}, not a dict with text keys"


def _source_digest(task: Any, args: tuple, out: Any) -> str | None:
    if out is None or (isinstance(out, str) and 0 < len(out) <= 128 and out.isprintable()):
        return None
    return f"returned {_kind(out)}, not None or a short text"


def _token_order(task: Any, args: tuple, out: Any) -> str | None:
    if out is None:
        return None
    cells = task.num_cells
    order = np.asarray(out) if isinstance(out, (np.ndarray, list, tuple)) else None
    if order is None or order.shape != (cells,) or sorted(order.tolist()) != list(range(cells)):
        return f"returned {_kind(out)}, not None or a permutation of the {cells} cell indices"
    return None


def _shape(task: Any, args: tuple, out: Any) -> str | None:
    if isinstance(out, tuple) and len(out) == 2 and all(_positive_int(s) for s in out):
        return None
    return f"is {out!r:.60}, not a tuple (H, W) of positive integers"


def _num_values(task: Any, args: tuple, out: Any) -> str | None:
    if _positive_int(out) and 2 <= out <= MAX_VALUES:
        return None
    return f"is {out!r:.60}, not an integer in [2, {MAX_VALUES}]"


def _log2_population(task: Any, args: tuple, out: Any) -> str | None:
    if _real(out) and (math.isnan(out) or 0 <= out < math.inf):
        return None
    return f"is {out!r:.60}, not a number >= 0 (or NaN: unknown)"


def _valid_chance(task: Any, args: tuple, out: Any) -> str | None:
    if _real(out) and 0 <= out <= 1:
        return None
    return f"is {out!r:.60}, not a rate in [0, 1]"


def _distinct_items(task: Any, args: tuple, out: Any) -> str | None:
    return None if out is None or _positive_int(out) else f"returned {out!r:.60}, not None or a positive integer"


def min_items_problem(value: Any) -> str | None:
    """What is wrong with a task's `min_items` (a class attribute, read once by the probe)."""
    return None if _positive_int(value) else f"is {value!r:.60}, not a positive integer"


def _positive_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool) and bool(x > 0)


def _real(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


# What a task's methods and properties must return (None: anything; exceptions only).
TASK_METHODS: dict[str, Check | None] = {
    "sample": _sample,
    "constraints": _bool_rows(2),
    "is_valid": _bool_rows(1),
    "constraint_acc": _constraint_acc,
    "enumerate": _enumerate,
    "as_text": _as_text,
    "near_ball": _near_ball,
    "near_chance": None,
    "mem_chance": None,
    "definition": _definition,
    "token_order": _token_order,
    "source_digest": _source_digest,
    "distinct_items": _distinct_items,
    "check_size": None,
    "describe": None,
}
TASK_PROPERTIES: dict[str, Check | None] = {
    "shape": _shape,
    "num_values": _num_values,
    "log2_population": _log2_population,
    "population_exact": None,
    "valid_chance": _valid_chance,
}


# ----- a model -----------------------------------------------------------------------------
def _tensor_rows(out: Any, n: int | None) -> str | None:
    if not isinstance(out, torch.Tensor):
        return f"returned {_kind(out)}, not a torch tensor"
    if out.ndim < 1 or len(out) != n:
        return f"returned shape {tuple(out.shape)} for {n} rows, not ({n}, ...)"
    return None


def _encode(model: Any, args: tuple, out: Any) -> str | None:
    return _tensor_rows(out, _count(args))


def _loss(model: Any, args: tuple, out: Any) -> str | None:
    if not isinstance(out, torch.Tensor):
        return f"returned {_kind(out)}, not a scalar float tensor"
    if out.numel() != 1 or not out.is_floating_point():
        return f"returned {out.dtype} shape {tuple(out.shape)}, not a scalar float tensor"
    return None


def _noise(model: Any, args: tuple, out: Any) -> str | None:
    return _tensor_rows(out, _first(args))


def _generate(model: Any, args: tuple, out: Any) -> str | None:
    n = _count(args)
    return cells_problem(out, n, model.encoding.shape, model.encoding.num_values, f"for {n} rows of noise")


def _generate_values(model: Any, args: tuple, out: Any) -> str | None:
    return _tensor_rows(out, _count(args))


def _extra_metrics(model: Any, args: tuple, out: Any) -> str | None:
    if isinstance(out, dict) and all(isinstance(k, str) and (_real(v) or isinstance(v, bool)) for k, v in out.items()):
        return None
    return f"returned {_kind(out)}, not a dict of numbers by name"


def _group_blocker(model: Any, args: tuple, out: Any) -> str | None:
    return None if out is None or isinstance(out, str) else f"returned {_kind(out)}, not None or a reason in words"


MODEL_METHODS: dict[str, Check | None] = {
    "encode": _encode,
    "loss": _loss,
    "make_sample_noise": _noise,
    "generate": _generate,
    "generate_values": _generate_values,
    "extra_metrics": _extra_metrics,
    "group_blocker": _group_blocker,
    "loss_draws": None,
    "grouped": None,
}
