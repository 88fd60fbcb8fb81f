"""twoclocks: when do generative models learn a rule, and when do they start to copy?

The pipeline flows one way: task -> encoding -> model family -> trainer -> evaluator ->
clocks -> report. See README.md and docs/protocol.md for the exact definitions.
"""

from twoclocks.api import (
    Run,
    Sweep,
    compare,
    fits,
    load,
    load_sweep,
    predict,
    report,
    run,
    sweep,
)
from twoclocks.version import __version__

__all__ = [
    "Run",
    "Sweep",
    "compare",
    "fits",
    "load",
    "load_sweep",
    "predict",
    "report",
    "run",
    "sweep",
    "__version__",
]
