"""Plain eager fp32 PyTorch versions of the project's models, written the obvious way: the
reference the benchmarks compare the project's training step and evaluation against.

Same architectures and sizes as twoclocks' DiT (adaLN-Zero blocks, 2-D sine-cosine positions,
EDM preconditioning and loss, Heun sampler) and GPT (pre-LN causal transformer over cell
tokens after a BOS token), the same batch and the same optimizer hyper-parameters; nothing
here imports the project's model code, so speed-ups in the project show up as ratios.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


# ----- DiT + EDM -------------------------------------------------------------------------------
def sincos(n_h: int, n_w: int, dim: int) -> torch.Tensor:
    def axis(n: int, d: int) -> torch.Tensor:
        freqs = 1.0 / (10000 ** (torch.arange(d // 2) / (d // 2)))
        ang = torch.arange(n)[:, None] * freqs[None]
        return torch.cat([ang.sin(), ang.cos()], dim=1)

    eh, ew = axis(n_h, dim // 2), axis(n_w, dim // 2)
    return torch.cat([eh[:, None].expand(n_h, n_w, -1), ew[None].expand(n_h, n_w, -1)], -1).reshape(n_h * n_w, dim)


class PlainBlock(nn.Module):
    def __init__(self, dim: int, heads: int, hidden: int):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        sh1, sc1, g1, sh2, sc2, g2 = self.ada(c).chunk(6, dim=1)
        h = self.norm1(x) * (1 + sc1[:, None]) + sh1[:, None]
        q, k, v = self.qkv(h).reshape(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, T, D)
        x = x + g1[:, None] * self.proj(a)
        h = self.norm2(x) * (1 + sc2[:, None]) + sh2[:, None]
        return x + g2[:, None] * self.mlp(h)


class PlainDiT(nn.Module):
    """F(x, c_noise) on (B, C, H, W) grids with p x p patches."""

    def __init__(
        self, channels: int, H: int, W: int, patch: int, dim: int, depth: int, heads: int, mlp_ratio: float = 4.0
    ):
        super().__init__()
        self.C, self.H, self.W, self.p = channels, H, W, patch
        self.embed = nn.Linear(channels * patch * patch, dim)
        self.register_buffer("pos", sincos(H // patch, W // patch, dim))
        self.noise_mlp = nn.Sequential(nn.Linear(64, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.blocks = nn.ModuleList(PlainBlock(dim, heads, int(dim * mlp_ratio)) for _ in range(depth))
        self.norm_out = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.ada_out = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))
        self.out = nn.Linear(dim, channels * patch * patch)

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        B, C, H, W, p = x.shape[0], self.C, self.H, self.W, self.p
        t = x.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5).reshape(B, -1, C * p * p)
        h = self.embed(t) + self.pos
        freqs = torch.exp(-math.log(1000.0) * torch.arange(32) / 32)
        ang = 100.0 * c_noise[:, None] * freqs[None]
        c = self.noise_mlp(torch.cat([ang.cos(), ang.sin()], dim=1))
        for block in self.blocks:
            h = block(h, c)
        shift, scale = self.ada_out(c).chunk(2, dim=1)
        out = self.out(self.norm_out(h) * (1 + scale[:, None]) + shift[:, None])
        return out.reshape(B, H // p, W // p, C, p, p).permute(0, 3, 1, 4, 2, 5).reshape(B, C, H, W)


def edm_denoise(net: nn.Module, x: torch.Tensor, sigma: torch.Tensor, sd: float) -> torch.Tensor:
    s = sigma.reshape(-1, 1, 1, 1)
    c_skip, c_out, c_in = sd**2 / (s**2 + sd**2), s * sd / (s**2 + sd**2).sqrt(), 1 / (s**2 + sd**2).sqrt()
    return c_skip * x + c_out * net(c_in * x, sigma.log() / 4)


def edm_loss(net: nn.Module, y: torch.Tensor, sd: float) -> torch.Tensor:
    sigma = (torch.randn(y.shape[0]) * 1.2 - 1.2).exp()
    s = sigma.reshape(-1, 1, 1, 1)
    D = edm_denoise(net, y + s * torch.randn_like(y), sigma, sd)
    return ((s**2 + sd**2) / (s * sd) ** 2 * (D - y) ** 2).mean()


@torch.no_grad()
def plain_generate(
    net: nn.Module,
    noise: torch.Tensor,
    sd: float,
    steps: int = 16,
    sigma_min: float = 0.02,
    sigma_max: float = 20.0,
    rho: float = 7.0,
    sampler: str = "dpmpp_2m",
) -> torch.Tensor:
    """The deterministic samplers of EDM (Heun) and DPM-Solver++(2M) from unit noise, written
    plainly; returns the final sign bits as uint8."""
    i = torch.arange(steps, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    sig = (hi + i / (steps - 1) * (lo - hi)) ** rho
    sig = torch.cat([sig, torch.zeros(1, dtype=torch.float64)]).float()
    x = noise * sig[0]
    d_prev = h_prev = None
    for s0, s1 in zip(sig[:-1], sig[1:]):
        d0 = edm_denoise(net, x, s0.expand(len(x)), sd)
        if sampler == "heun":
            x1 = x + (s1 - s0) * (x - d0) / s0
            if s1 > 0:
                d1 = edm_denoise(net, x1, s1.expand(len(x)), sd)
                x1 = x + (s1 - s0) * ((x - d0) / s0 + (x1 - d1) / s1) / 2
            x = x1
            continue
        d = d0
        if s1 > 0 and d_prev is not None:
            r = h_prev / torch.log(s0 / s1)
            d = (1 + 1 / (2 * r)) * d0 - d_prev / (2 * r)
        x = (s1 / s0) * x + (1 - s1 / s0) * d
        if s1 > 0:
            d_prev, h_prev = d0, torch.log(s0 / s1)
    return (x[:, 0] > 0).to(torch.uint8)


# ----- GPT ----------------------------------------------------------------------------------------
class PlainGPTBlock(nn.Module):
    def __init__(self, dim: int, heads: int, hidden: int):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        q, k, v = self.qkv(self.ln1(x)).reshape(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(a.transpose(1, 2).reshape(B, T, D))
        return x + self.mlp(self.ln2(x))


class PlainGPT(nn.Module):
    """Next-cell logits over K values for (B, L) tokens after a BOS token (id K)."""

    def __init__(self, K: int, L: int, dim: int, depth: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.K = K
        self.tok, self.pos = nn.Embedding(K + 1, dim), nn.Embedding(L, dim)
        self.blocks = nn.ModuleList(PlainGPTBlock(dim, heads, int(dim * mlp_ratio)) for _ in range(depth))
        self.ln_f, self.head = nn.LayerNorm(dim), nn.Linear(dim, K, bias=False)

    def loss(self, tokens: torch.Tensor) -> torch.Tensor:
        inputs = torch.cat([torch.full_like(tokens[:, :1], self.K), tokens[:, :-1]], dim=1)
        h = self.tok(inputs) + self.pos(torch.arange(tokens.shape[1]))
        for block in self.blocks:
            h = block(h)
        return F.cross_entropy(self.head(self.ln_f(h)).reshape(-1, self.K), tokens.reshape(-1))
