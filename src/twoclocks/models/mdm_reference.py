"""Exact posteriors for masked diffusion: reference solutions to plug into the same sampler,
ELBO and evaluator as the network (the discrete counterparts of twoclocks.models.reference).

Given tokens z (B, L) with some cells masked, the exact denoiser of a distribution over items
is the posterior of each masked cell's value, p(x_i = v | unmasked cells of z); it does not
depend on the masking level (a masked cell says nothing about its value).

- Set posterior: x uniform over a set of items (P, L): the items that agree with every
  unmasked cell, counted by value at cell i. Over the N training items it is the empirical
  (memorising) denoiser; over an enumerated population, the population denoiser.
- Group parity in closed form: a masked cell is uniform unless every other cell of its group
  is unmasked, and then it is the parity of those cells.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from twoclocks.encoding import Encoding
from twoclocks.errors import ConfigError
from twoclocks.models.config import ModelConfig
from twoclocks.models.mdm import MaskedDiffusionBase, subs
from twoclocks.tasks.base import ParityGroups, Task

Posterior = Callable[[torch.Tensor], torch.Tensor]  # z (B, L) -> log p(x_i = v | z) (B, L, K) float64
MAX_ENUMERATED = 1 << 16  # largest population whose set posterior we evaluate exactly


def set_posterior(items: torch.Tensor, num_values: int, chunk: int = 8192) -> Posterior:
    """Posterior of x uniform over `items` (P, L) long. A state that no item explains (only
    possible when scoring items outside the set) gets the uniform distribution."""
    K = num_values
    onehot = F.one_hot(items, K).double()  # (P, L, K)

    def posterior(z: torch.Tensor) -> torch.Tensor:
        B, L = z.shape
        known = z < K  # (B, L)
        z_hot = F.one_hot(z.clamp(max=K - 1), K).double() * known[..., None]  # (B, L, K)
        counts = torch.zeros(B, L, K, dtype=torch.float64, device=z.device)
        for s in range(0, len(onehot), chunk):
            pts = onehot[s : s + chunk].to(z.device)  # (p, L, K)
            agree = z_hot.reshape(B, -1) @ pts.reshape(len(pts), -1).T  # (B, p) matching known cells
            consistent = (agree == known.sum(dim=1, keepdim=True)).double()
            counts += (consistent @ pts.reshape(len(pts), -1)).reshape(B, L, K)
        total = counts.sum(dim=2, keepdim=True)
        probs = torch.where(total > 0, counts / total.clamp(min=1), torch.full_like(counts, 1.0 / K))
        return probs.log()

    return posterior


def parity_posterior(groups: np.ndarray) -> Posterior:
    """Closed-form posterior of group parity (binary cells; `groups` (n_groups, G) raster indices)."""
    g = torch.as_tensor(groups, dtype=torch.long)

    def posterior(z: torch.Tensor) -> torch.Tensor:
        B, L = z.shape
        idx = g.to(z.device)
        zg = z[:, idx]  # (B, n_groups, G)
        masked = zg == 2  # MASK = K = 2
        others_masked = masked.sum(dim=2, keepdim=True) - masked.long()  # masked cells besides this one
        parity = torch.where(masked, 0, zg).sum(dim=2, keepdim=True) % 2  # of the unmasked cells
        p_one = torch.where(others_masked == 0, parity.double(), torch.full_like(zg, 1, dtype=torch.float64) / 2)
        p = torch.empty(B, L, dtype=torch.float64, device=z.device)
        p[:, idx.reshape(-1)] = p_one.reshape(B, -1)
        return torch.stack([1.0 - p, p], dim=2).log()

    return posterior


def population_posterior(task: Task) -> Posterior:
    """p(x_i | z) under the task's whole valid population: closed form for group parity,
    otherwise a set posterior over the enumerated population."""
    if isinstance(task, ParityGroups):
        return parity_posterior(task.groups)
    everything = task.enumerate()
    if everything is None or len(everything) > MAX_ENUMERATED:
        raise ConfigError(
            f"no exact posterior for {task.describe()}: no closed form and the "
            f"population (2^{task.log2_population:.1f}) is too large to enumerate"
        )
    return set_posterior(torch.as_tensor(everything, dtype=torch.long).reshape(len(everything), -1), task.num_values)


def empirical_posterior(train_cells: np.ndarray, num_values: int) -> Posterior:
    """The exact memorising denoiser: the set posterior over the training items."""
    items = torch.as_tensor(np.asarray(train_cells), dtype=torch.long).reshape(len(train_cells), -1)
    return set_posterior(items, num_values)


class AnalyticMDM(MaskedDiffusionBase):
    """An exact posterior behind the masked-diffusion sampler, ELBO and evaluator."""

    kind = "analytic"

    def __init__(self, posterior: Posterior, encoding: Encoding, cfg: ModelConfig):
        super().__init__(encoding, cfg)
        self._posterior = posterior

    def log_posterior(self, z: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        return subs(self._posterior(z), z, self.mask_id)

    def loss(self, batch: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        raise TypeError("an exact posterior has nothing to train")
