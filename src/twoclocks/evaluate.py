"""Metrics of one evaluation: generated items -> validity, copying, novelty, distances.

Every fraction is over the M generated samples and comes with a Wilson score interval
(`<name>_lo`, `<name>_hi`). The same code scores every model family: it sees decoded cells.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from twoclocks.core import memory
from twoclocks.core.io import read_npz, write_npz
from twoclocks.core.stats import wilson_interval
from twoclocks.data import TrainingIndex, hash_cells
from twoclocks.errors import TwoClocksError
from twoclocks.tasks.base import Task

FRACTIONS = ("valid", "mem", "novel_valid", "unique_novel_valid")
# A near copy: a sample within this many cells of a training item (an exact copy, or one with a
# slipped cell). Valid items of group parity lie at least 2 apart, so a uniformly valid sample is
# a near copy exactly when it is a copy and the chance level stays mem_chance; d = 2 would raise
# it 19-91 fold, to 0.072 at G = 2 and N = 1024 (docs/protocol.md, "Near copies").
NEAR_HAMMING = 1
NEAR_CHANCE_DRAWS = 2048  # uniform draws that estimate the chance level when no count is known (latin: 10 s)
SEED_NEAR_CHANCE = 5_000_011
_near_chances: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # index -> chance


@dataclass
class Outcomes:
    """Per-sample outcomes of one evaluation, kept on disk for later analysis."""

    cells: np.ndarray  # uint8 (M, H, W) generated items
    valid: np.ndarray  # bool (M,)
    constraint_acc: np.ndarray  # float (M,) fraction of constraints satisfied
    train_match: np.ndarray  # int64 (M,) index of the copied training item, -1 if none
    nn_hamming: np.ndarray  # int64 (M,) cells differing from the nearest training item


def score(cells: np.ndarray, task: Task, index: TrainingIndex, ci_level: float = 0.95) -> tuple[dict, Outcomes]:
    """All metrics of one evaluation (see docs/protocol.md for each definition)."""
    M = len(cells)
    valid = task.is_valid(cells)
    acc = task.constraint_acc(cells)
    match = index.match(cells)
    mem = match >= 0
    novel_valid = valid & ~mem
    nn = index.nearest_hamming(cells)
    n_unique = len(np.unique(hash_cells(cells[novel_valid]))) if novel_valid.any() else 0
    counts = {
        "valid": int(valid.sum()),
        "mem": int(mem.sum()),
        "novel_valid": int(novel_valid.sum()),
        "unique_novel_valid": n_unique,
    }
    metrics: dict = {}
    for name in FRACTIONS:
        lo, hi = wilson_interval(counts[name], M, ci_level)
        metrics[name] = counts[name] / M
        metrics[f"{name}_lo"] = float(lo)
        metrics[f"{name}_hi"] = float(hi)
    metrics["mem_chance"] = task.mem_chance(len(index))
    metrics["valid_chance"] = task.valid_chance  # what the rule clocks read `valid` against
    metrics["constraint_acc"] = float(acc.mean())
    metrics["distinct_mem"] = int(len(np.unique(match[mem])))  # how many training items are copied
    metrics["nn_hamming_mean"] = float(nn.mean())
    for q in (0.1, 0.5, 0.9):
        metrics[f"nn_hamming_q{int(q * 100)}"] = float(np.quantile(nn, q))
    metrics["samples"] = M
    metrics.update(near_copies(nn, near_chance(task, index), ci_level))
    return metrics, Outcomes(cells, valid, acc, match, nn)


OUTCOME_ARRAYS = ("cells", "packed", "shape", "valid", "constraint_acc", "train_match", "nn_hamming")


def near_copies(nn_hamming: np.ndarray, chance: float, ci_level: float = 0.95) -> dict:
    """mem_near (the fraction of samples within NEAR_HAMMING of a training item) with its Wilson
    interval, and its chance level mem_near_chance."""
    count, M = int((np.asarray(nn_hamming) <= NEAR_HAMMING).sum()), len(nn_hamming)
    lo, hi = wilson_interval(count, M, ci_level)
    return {"mem_near": count / M, "mem_near_lo": float(lo), "mem_near_hi": float(hi), "mem_near_chance": chance}


def near_chance(task: Task, index: TrainingIndex) -> float:
    """The chance that a uniformly valid item is a near copy: the task's count when it has one
    (Task.near_chance), else estimated from NEAR_CHANCE_DRAWS seeded draws of the task's
    sampler against this training set (once per index)."""
    exact = task.near_chance(len(index), NEAR_HAMMING)
    if exact is not None:
        return exact
    if index not in _near_chances:
        draws = task.sample(NEAR_CHANCE_DRAWS, np.random.default_rng(SEED_NEAR_CHANCE))
        _near_chances[index] = float((index.nearest_hamming(draws) <= NEAR_HAMMING).mean())
    return _near_chances[index]


def save_outcomes(path, outcomes: Outcomes) -> None:
    """Compressed npz: packed cells (bits for binary tasks) plus the per-sample outcomes (its
    folder, samples/ of a run, is created when missing)."""
    cells = outcomes.cells
    packed = np.packbits(cells.reshape(len(cells), -1), axis=1) if cells.max(initial=0) <= 1 else cells
    arrays = {
        "cells": packed,
        "packed": cells.max(initial=0) <= 1,
        "shape": np.array(cells.shape),
        "valid": outcomes.valid,
        "constraint_acc": outcomes.constraint_acc.astype(np.float32),
        "train_match": outcomes.train_match,
        "nn_hamming": outcomes.nn_hamming.astype(np.int16),
    }
    write_npz(path, arrays, parents=True)


def load_outcomes(path) -> Outcomes:
    """Outcomes saved by `save_outcomes`; a damaged or foreign file is a one-line TwoClocksError."""
    z = read_npz(path, OUTCOME_ARRAYS)
    try:
        shape = tuple(int(d) for d in z["shape"])
        cells = z["cells"]
        if len({len(z[k]) for k in OUTCOME_ARRAYS if k not in ("packed", "shape")} | {shape[0]}) > 1:
            raise TwoClocksError(f"{path} is corrupt (its arrays have different lengths)")
        if bool(z["packed"]):  # bits to cells: the shape is checked before 8x the bytes are spent
            d = int(np.prod(shape[1:], dtype=object))
            if cells.ndim != 2 or cells.shape[1] != -(-d // 8):
                held = f"packed cells {cells.shape} do not hold samples of {shape[1:]}"
                raise TwoClocksError(f"{path} is corrupt ({held})")
            # the bits as bytes, then their uint8 copy below
            memory.check_fits(
                {"its unpacked cells": 16 * cells.size}, memory.available_ram(), f"reading {path}", "this machine"
            )
            cells = np.unpackbits(cells, axis=1)[:, :d].reshape(shape)
        out = Outcomes(
            cells.astype(np.uint8), z["valid"], z["constraint_acc"], z["train_match"], z["nn_hamming"].astype(np.int64)
        )
    except (ValueError, TypeError, IndexError) as exc:
        raise TwoClocksError(f"{path} is corrupt (its arrays do not fit together: {exc})") from None
    return out
