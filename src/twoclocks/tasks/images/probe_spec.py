"""What a probe is (its architecture and training settings) and what it learns from: plain
data, without torch, so that the task registry (and `twoclocks predict`) imports no torch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ProbeSpec:
    """The architecture and training settings of a probe (all part of its cache key)."""

    epochs: int
    batch: int
    lr: float = 2e-3  # the peak of a one-cycle schedule
    weight_decay: float = 1e-4
    channels: tuple[int, int] = (32, 64)
    features: int = 64
    dropout: float = 0.3  # before the features layer
    shift: int = 1  # augmentation: each training image moved by up to this many cells each way
    negatives: float = 0.5  # images of the reject class per training image in a batch
    seed: int = 0


@dataclass(frozen=True)
class ProbeData:
    """What a probe learns from: uint8 cells (n, H, W) in [0, levels) and int64 labels (n,)."""

    name: str  # the data set, for file names and messages
    levels: int
    classes: int
    train: np.ndarray
    train_labels: np.ndarray
    test: np.ndarray
    test_labels: np.ndarray
