"""EDM preconditioning, loss and deterministic sampling (Karras et al. 2022, "Elucidating the
Design Space of Diffusion-Based Generative Models"), mapped one-to-one from the paper, around
any backbone F: `wrap(backbone, encoding, cfg, train_cells)` (docs/extending.md).

    D(x; sigma) = c_skip(sigma) x + c_out(sigma) F(c_in(sigma) x; c_noise(sigma))
    c_skip  = sigma_d^2 / (sigma^2 + sigma_d^2)
    c_out   = sigma sigma_d / sqrt(sigma^2 + sigma_d^2)
    c_in    = 1 / sqrt(sigma^2 + sigma_d^2)
    c_noise = ln(sigma) / 4
    training: ln sigma ~ N(P_mean, P_std^2), loss weight lambda = (sigma^2 + sigma_d^2) / (sigma sigma_d)^2
    sampling: sigma_i = (s_max^(1/rho) + i/(S-1) (s_min^(1/rho) - s_max^(1/rho)))^rho, sigma_S = 0,
              on dx/dsigma = (x - D(x; sigma)) / sigma: DPM-Solver++(2M) (model.sampler=dpmpp_2m,
              the default) or EDM's Heun step (heun), first order on the last step.

sigma_d defaults to the encoded training data's std (about 1 for +-1 bits, not the image
default 0.5) so that c_in normalises inputs to unit variance at every noise level.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from twoclocks.encoding import Encoding
from twoclocks.models.base import GenerativeModel, GroupedModel
from twoclocks.models.config import ModelConfig
from twoclocks.models.grouped import stack_backbone, stacking_blocker
from twoclocks.models.kernels import shared_level
from twoclocks.models.samplers import SAMPLERS, Denoiser, sigma_schedule


def preconditioning(s: torch.Tensor, sd: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """c_skip, c_out, c_in at noise levels s (B, 1, 1, 1) for data std sd."""
    return sd**2 / (s**2 + sd**2), s * sd / (s**2 + sd**2).sqrt(), 1.0 / (s**2 + sd**2).sqrt()


def loss_weight(s: torch.Tensor, sd: float) -> torch.Tensor:
    """lambda(sigma) = (sigma^2 + sd^2) / (sigma sd)^2 at noise levels s (B, 1, 1, 1)."""
    return (s**2 + sd**2) / (s * sd) ** 2


class DiffusionBase(GenerativeModel):
    """Encoding, fixed sampling noise and generation (model.sampler) shared by every diffusion
    model; subclasses provide `denoise` (and `loss` when trainable)."""

    def __init__(self, encoding: Encoding, cfg: ModelConfig):
        super().__init__(encoding)
        self.cfg = cfg

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def encode(self, cells: np.ndarray) -> torch.Tensor:
        return self.encoding.to_continuous(cells)

    def sigmas(self, device: torch.device | str = "cpu") -> torch.Tensor:
        c = self.cfg
        return sigma_schedule(c.sample_steps, c.sigma_min, c.sigma_max, c.rho, device)

    def make_sample_noise(self, num: int, gen: torch.Generator) -> torch.Tensor:
        """Unit Gaussian noise (num, C, H, W); generation scales it by sigma_max."""
        C, (H, W) = self.encoding.channels, self.encoding.shape
        return torch.randn(num, C, H, W, generator=gen, device=gen.device)

    @torch.no_grad()
    def generate(self, noise: torch.Tensor) -> np.ndarray:
        return self.encoding.from_continuous(self.generate_values(noise))

    @torch.no_grad()
    def generate_values(self, noise: torch.Tensor) -> torch.Tensor:
        """The sampler's continuous output (n, C, H, W) before decoding, in the encoding's
        units (training items at +-1): what the nearest-neighbour ratio is measured on."""
        sigmas = self.sigmas(noise.device)
        return SAMPLERS[self.cfg.sampler](self.denoise, noise * sigmas[0].to(noise.dtype), sigmas)


class EDMDiffusion(DiffusionBase):
    """A backbone F(x_in, c_noise) wrapped in EDM preconditioning and loss.

    The backbone maps (B, C, H, W) inputs c_in x and noise levels c_noise = ln(sigma)/4 (B,)
    to (B, C, H, W). One that sets `shared_noise_level = True` also takes c_noise of shape
    (1,), one level for the whole batch, which the samplers pass (it may then compute its
    conditioning once).
    """

    kind = "diffusion"

    def __init__(self, backbone: nn.Module, encoding: Encoding, cfg: ModelConfig, sigma_data: float):
        super().__init__(encoding, cfg)
        self.backbone = backbone
        self.sigma_data = float(sigma_data)

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """D(x; sigma). x: (B, C, H, W), sigma: (B,). Returns (B, C, H, W)."""
        c_skip, c_out, c_in = self.coefficients(sigma.reshape(-1, 1, 1, 1).to(x.dtype))
        F_x = self.backbone(c_in * x, self.c_noise(sigma))
        return c_skip * x + c_out * F_x.to(x.dtype)

    def c_noise(self, sigma: torch.Tensor) -> torch.Tensor:
        """ln(sigma) / 4: (B,), or (1,) for one level of the whole batch when the backbone
        takes it so."""
        if getattr(self.backbone, "shared_noise_level", False):
            sigma = shared_level(sigma)
        return sigma.log() / 4

    def coefficients(self, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """c_skip, c_out, c_in at noise levels s (B, 1, 1, 1)."""
        return preconditioning(s, self.sigma_data)

    def loss_weights(self, s: torch.Tensor) -> torch.Tensor:
        """lambda(sigma) at noise levels s (B, 1, 1, 1)."""
        return loss_weight(s, self.sigma_data)

    def loss_draws(self, batch: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """The randomness of one training batch, drawn from gen in this order: sigma (B,) with
        ln sigma ~ N(P_mean, P_std^2), then unit Gaussian noise shaped like the batch."""
        ln_sigma = torch.randn(batch.shape[0], device=batch.device, generator=gen) * self.cfg.P_std + self.cfg.P_mean
        noise = torch.randn(batch.shape, device=batch.device, generator=gen)
        return ln_sigma.exp(), noise

    def loss_terms(self, batch: torch.Tensor, sigma: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """lambda(sigma) (D(y + sigma n; sigma) - y)^2 per entry, shaped like the batch (B, C, H, W)."""
        s = sigma.reshape(-1, 1, 1, 1)
        D = self.denoise(batch + s * noise, sigma)
        return self.loss_weights(s) * (D.float() - batch) ** 2

    def loss(self, batch: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """EDM loss: E_sigma,n [lambda(sigma) ||D(y + n; sigma) - y||^2], mean over entries."""
        return self.loss_terms(batch, *self.loss_draws(batch, gen)).mean()

    def group_blocker(self) -> str | None:
        return stacking_blocker(self.backbone)

    @classmethod
    def grouped(cls, members: list[GenerativeModel]) -> GroupedModel:
        edm = [m for m in members if isinstance(m, EDMDiffusion)]
        if len(edm) < len(members):
            raise TypeError("only EDM diffusion models group with EDM diffusion models")
        return GroupedDiffusion(edm)


class GroupedDiffusion(EDMDiffusion, GroupedModel):
    """K EDM denoisers as one: a stacked backbone and each member's own sigma_data. Batches are
    (K*B, C, H, W), member-major; only the tiny per-row coefficients are computed per member."""

    def __init__(self, members: list[EDMDiffusion]):
        first = members[0]
        super().__init__(stack_backbone([m.backbone for m in members]), first.encoding, first.cfg, first.sigma_data)
        self.sigma_datas = [m.sigma_data for m in members]

    def coefficients(self, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        parts = [preconditioning(sk, sd) for sk, sd in zip(s.chunk(len(self.sigma_datas)), self.sigma_datas)]
        c_skip, c_out, c_in = (torch.cat(c) for c in zip(*parts))
        return c_skip, c_out, c_in

    def loss_weights(self, s: torch.Tensor) -> torch.Tensor:
        return torch.cat([loss_weight(sk, sd) for sk, sd in zip(s.chunk(len(self.sigma_datas)), self.sigma_datas)])

    def member_losses(self, batches: list[torch.Tensor], draws: list[tuple[torch.Tensor, ...]]) -> list[torch.Tensor]:
        sigmas, noises = zip(*draws)
        terms = self.loss_terms(torch.cat(batches), torch.cat(sigmas), torch.cat(noises))
        return [t.mean() for t in terms.chunk(len(batches))]


def data_std(encoded: torch.Tensor) -> float:
    """sigma_data default: std of every entry of the encoded training set (about 1 for +-1)."""
    return float(encoded.float().std()) if encoded.numel() > 1 else 1.0


def wrap(
    backbone: nn.Module, encoding: Encoding, cfg: ModelConfig, train_cells: np.ndarray, sigma_data: float | None = None
) -> EDMDiffusion:
    """Any backbone F(x_in, c_noise) -> (B, C, H, W) as an EDM diffusion model of a run: what a
    family builder returns. sigma_data is model.sigma_data when set, else the std of the
    encoded training cells (uint8 (N, H, W))."""
    if sigma_data is None:
        if cfg.sigma_data is not None:
            sigma_data = cfg.sigma_data
        else:  # a number of the data: on the CPU, also where a model is built on "meta" to be sized
            with torch.device("cpu"):
                sigma_data = data_std(encoding.to_continuous(train_cells))
    return EDMDiffusion(backbone, encoding, cfg, sigma_data)


class AnalyticDiffusion(DiffusionBase):
    """An analytic denoiser (empirical or population) behind the same sampler and evaluator."""

    kind = "analytic"

    def __init__(self, denoise: Denoiser, encoding: Encoding, cfg: ModelConfig):
        super().__init__(encoding, cfg)
        self._denoise = denoise

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return self._denoise(x, sigma)

    def loss(self, batch: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        raise TypeError("an analytic denoiser has nothing to train")
