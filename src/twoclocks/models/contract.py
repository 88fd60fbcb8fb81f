"""A user's model family is held to the GenerativeModel contract at every call: an exception
its model raises, or samples of the wrong shape, are one line (`PluginError`) that names the
model class and the method. `GenerativeModel.__init_subclass__` wraps the methods of every
subclass defined outside twoclocks; `probe` generates a few samples when a run of a model
family that is not built in is built, before anything is written.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from twoclocks.errors import PluginError, TwoClocksError, exception_line, plugin_name

PROBE_SAMPLES = 2


def _generate_problem(model: Any, args: tuple, out: Any) -> str | None:
    n = len(args[0]) if args else None
    shape = tuple(model.encoding.shape)
    if not isinstance(out, np.ndarray):
        return f"returned a {type(out).__name__}, not a numpy array of cells (n, H, W)"
    if out.ndim != 3 or len(out) != n or out.shape[1:] != shape:
        return f"returned shape {out.shape} for {n} noise rows, not (n, H, W) = ({n}, {shape[0]}, {shape[1]})"
    if not (np.issubdtype(out.dtype, np.integer) or out.dtype == bool):
        return f"returned {out.dtype} cells, not integers"
    return None


def _loss_problem(model: Any, args: tuple, out: Any) -> str | None:
    if not isinstance(out, torch.Tensor) or out.numel() != 1:
        return f"returned {type(out).__name__} {getattr(out, 'shape', '')}, not a scalar tensor"
    return None


CHECKS: dict[str, Callable[[Any, tuple, Any], str | None] | None] = {
    "encode": None,
    "loss": _loss_problem,
    "make_sample_noise": None,
    "generate": _generate_problem,
    "extra_metrics": None,
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
            raise PluginError(f"model {plugin_name(type(self))}: {name}() raised {exception_line(exc)}") from None
        problem = check(self, args, out) if check is not None else None
        if problem:
            raise PluginError(f"model {plugin_name(type(self))}: {name}() {problem}")
        return out

    return call


def built(builder: Callable[..., Any], ref: str, *args: Any) -> Any:
    """`builder(*args)`, its exception one line naming the family `ref`."""
    try:
        return builder(*args)
    except TwoClocksError:
        raise
    except Exception as exc:
        raise PluginError(f"model {ref}: its builder raised {exception_line(exc)}") from None


def probe(model: Any, device: torch.device, where: str) -> None:
    """Generate PROBE_SAMPLES samples once, so that a family whose generation fails (in its own
    class or in a backbone inside a twoclocks one) is refused before a run writes anything."""
    try:
        noise = model.make_sample_noise(PROBE_SAMPLES, torch.Generator(device).manual_seed(0))
        out = model.generate(noise)
    except TwoClocksError:
        raise
    except Exception as exc:
        raise PluginError(f"model {where}: generate() raised {exception_line(exc)}") from None
    problem = _generate_problem(model, (noise,), out)
    if problem:
        raise PluginError(f"model {where}: generate() {problem}")
