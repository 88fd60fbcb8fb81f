"""twoclocks: when do generative models learn a rule, and when do they start to copy?

The pipeline flows one way: task -> encoding -> model family -> trainer -> evaluator ->
clocks -> report. See README.md and docs/protocol.md for the exact definitions.
"""

__version__ = "0.1.0"
