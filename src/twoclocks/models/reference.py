"""Analytic denoisers: exact reference solutions to plug into the same sampler and evaluator.

- Empirical denoiser: the optimum of the denoising loss on the training set itself,
      D(y; sigma) = sum_n softmax_n(-||y - x_n||^2 / (2 sigma^2)) x_n,
  the exact memorising solution: its probability-flow ODE lands on training items.
- Population denoiser: E[x | y] when x is uniform over *all* rule-valid items. Closed form
  per group for group parity (`GroupParity.posterior_mean`, as `mdm_reference` has it for
  masked diffusion), and the same softmax as above
  over the enumerated population for small populations. Its samples are valid and copy
  training items only at chance rate.
"""

from __future__ import annotations

import torch

from twoclocks.encoding import Encoding
from twoclocks.errors import ConfigError
from twoclocks.models.samplers import Denoiser
from twoclocks.tasks.base import ParityGroups, Task

MAX_ENUMERATED = 1 << 18  # largest population whose softmax denoiser we evaluate exactly


def softmax_denoiser(points: torch.Tensor, chunk: int = 65536) -> Denoiser:
    """D(y; sigma) = posterior mean of x uniform over `points` (P, C, H, W) given y = x + sigma n.

    Computed in float64 with a running log-sum-exp over chunks of points so that memory stays
    bounded and tiny sigma (one-hot weights) is exact.
    """
    flat_points = points.reshape(len(points), -1).double()
    sq_norms = (flat_points**2).sum(dim=1)

    def denoise(y: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        B = y.shape[0]
        yf = y.reshape(B, -1).double()
        s2 = sigma.double().reshape(B, 1) ** 2
        running_max = torch.full((B, 1), -torch.inf, dtype=torch.float64, device=y.device)
        weight_sum = torch.zeros(B, 1, dtype=torch.float64, device=y.device)
        acc = torch.zeros_like(yf)
        for start in range(0, len(flat_points), chunk):
            pts = flat_points[start : start + chunk].to(y.device)
            # -||y - x||^2 / (2 s^2) up to a per-row constant: (y.x - |x|^2/2) / s^2
            logits = (yf @ pts.T - 0.5 * sq_norms[start : start + chunk].to(y.device)) / s2
            new_max = torch.maximum(running_max, logits.max(dim=1, keepdim=True).values)
            scale = torch.exp(running_max - new_max)
            w = torch.exp(logits - new_max)
            acc = acc * scale + w @ pts
            weight_sum = weight_sum * scale + w.sum(dim=1, keepdim=True)
            running_max = new_max
        return (acc / weight_sum).reshape(y.shape).to(y.dtype)

    return denoise


def empirical_denoiser(train_encoded: torch.Tensor) -> Denoiser:
    """The exact memorising denoiser of a training set (N, C, H, W) in continuous encoding."""
    return softmax_denoiser(train_encoded)


def closed_form_denoiser(task: Task, encoding: Encoding) -> Denoiser | None:
    """The task's closed-form E[x | y] when it has one for this encoding, else None."""
    if isinstance(task, ParityGroups) and encoding.resolved_scheme == "binary":
        return task.posterior_mean
    return None


def population_denoiser(task: Task, encoding: Encoding) -> Denoiser:
    """E[x | y] under the task's whole valid population: closed form where the task has one,
    otherwise an exact softmax over the enumerated population."""
    closed = closed_form_denoiser(task, encoding)
    if closed is not None:
        return closed
    everything = task.enumerate()
    if everything is None or len(everything) > MAX_ENUMERATED:
        raise ConfigError(
            f"no population denoiser for {task.describe()}: no closed form and the "
            f"population (2^{task.log2_population:.1f}) is too large to enumerate"
        )
    return softmax_denoiser(encoding.to_continuous(everything))
