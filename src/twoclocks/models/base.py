"""What every model family provides to the trainer and the evaluator.

The trainer only calls `loss`; the evaluator only calls `make_sample_noise` once and then
`generate` at every checkpoint with that same noise, so each sample i sees identical noise
across checkpoints and differences between checkpoints come from the weights alone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch
from torch import nn

from twoclocks.data import ItemSets
from twoclocks.encoding import Encoding


class GenerativeModel(nn.Module, ABC):
    """A trainable generator of items on a task's grid."""

    family: str = ""
    # Families that score likelihoods of fixed item sets set this; the run then builds the
    # sets (twoclocks.data) and passes them to `extra_metrics` at every evaluation.
    uses_item_sets: bool = False

    def __init__(self, encoding: Encoding):
        super().__init__()
        self.encoding = encoding

    @abstractmethod
    def encode(self, cells: np.ndarray) -> torch.Tensor:
        """uint8 cells (n, H, W) -> the model's training representation."""

    @abstractmethod
    def loss(self, batch: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Scalar training loss on a batch of encoded items; all randomness from `gen`."""

    @abstractmethod
    def make_sample_noise(self, num: int, gen: torch.Generator) -> torch.Tensor:
        """All the randomness needed to generate `num` samples, drawn once and reused."""

    @abstractmethod
    def generate(self, noise: torch.Tensor) -> np.ndarray:
        """Deterministic map from fixed noise to decoded uint8 cells (n, H, W)."""

    def extra_metrics(self, item_sets: ItemSets | None) -> dict[str, float]:
        """Family-specific metrics of the current weights, merged into each evaluation row;
        `item_sets` is given when `uses_item_sets`. None by default; must not draw from the
        training or sampling RNGs."""
        return {}

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
