"""twoclocks: when do generative models learn a rule, and when do they start to copy?

The pipeline flows one way: task -> encoding -> model family -> trainer -> evaluator ->
clocks -> report. See README.md and docs/protocol.md for the exact definitions.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("twoclocks")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "unknown"

from twoclocks.api import (  # noqa: E402
    Run,
    Sweep,
    compare,
    fits,
    load,
    load_sweep,
    report,
    run,
    sweep,
)

__all__ = [
    "Run",
    "Sweep",
    "compare",
    "fits",
    "load",
    "load_sweep",
    "report",
    "run",
    "sweep",
    "__version__",
]
