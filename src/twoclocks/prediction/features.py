"""A rule described by what can be measured of it, so that a law fitted on some rules says
something about another:

    bits          log2 of the rule's population (the runs record it: `log2_population`)
    log2_cells    log2 of the cells of one item (H x W)
    log2_values   log2 of the values a cell takes (K)
    order         cells per constraint, the mean over constraints: how many cells a rule check
                  reads (group parity: G; mirror symmetry: 2; a row-weight rule: a row)
    log2_checks   log2 of the number of constraints

`order` is measured, not declared: every cell of one valid item is changed to each other value
in turn, and a constraint counts a cell when some change of it flips the constraint. A built-in
rule is built for this (its code is the package's own); a rule named by import path is never
imported to ask (a prediction reads data, it runs no one's code): its features are unknown
(NaN) and a law gives it its own offset from its runs instead (`laws`). So are those of a
built-in task of natural data (a lexicon, images: `DESCRIBED_KINDS`): its one "constraint"
is membership of a list or a learned probe's verdict, not checks over cells that these numbers
say something about, and building an image task trains its probe.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from twoclocks.tasks import BUILTIN, make_task

RULE_FEATURES = ("log2_cells", "log2_values", "order", "log2_checks")  # besides bits
# Task families whose rules the features describe (constraints that read cells of a grid).
DESCRIBED_KINDS = ("binary", "puzzle")
DESCRIBED = frozenset(cls.name for cls in BUILTIN if cls.has_rule and cls.kind in DESCRIBED_KINDS)
SEED = 20260502


def rule_features(name: str, params: tuple[tuple[str, object], ...]) -> dict[str, float]:
    """RULE_FEATURES of a rule (its name and task.* parameters, as sorted pairs); NaN for a rule
    the features do not describe (not built in, or natural data: `DESCRIBED`)."""
    if name not in DESCRIBED:
        return dict.fromkeys(RULE_FEATURES, math.nan)
    return dict(_measured(name, params))


@lru_cache(maxsize=256)
def _measured(name: str, params: tuple[tuple[str, object], ...]) -> tuple[tuple[str, float], ...]:
    task = make_task(name, **dict(params))
    item = task.example(np.random.default_rng(SEED))
    H, W = item.shape
    K = task.num_values
    changed = []  # (cells x (K - 1)) items, each one cell away from `item`
    for i in range(H * W):
        for shift in range(1, K):
            other = item.copy().reshape(-1)
            other[i] = (other[i] + shift) % K
            changed.append(other.reshape(H, W))
    base = np.asarray(task.constraints(item[None]))[0]
    flips = np.asarray(task.constraints(np.stack(changed))) != base  # (cells x (K - 1), checks)
    reads = flips.reshape(H * W, K - 1, -1).any(axis=1)  # (cells, checks): a cell a check reads
    per_check = reads.sum(axis=0)
    order = float(per_check[per_check > 0].mean()) if (per_check > 0).any() else float(H * W)
    values = {
        "log2_cells": math.log2(H * W),
        "log2_values": math.log2(K),
        "order": order,
        "log2_checks": math.log2(max(1, base.shape[-1])),
    }
    return tuple(values.items())
