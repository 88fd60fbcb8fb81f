"""An MLP denoiser backbone: the simplest network the EDM wrapper can train, as a baseline
with no attention, no weight sharing across cells and no notion of the grid.

Shapes: B batch, C channels, H x W grid, P = C*H*W inputs, D width.
"""

from __future__ import annotations

import torch
from torch import nn

from twoclocks.models.config import ModelConfig
from twoclocks.models.dit import NoiseEmbedding


class ResidualMLPBlock(nn.Module):
    """x + Linear(GELU(Linear(LN(x)))): (B, D) -> (B, D), hidden width D * mlp_ratio."""

    def __init__(self, dim: int, mlp_ratio: float):
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.net = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class MLPDenoiser(nn.Module):
    """F(x_in, c_noise): (B, C, H, W), (B,) or (1,) shared -> (B, C, H, W).

    The flattened input (B, P) is concatenated with the noise embedding (B, D), projected to
    width D, passed through `depth` residual MLP blocks and projected back to P. The output
    layer starts at zero, so F = 0 and the EDM denoiser starts as c_skip * x (as the DiT does).
    """

    shared_noise_level = True  # the EDM wrapper may pass c_noise (1,) (twoclocks.models.edm)

    def __init__(self, cfg: ModelConfig, channels: int, shape: tuple[int, int]):
        super().__init__()
        self.C, (self.H, self.W) = channels, shape
        P, D = channels * shape[0] * shape[1], cfg.width
        self.noise_embed = NoiseEmbedding(D)
        self.inp = nn.Linear(P + D, D)
        self.blocks = nn.ModuleList(ResidualMLPBlock(D, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.norm_out = nn.LayerNorm(D)
        self.out = nn.Linear(D, P)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        B = x.shape[0]
        h = self.inp(torch.cat([x.reshape(B, -1), self.noise_embed(c_noise).to(x.dtype).expand(B, -1)], dim=1))
        for block in self.blocks:
            h = block(h)
        return self.out(self.norm_out(h)).reshape(B, self.C, self.H, self.W)
