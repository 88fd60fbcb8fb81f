"""Group parity on an n x n binary image: the bits are split into groups of G, and every
group has even parity (an even number of ones).

G is the complexity knob: G=2 is a second-order rule (paired bits are equal, visible in the
covariance), while for G>=3 every proper subset of a group is uniformly random, so no
pairwise statistic carries any signal about the rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from twoclocks.core.domains import Domain, closed, setting
from twoclocks.errors import ConfigError
from twoclocks.tasks._util import SIDE, bit_vectors
from twoclocks.tasks.base import Task

if TYPE_CHECKING:  # imported where the denoiser runs: reading a config needs no torch
    import torch

LAYOUTS = ("contiguous", "random", "blocks")


@dataclass
class ParityParams:
    n: int = setting(6, domain=SIDE)  # image side; the image has n*n bits
    G: int = setting(2, domain=closed(1, 64 * 64))  # group size; must divide n*n
    # contiguous (raster runs) | random (seeded permutation) | blocks
    layout: str = setting("contiguous", domain=Domain(choices=LAYOUTS))
    layout_seed: int = 0  # seed of the permutation used by layout=random


class GroupParity(Task):
    name = "parity"
    kind = "binary"
    knob = "G"
    Params = ParityParams

    def __init__(self, params: ParityParams):
        super().__init__(params)
        n, G = params.n, params.G
        if (n * n) % G != 0:
            raise ConfigError(f"task.G={G} does not divide the image size n*n={n * n}")
        self.groups = self._make_groups()  # (n*n/G, G) flat raster indices

    def _make_groups(self) -> np.ndarray:
        n, G = self.params.n, self.params.G
        idx = np.arange(n * n)
        if self.params.layout == "contiguous":
            return idx.reshape(-1, G)
        if self.params.layout == "random":
            perm = np.random.default_rng(self.params.layout_seed).permutation(n * n)
            return perm.reshape(-1, G)
        # blocks: a x b rectangles tiling the image, as square as possible.
        shapes = [(a, G // a) for a in range(1, G + 1) if G % a == 0 and n % a == 0 and n % (G // a) == 0]
        if not shapes:
            raise ConfigError(f"task.layout=blocks: no a x b block with a*b=G={G} tiles a {n}x{n} image")
        a, b = min(shapes, key=lambda s: abs(s[0] - s[1]))
        grid = idx.reshape(n // a, a, n // b, b).transpose(0, 2, 1, 3)
        return grid.reshape(-1, G)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.params.n, self.params.n)

    @property
    def num_groups(self) -> int:
        return self.groups.shape[0]

    @property
    def log2_population(self) -> float:
        n, G = self.params.n, self.params.G
        return float(n * n - n * n // G)

    def near_ball(self, d: int) -> int:
        """Valid items within distance d of a valid x: x + e for every e whose every group has
        an even weight (the valid set is a linear code), so the count is the sum of the first
        d + 1 coefficients of ((1 + z)^G + (1 - z)^G)^(n*n/G) / 2^(n*n/G) (docs/protocol.md)."""
        G = self.params.G
        group = np.array([math.comb(G, w) if w % 2 == 0 else 0 for w in range(G + 1)], dtype=object)
        weights = np.array([1], dtype=object)
        for _ in range(self.num_groups):
            weights = np.convolve(weights, group)
        return int(sum(weights[: d + 1]))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Uniform over even-parity images: G-1 free bits per group, the last fixes parity."""
        free = rng.integers(0, 2, size=(n, self.num_groups, self.params.G - 1), dtype=np.uint8)
        last = free.sum(axis=2, dtype=np.int64) % 2
        grouped = np.concatenate([free, last[..., None].astype(np.uint8)], axis=2)
        flat = np.empty((n, self.num_cells), dtype=np.uint8)
        flat[:, self.groups.reshape(-1)] = grouped.reshape(n, -1)
        return flat.reshape(n, *self.shape)

    def constraints(self, cells: np.ndarray) -> np.ndarray:
        flat = np.asarray(cells).reshape(len(cells), -1).astype(np.int64)
        return flat[:, self.groups].sum(axis=2) % 2 == 0

    def enumerate(self) -> np.ndarray | None:
        if self.log2_population > 20:
            return None
        bits = bit_vectors(int(self.log2_population))
        free = bits.reshape(-1, self.num_groups, self.params.G - 1)
        last = free.sum(axis=2) % 2
        grouped = np.concatenate([free, last[..., None].astype(np.uint8)], axis=2)
        flat = np.empty((len(bits), self.num_cells), dtype=np.uint8)
        flat[:, self.groups.reshape(-1)] = grouped.reshape(len(bits), -1)
        return flat.reshape(-1, *self.shape)

    # ----- closed-form population denoiser ------------------------------------------------
    def posterior_mean(self, y: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """E[x | y] for x uniform over even-parity images in the +-1 encoding, y = x + sigma*n.

        Bit 1 encodes as +1, so an even number of ones means prod_j x_j = c with c = +1 for
        even G and c = -1 for odd G (an odd group with evenly many ones has oddly many -1s).
        Per group, with a_j = y_j / sigma^2 and t_j = tanh(a_j):
            E[x_i | y] = (t_i + c prod_{j!=i} t_j) / (1 + c prod_j t_j).
        Computed in log-magnitude form (l_j = log|t_j|, L = sum_j l_j, s = c prod sign t_j,
        s_i = sign t_i) so that it stays finite when every |t_j| rounds to 1:
            s=+1:  E = s_i (exp(l_i) + exp(L - l_i)) / (1 + exp(L))
            s=-1:  E = s_i exp(L - l_i) expm1(2 l_i - L) / (-expm1(L))
        Args:
            y:     (B, 1, H, W) noisy +-1 images.
            sigma: (B,) noise levels.
        Returns (B, 1, H, W) posterior means, dtype of y.
        """
        import torch

        B = y.shape[0]
        a = y.double().reshape(B, -1) / sigma.double().reshape(B, 1) ** 2
        groups = torch.as_tensor(self.groups, device=y.device)
        a = a[:, groups]  # (B, groups, G)
        sign = torch.where(a >= 0, 1.0, -1.0).to(a)
        mag = a.abs()
        # log|tanh(m)| = log1p(-e^{-2m}) - log1p(e^{-2m}), stable for all m >= 0.
        e = torch.exp(-2.0 * mag)
        l = torch.log1p(-e) - torch.log1p(e)
        l = torch.clamp(l, min=-700.0)  # tanh(0)=0 -> log 0 = -inf
        L = l.sum(dim=2, keepdim=True)
        c = 1.0 if self.params.G % 2 == 0 else -1.0
        s = c * sign.prod(dim=2, keepdim=True)
        even = sign * (torch.exp(l) + torch.exp(L - l)) / (1.0 + torch.exp(L))
        odd_den = -torch.expm1(L)
        odd = sign * torch.exp(L - l) * torch.expm1(2.0 * l - L) / torch.where(odd_den > 0, odd_den, 1.0)
        mean_g = torch.where(s > 0, even, odd)
        mean_g = torch.nan_to_num(mean_g, nan=0.0).clamp(-1.0, 1.0)
        out = torch.empty(B, self.num_cells, dtype=a.dtype, device=a.device)
        out[:, groups.reshape(-1)] = mean_g.reshape(B, -1)
        return out.reshape(y.shape).to(y.dtype)
