"""Diffusion transformer (Peebles & Xie 2023) with adaLN-Zero blocks, sized for tiny grids.

Shapes: B batch, C channels, H x W grid, p patch side, T = (H/p)(W/p) tokens, D width.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from twoclocks.errors import ConfigError
from twoclocks.models.config import ModelConfig
from twoclocks.models.kernels import AdaLNModulations, attention


def sincos_2d(h: int, w: int, dim: int) -> torch.Tensor:
    """Fixed 2-D sine-cosine position embedding (T, dim), half the channels per axis; when dim
    is not a multiple of 4 the last dim % 4 channels are zero."""

    def axis(n: int, d: int) -> torch.Tensor:
        freqs = 1.0 / (10000 ** (torch.arange(d // 2, dtype=torch.float64) / max(1, d // 2)))
        ang = torch.arange(n, dtype=torch.float64)[:, None] * freqs[None]
        return torch.cat([ang.sin(), ang.cos()], dim=1)

    quarter = dim // 4
    eh, ew = axis(h, 2 * quarter), axis(w, 2 * quarter)
    grid = torch.cat([eh[:, None, :].expand(h, w, -1), ew[None, :, :].expand(h, w, -1)], dim=-1)
    grid = torch.nn.functional.pad(grid.reshape(h * w, 4 * quarter), (0, dim - 4 * quarter))
    return grid.float()


class NoiseEmbedding(nn.Module):
    """c_noise (B,) -> (B, D): sinusoidal features followed by a 2-layer MLP."""

    def __init__(self, dim: int, freq_dim: int = 64):
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, c_noise: torch.Tensor) -> torch.Tensor:
        half = self.freq_dim // 2
        # c_noise = ln(sigma)/4 lies in about [-2, 1.2]; scale so the frequencies resolve it.
        freqs = torch.exp(-math.log(1000.0) * torch.arange(half, device=c_noise.device) / half)
        ang = 100.0 * c_noise[:, None].float() * freqs[None]
        return self.mlp(torch.cat([ang.cos(), ang.sin()], dim=1))


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale[:, None]) + shift[:, None]


class DiTBlock(nn.Module):
    """Pre-LN attention + MLP, each modulated (shift, scale) and gated by the conditioning.

    The block's six modulation vectors come from the conditioning (`DiTBody`).
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        # Exact (erf) GELU, as in the GPT and MLP families: on CPUs it is 2-5x faster than the
        # tanh approximation (docs/performance.md), and the two differ by < 5e-4.
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, mods: torch.Tensor) -> torch.Tensor:
        """x: (B, T, D) tokens, mods: (B or 1, 6D) shift, scale, gate of attention then MLP
        -> (B, T, D)."""
        B, T, D = x.shape
        sh1, sc1, g1, sh2, sc2, g2 = mods.chunk(6, dim=1)
        h = modulate(self.norm1(x), sh1, sc1)
        q, k, v = self.qkv(h).reshape(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        a = attention(q, k, v).transpose(1, 2).reshape(B, T, D)
        x = x + g1[:, None] * self.proj(a)
        x = x + g2[:, None] * self.mlp(modulate(self.norm2(x), sh2, sc2))
        return x


class DiTBody(nn.Module):
    """The DiT after its input embedding: tokens (B, T, D) with conditioning c (B or 1, D) ->
    (B, T, out_dim).

    Fixed 2-D sine-cosine positions on the token grid, `depth` adaLN-Zero blocks, the final
    modulated layer norm and a linear output layer. Every modulation and the output layer
    start at zero (adaLN-Zero), so each block starts as the identity and the output as 0. A
    c of shape (1,) is one conditioning shared by the batch: the modulations are then
    computed once and broadcast.

    `inputs` are the subclass's input and conditioning embeddings, registered first and under
    their own names (the parameter order and state-dict keys of saved runs).
    """

    pos: torch.Tensor

    def __init__(self, cfg: ModelConfig, grid: tuple[int, int], out_dim: int, **inputs: nn.Module):
        super().__init__()
        for name, module in inputs.items():
            self.add_module(name, module)
        D = cfg.width
        self.register_buffer("pos", sincos_2d(grid[0], grid[1], D), persistent=False)
        self.blocks = nn.ModuleList(DiTBlock(D, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.norm_out = nn.LayerNorm(D, elementwise_affine=False, eps=1e-6)
        # Six modulation vectors per block (shift, scale, gate of attention and MLP), shift and
        # scale of the output layer.
        self.modulation = AdaLNModulations(D, [6 * D] * cfg.depth + [2 * D])
        self.out = nn.Linear(D, out_dim)
        for m in (self.modulation.linear, self.out):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)

    def body(self, tokens: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = tokens + self.pos
        *per_block, last = self.modulation(c)
        for block, block_mods in zip(self.blocks, per_block):
            h = block(h, block_mods)
        shift, scale = last.chunk(2, dim=1)
        return self.out(modulate(self.norm_out(h), shift, scale))


class DiT(DiTBody):
    """F(x_in, c_noise): (B, C, H, W), (B,) or (1,) -> (B, C, H, W): p x p patches embedded
    linearly, c_noise embedded by `NoiseEmbedding`, the DiT body, patches back to the grid.

    A c_noise of shape (1,) is one noise level shared by the batch (as the sampler uses it).
    """

    embed: nn.Linear
    noise_embed: NoiseEmbedding
    shared_noise_level = True  # the EDM wrapper may pass c_noise (1,) (twoclocks.models.edm)

    def __init__(self, cfg: ModelConfig, channels: int, shape: tuple[int, int]):
        H, W = shape
        p = cfg.patch
        if H % p or W % p:
            raise ConfigError(f"model.patch={p} does not divide the task's grid {H}x{W}")
        D = cfg.width
        super().__init__(
            cfg, (H // p, W // p), channels * p * p, embed=nn.Linear(channels * p * p, D), noise_embed=NoiseEmbedding(D)
        )
        self.p, self.C, self.H, self.W = p, channels, H, W

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, T, C*p*p)."""
        B, p = x.shape[0], self.p
        x = x.reshape(B, self.C, self.H // p, p, self.W // p, p).permute(0, 2, 4, 1, 3, 5)
        return x.reshape(B, (self.H // p) * (self.W // p), self.C * p * p)

    def unpatchify(self, t: torch.Tensor) -> torch.Tensor:
        """(B, T, C*p*p) -> (B, C, H, W)."""
        B, p = t.shape[0], self.p
        x = t.reshape(B, self.H // p, self.W // p, self.C, p, p).permute(0, 3, 1, 4, 2, 5)
        return x.reshape(B, self.C, self.H, self.W)

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        return self.unpatchify(self.body(self.embed(self.patchify(x)), self.noise_embed(c_noise)))
