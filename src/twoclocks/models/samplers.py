"""Samplers of the probability-flow ODE of EDM, each a small pure function of (denoiser, start,
noise levels), and the noise levels they step through (Karras et al. 2022, eq. 5 and 269).

    sigma_i = (s_max^(1/rho) + i/(S-1) (s_min^(1/rho) - s_max^(1/rho)))^rho,  sigma_S = 0
    dx/dsigma = (x - D(x; sigma)) / sigma
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from twoclocks.models.config import SAMPLER_NAMES

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # D(x (B,C,H,W), sigma (B,))


def sigma_schedule(
    steps: int, sigma_min: float, sigma_max: float, rho: float, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """The EDM time steps: `steps` decreasing noise levels followed by a final 0. (steps+1,)"""
    i = torch.arange(steps, dtype=torch.float64, device=device)
    denom = max(steps - 1, 1)
    t = (sigma_max ** (1 / rho) + i / denom * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    return torch.cat([t, torch.zeros(1, dtype=torch.float64, device=device)])


@torch.no_grad()
def heun_sample(denoise: Denoiser, x_start: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """Integrate the probability-flow ODE from sigmas[0] down to sigmas[-1] (deterministic).

    Args:
        denoise: D(x, sigma) with x (B, C, H, W) and sigma (B,): each level is one scalar
                 expanded to the batch (stride 0), which a denoiser may use to compute
                 per-level work once (`kernels.shared_level`).
        x_start: (B, C, H, W) state at sigmas[0] (for sampling: sigma_max * unit noise).
        sigmas:  (S+1,) decreasing noise levels; the last may be 0.
    Returns (B, C, H, W) the state at sigmas[-1].
    """
    x = x_start.double()
    B = x.shape[0]
    for s_cur, s_next in zip(sigmas[:-1], sigmas[1:]):
        d_cur = (x - denoise(x.float(), s_cur.float().expand(B)).double()) / s_cur
        x_next = x + (s_next - s_cur) * d_cur  # Euler step
        if s_next > 0:  # Heun correction
            d_next = (x_next - denoise(x_next.float(), s_next.float().expand(B)).double()) / s_next
            x_next = x + (s_next - s_cur) * (0.5 * d_cur + 0.5 * d_next)
        x = x_next
    return x.float()


@torch.no_grad()
def dpmpp_2m_sample(denoise: Denoiser, x_start: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", Algorithm 2) on the same ODE: one
    network evaluation per noise level, second order through the previous level's D.

    With x = y + sigma n the exact solution between levels s > t is
        x_t = (t/s) x_s + t * integral_{1/s}^{1/t} D du,
    so holding D fixed gives the first-order step x_t = (t/s) x_s + (1 - t/s) D(x_s; s) (the
    Euler step), and extrapolating D linearly in lambda = -ln sigma from the last two levels
    gives the second-order one:
        h = ln(s/t), r = h_prev / h,  D~ = (1 + 1/(2r)) D_s - 1/(2r) D_prev.
    The first step and the last one (to sigma = 0) are first order.
    Args and return as `heun_sample`; len(sigmas) - 1 network evaluations.
    """
    x = x_start.double()
    B = x.shape[0]
    d_prev, h_prev = None, None
    for s_cur, s_next in zip(sigmas[:-1], sigmas[1:]):
        d_cur = denoise(x.float(), s_cur.float().expand(B)).double()
        d_use = d_cur
        if s_next > 0:
            h = torch.log(s_cur / s_next)
            if d_prev is not None and h_prev is not None:
                r = h_prev / h
                d_use = (1 + 1 / (2 * r)) * d_cur - (1 / (2 * r)) * d_prev
            d_prev, h_prev = d_cur, h
        x = (s_next / s_cur) * x + (1 - s_next / s_cur) * d_use
    return x.float()


# The function of each choice of model.sampler (named in models/config.py).
SAMPLERS = dict(zip(SAMPLER_NAMES, (heun_sample, dpmpp_2m_sample), strict=True))
