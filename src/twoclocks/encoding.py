"""Encodings of integer grids for the two model families.

Continuous (diffusion): a binary cell is one channel in {-1, +1}; a categorical cell with K
values is either K one-hot channels in {-1, +1} (scheme "onehot") or ceil(log2 K) analog bits
in {-1, +1} (scheme "analog"). Decoding is by sign (binary, analog bits) or argmax (one-hot);
an analog-bit code outside [0, K) is clipped to K-1 (the task's checks then judge that value).

Tokens (autoregressive): the cell value itself, one token per cell, in raster order unless
the task provides an order; token K is the BOS token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from twoclocks.errors import ConfigError, quote

if TYPE_CHECKING:  # imported by the methods that make tensors: a config is read without torch
    import torch

SCHEMES = ("auto", "onehot", "analog")


@dataclass(frozen=True)
class Encoding:
    """Maps uint8 cells (n, H, W) with values in [0, K) to model inputs and back."""

    shape: tuple[int, int]  # (H, W)
    num_values: int  # K
    scheme: str = "auto"  # auto | onehot | analog; auto = onehot for K>2 (binary needs none)
    order: tuple[int, ...] | None = None  # token order (raster indices), None = raster

    def __post_init__(self):
        if self.scheme not in SCHEMES:
            raise ConfigError(f"model.encoding must be one of {SCHEMES}, got {quote(self.scheme)}")

    # ----- continuous -------------------------------------------------------------------
    @property
    def resolved_scheme(self) -> str:
        if self.num_values == 2:
            return "binary"
        return "onehot" if self.scheme in ("auto", "onehot") else "analog"

    @property
    def channels(self) -> int:
        s = self.resolved_scheme
        if s == "binary":
            return 1
        if s == "onehot":
            return self.num_values
        return max(1, math.ceil(math.log2(self.num_values)))

    def to_continuous(self, cells: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 (n, H, W) -> float32 (n, C, H, W) with entries in {-1, +1}."""
        import torch

        c = torch.as_tensor(np.asarray(cells), dtype=torch.long)
        s = self.resolved_scheme
        if s == "binary":
            x = c[:, None].float()
        elif s == "onehot":
            x = torch.nn.functional.one_hot(c, self.num_values).permute(0, 3, 1, 2).float()
        else:
            bits = torch.arange(self.channels)
            x = ((c[:, None] >> bits[None, :, None, None]) & 1).float()
        return 2.0 * x - 1.0

    def from_continuous(self, x: torch.Tensor) -> np.ndarray:
        """float (n, C, H, W) -> uint8 cells (n, H, W)."""
        import torch

        s = self.resolved_scheme
        x = x.detach().float().cpu()
        if s == "binary":
            c = (x[:, 0] > 0).long()
        elif s == "onehot":
            c = x.argmax(dim=1)
        else:
            bits = (x > 0).long()
            weights = (2 ** torch.arange(self.channels))[None, :, None, None]
            c = (bits * weights).sum(dim=1).clamp(max=self.num_values - 1)
        return c.numpy().astype(np.uint8)

    # ----- tokens -----------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        """K cell values plus one BOS token."""
        return self.num_values + 1

    @property
    def bos(self) -> int:
        return self.num_values

    @property
    def seq_len(self) -> int:
        return self.shape[0] * self.shape[1]

    def _order(self) -> np.ndarray:
        return np.arange(self.seq_len) if self.order is None else np.asarray(self.order)

    def to_tokens(self, cells: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 (n, H, W) -> long (n, H*W) in token order (no BOS)."""
        import torch

        flat = torch.as_tensor(np.asarray(cells), dtype=torch.long).reshape(len(cells), self.seq_len)
        return flat[:, torch.as_tensor(self._order())]

    def from_tokens(self, tokens: torch.Tensor) -> np.ndarray:
        """long (n, H*W) in token order -> uint8 (n, H, W)."""
        import torch

        tokens = tokens.detach().cpu().long().clamp(max=self.num_values - 1)
        flat = torch.empty_like(tokens)
        flat[:, torch.as_tensor(self._order())] = tokens
        return flat.reshape(-1, *self.shape).numpy().astype(np.uint8)


# ----- 64-bit keys of items (exact-match lookup: twoclocks.data.TrainingIndex) ----------------
_HASH_MULT = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant (golden ratio)


def _rows(cells: np.ndarray) -> np.ndarray:
    """uint8 (n, d): one row of cell bytes per item (also for n = 0)."""
    cells = np.ascontiguousarray(cells, dtype=np.uint8)
    return cells.reshape(len(cells), int(np.prod(cells.shape[1:], dtype=np.int64)))


def cell_words(cells: np.ndarray) -> np.ndarray:
    """uint64 (n, ceil(d/8)): each item's d cell bytes packed 8 per word, zero-padded."""
    flat = _rows(cells)
    d = flat.shape[1]
    if d % 8:
        padded = np.zeros((len(flat), d + (-d) % 8), np.uint8)
        padded[:, :d] = flat
        flat = padded
    return flat.view(np.uint64)


def mix_words(columns: np.ndarray) -> np.ndarray:
    """uint64 (n,) hash of packed cell words given word-major, columns (k, n)."""
    h = np.full(columns.shape[1], np.uint64(0xCBF29CE484222325), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for word in columns:
            h ^= word
            h *= _HASH_MULT
            h ^= h >> np.uint64(29)
    return h


def hash_cells(cells: np.ndarray) -> np.ndarray:
    """uint64 (n,) hash of each item's cells; equal items always hash equal."""
    return mix_words(np.ascontiguousarray(cell_words(cells).T))
