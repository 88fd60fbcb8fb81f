"""twoclocks: when do generative models learn a rule, and when do they start to copy?

The pipeline flows one way: task -> encoding -> model family -> trainer -> evaluator ->
clocks -> report. See README.md and docs/protocol.md for the exact definitions.

The API (`twoclocks.api`) is imported on first use of one of its names, so that a command
that needs little of it (`twoclocks predict`) does not pay for the trainer's imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twoclocks.version import __version__

if TYPE_CHECKING:
    from twoclocks.api import Run, Sweep, compare, fits, load, load_sweep, predict, report, run, sweep

__all__ = ["Run", "Sweep", "compare", "fits", "load", "load_sweep", "predict", "report", "run", "sweep", "__version__"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        import twoclocks.api as api

        return getattr(api, name)
    raise AttributeError(f"module 'twoclocks' has no attribute {name!r}")
