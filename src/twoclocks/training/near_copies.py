"""Near copies for a run directory written before they were measured, without retraining.

Every evaluation's samples/step_XXXXXXXX.npz holds each sample's Hamming distance to its
nearest training item (`nn_hamming`), which is all the near-copy curve needs: mem_near is the
fraction within NEAR_HAMMING, mem_near_chance the task's chance level for the saved training
set. The clock is then read off that curve by compute_clocks, as a new run's is. Nothing is
written: the run's files stay as they are, and what is derived is returned to the reader.

The chance level is what the run recorded (its metrics' column, its summary's key), else a
built-in rule's own; a plugin's rule is never imported to compute it (`twoclocks.records.recorded`).
"""

from __future__ import annotations

import math
import warnings
import zipfile
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from twoclocks.clocks import MEM_CLOCKS, MemClock, compute_clocks
from twoclocks.config import RunConfig
from twoclocks.data import TrainingIndex
from twoclocks.errors import ReadNote, TwoClocksError
from twoclocks.evaluate import load_outcomes, near_chance, near_copies
from twoclocks.records.recorded import Recorded
from twoclocks.training.experiment import build_task


class RunFiles(Protocol):
    """What this module reads of a run directory (a RunDir)."""

    def read_config(self) -> Recorded: ...
    def load_train_set(self) -> np.ndarray: ...
    def sample_files(self) -> list[tuple[int, Path]]: ...


def derived() -> list[MemClock]:
    """The memorisation clocks that runs written before them lack (their curves come from the samples)."""
    return [mc for mc in MEM_CLOCKS if not mc.first and not mc.optional]


NEAR = derived()[0]  # the near-copy clock, whose curve and chance level the others share


def lacks_near_copies(summary: dict, metrics: pd.DataFrame) -> bool:
    return any(mc.tau not in summary or mc.curve not in metrics for mc in derived())


def recorded_chance(summary: dict, metrics: pd.DataFrame) -> float | None:
    """The near-copy chance level the run recorded (a metrics column, a summary key), or None."""
    values = [*(metrics[NEAR.chance].dropna() if NEAR.chance in metrics else []), summary.get(NEAR.chance)]
    for value in values:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None


def builtin_chance(recorded: Recorded, train_cells: np.ndarray) -> float | None:
    """The near-copy chance level of a built-in rule on these training items; None for a plugin."""
    if recorded.task_plugin is not None:
        return None
    task = build_task(recorded.cfg)
    return near_chance(task, TrainingIndex(train_cells, task.num_values))


def near_copy_curve(
    metrics: pd.DataFrame, samples: dict[int, Path], chance: float, ci_level: float
) -> pd.DataFrame | None:
    """`metrics` with the near-copy columns from the saved samples, or None when an
    evaluation's samples were not kept (eval.keep_samples=false)."""
    steps = [int(s) for s in metrics["step"]]
    if not steps or any(s not in samples for s in steps):
        return None
    rows = [near_copies(load_outcomes(samples[s]).nn_hamming, chance, ci_level) for s in steps]
    return metrics.assign(**pd.DataFrame(rows, index=metrics.index))


def near_copy_clocks(summary: dict, metrics: pd.DataFrame, cfg: RunConfig) -> dict:
    """`summary` with the keys of the near-copy clocks, read off `metrics` (which has their curve)."""
    clocks = compute_clocks(metrics, cfg.clocks, cfg.train.batch, cfg.data.N)
    return {**summary, **{k: clocks[k] for mc in derived() for k in (mc.tau + s for s in mc.fields)}}


def with_near_copies(rd: RunFiles, summary: dict, metrics: pd.DataFrame) -> tuple[dict, pd.DataFrame]:
    """(summary, metrics) of a run written before near copies were measured, with their curve
    and clock derived from samples/ (the functions above); as they are when an
    evaluation's samples were not kept or cannot be read, or when the chance level would
    need a plugin's rule (a ReadNote says so). Nothing is written, nothing imported."""
    try:
        recorded = rd.read_config()
        chance = recorded_chance(summary, metrics)
        if chance is None:
            chance = builtin_chance(recorded, rd.load_train_set())
        if chance is None:
            warnings.warn(
                f"{NEAR.tau} is not rebuilt for runs of the task plugin {recorded.task_plugin}: they "
                f"recorded no near-copy chance, and reading a run never imports a plugin",
                ReadNote,
                stacklevel=2,
            )
            return summary, metrics
        curve = near_copy_curve(metrics, dict(rd.sample_files()), chance, recorded.cfg.clocks.ci_level)
    except (TwoClocksError, OSError, ValueError, KeyError, zipfile.BadZipFile):
        return summary, metrics
    if curve is None:
        return summary, metrics
    return near_copy_clocks(summary, curve, recorded.cfg), curve
