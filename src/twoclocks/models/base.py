"""What every model family provides to the trainer and the evaluator: `GenerativeModel`.

The trainer calls `encode` once on the training set and `loss` at every step; the evaluator
calls `make_sample_noise` once and then `generate` at every checkpoint with that same noise,
so each sample i sees identical noise across checkpoints and differences between checkpoints
come from the weights alone; `extra_metrics` adds family-specific numbers to each evaluation.

Families whose members can be trained as one batched computation (a sweep's `--group`,
twoclocks.training.group) also give `loss_draws`, `group_blocker` and `grouped`; the others
inherit defaults that say they cannot be grouped.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch
from torch import nn

from twoclocks.data import ItemSets
from twoclocks.encoding import Encoding


class GroupedModel(nn.Module, ABC):
    """K members of one family as one module. Its parameters have the members' names, with
    member k's tensor at index k of a leading dimension K; batches are member-major."""

    @abstractmethod
    def member_losses(self, batches: list[torch.Tensor], draws: list[tuple[torch.Tensor, ...]]) -> list[torch.Tensor]:
        """Each member's scalar loss on its batch with its draws (from `loss_draws`): the
        numbers its own `loss` gives on them, computed as one batched forward."""


class GenerativeModel(nn.Module, ABC):
    """A trainable generator of items on a task's grid."""

    # What kind of generator this is, in words ("diffusion", "autoregressive", ...): for
    # messages; the registry name of a family is the config's model.family.
    kind: str = ""
    # Families that score likelihoods of fixed item sets set this; the run then builds the
    # sets (twoclocks.data) and passes them to `extra_metrics` at every evaluation.
    uses_item_sets: bool = False

    def __init__(self, encoding: Encoding):
        super().__init__()
        self.encoding = encoding

    @abstractmethod
    def encode(self, cells: np.ndarray) -> torch.Tensor:
        """uint8 cells (n, H, W) -> the model's training representation, first dimension n
        (the trainer indexes batches out of it)."""

    @abstractmethod
    def loss(self, batch: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Scalar training loss on a batch of encoded items; all randomness from `gen` (on the
        run's device), so that a resumed run draws what the uninterrupted one drew."""

    @abstractmethod
    def make_sample_noise(self, num: int, gen: torch.Generator) -> torch.Tensor:
        """All the randomness needed to generate `num` samples, drawn once from `gen` and
        reused at every evaluation; first dimension num (generation runs in chunks of it)."""

    @abstractmethod
    def generate(self, noise: torch.Tensor) -> np.ndarray:
        """Deterministic map from fixed noise to decoded uint8 cells (n, H, W). Runs under
        torch.inference_mode, in bf16 from a bf16 copy of the model when train.precision=bf16."""

    def extra_metrics(self, item_sets: ItemSets | None) -> dict[str, float]:
        """Family-specific metrics of the current weights, merged into each evaluation row;
        `item_sets` is given when `uses_item_sets`. None by default; must not draw from the
        training or sampling RNGs."""
        return {}

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # ----- grouping (optional) ---------------------------------------------------------------
    def group_blocker(self) -> str | None:
        """Why models like this one cannot be trained as a group, or None when `grouped` can
        stack them."""
        return f"{self.kind or type(self).__name__} models have no grouped training step"

    def loss_draws(self, batch: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
        """The randomness `loss` draws for `batch`, drawn from `gen` in the same order, so that
        a grouped step consumes each member's generator as its single run does."""
        raise NotImplementedError(self.group_blocker())

    @classmethod
    def grouped(cls, members: list[GenerativeModel]) -> GroupedModel:
        """The members (built as their single runs build them, one config but for seeds and
        data) as one `GroupedModel`."""
        raise NotImplementedError(members[0].group_blocker() if members else "no members")
