"""Masking schedules of masked diffusion (model.mask_schedule): alpha(t), the probability that a
cell is still unmasked at time t in [0, 1], its ELBO weight w(t) = -alpha'(t) / (1 - alpha(t)),
and the expected weight W_k given k of L cells masked (models/mdm.py derives the ELBO).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from twoclocks.models.config import SCHEDULE_NAMES


def _linear_count_weights(cells: int) -> torch.Tensor:
    """W_k of the linear schedule in closed form: P(k | t) = Binomial(L, t), so
    t | k ~ Beta(k+1, L-k+1) and W_k = (L+1)/k."""
    k = torch.arange(cells + 1, dtype=torch.float64)
    return torch.where(k > 0, (cells + 1) / k.clamp(min=1), 0.0)


def _cosine_weight(t: torch.Tensor) -> torch.Tensor:
    half = 0.5 * math.pi * t
    return 0.5 * math.pi * torch.sin(half) / (1.0 - torch.cos(half))


@dataclass(frozen=True)
class Schedule:
    """A masking schedule: alpha(t), the probability that a cell is still unmasked at time
    t in [0, 1]; its ELBO weight w(t) = -alpha'(t) / (1 - alpha(t)) for t in (0, 1]; and
    W_k in closed form where there is one (else `count_weights` integrates it)."""

    alpha: Callable[[torch.Tensor], torch.Tensor]
    weight: Callable[[torch.Tensor], torch.Tensor]
    closed_count_weights: Callable[[int], torch.Tensor] | None = None


# The schedule of each choice of model.mask_schedule (named in models/config.py).
SCHEDULES: dict[str, Schedule] = dict(
    zip(
        SCHEDULE_NAMES,
        (
            Schedule(lambda t: 1.0 - t, lambda t: 1.0 / t, _linear_count_weights),
            Schedule(lambda t: torch.cos(0.5 * math.pi * t), _cosine_weight),
        ),
        strict=True,
    )
)


def alpha(t: torch.Tensor, schedule: str) -> torch.Tensor:
    """Probability that a cell is still unmasked at time t in [0, 1]."""
    return SCHEDULES[schedule].alpha(t)


def elbo_weight(t: torch.Tensor, schedule: str) -> torch.Tensor:
    """w(t) = -alpha'(t) / (1 - alpha(t)) for t in (0, 1]."""
    return SCHEDULES[schedule].weight(t)


def count_weights(cells: int, schedule: str, points: int = 50_000, closed_form: bool = True) -> torch.Tensor:
    """W_k = E[w(t) | k of L cells masked] for k = 0..L: (L+1,) float64, W_0 = 0 (no term).

    The schedule's closed form where it has one (and `closed_form`); otherwise midpoint
    quadrature over t of w(t) P(k | t) and P(k | t), with P(k | t) proportional to
    m^k (1-m)^(L-k), m = 1 - alpha(t), in log space so that no term underflows."""
    closed = SCHEDULES[schedule].closed_count_weights
    if closed is not None and closed_form:
        return closed(cells)
    k = torch.arange(cells + 1, dtype=torch.float64)
    t = (torch.arange(points, dtype=torch.float64) + 0.5) / points
    m = (1.0 - alpha(t, schedule)).clamp(1e-300, 1 - 1e-16)
    log_p = k[:, None] * m.log() + (cells - k[:, None]) * torch.log1p(-m)  # (L+1, points)
    out = (torch.logsumexp(log_p + elbo_weight(t, schedule).log(), dim=1) - torch.logsumexp(log_p, dim=1)).exp()
    out[0] = 0.0
    return out
