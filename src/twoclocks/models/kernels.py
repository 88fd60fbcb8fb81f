"""CPU speed devices of the models, kept beside them so that the model files read as their
papers do. Each computes what the plain formula computes (tests/test_dit.py,
tests/test_perf.py); each was measured (docs/performance.md).

- `AdaLNModulations`: every adaLN modulation of a DiT in one matmul and one split.
- `attention`: fused SDPA, except bf16/fp16 on the CPU, where the plain formula with
  `ShortRowSoftmax` is faster for the few tokens of a small grid.
- `shared_level`: one noise level expanded to the batch (as the samplers pass it) becomes
  one level, so that a backbone computes its conditioning once for the whole batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class AdaLNModulations(nn.Sequential):
    """c (B or 1, D) -> the modulation vectors of every block and of the output layer, one
    (B or 1, width) tensor per entry of `widths`.

    Every adaLN modulation is a linear map of SiLU(c), so the per-block layers of DiT
    concatenated are one linear layer of width sum(widths), computed by one matmul instead of
    depth + 1 small ones. Its output is cut by one split: the backward of a split is one
    concatenation, where depth + 1 slices would each add a zero-padded copy of the gradient.
    The layer is `self[1]` (state-dict key `modulation.1`, as saved runs hold it).
    """

    def __init__(self, dim: int, widths: list[int]):
        super().__init__(nn.SiLU(), nn.Linear(dim, sum(widths)))
        self.widths = list(widths)

    @property
    def linear(self) -> nn.Linear:
        layer = self[1]
        assert isinstance(layer, nn.Linear)
        return layer

    def forward(self, c: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return super().forward(c).split(self.widths, dim=1)


class ShortRowSoftmax(torch.autograd.Function):
    """Softmax over the last dimension written as elementwise passes, for the few keys of a
    small grid: torch's CPU softmax kernel vectorises along the row, so rows of 9 entries run
    it about 5x slower than these passes do (forward and backward, docs/performance.md)."""

    @staticmethod
    def forward(ctx, scores: torch.Tensor) -> torch.Tensor:
        p = (scores - scores.amax(dim=-1, keepdim=True)).exp_()
        p = p.div_(p.sum(dim=-1, keepdim=True))
        ctx.save_for_backward(p)
        return p

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (p,) = ctx.saved_tensors
        # d softmax: p * (g - <g, p>) along the row.
        return p * (grad - (grad * p).sum(dim=-1, keepdim=True))


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Unmasked softmax attention: q, k, v (B, h, T, d) -> (B, h, T, d).

    Fused SDPA everywhere except bf16/fp16 on the CPU, where this build's fused kernels are
    about 2x slower than the plain formula for the few tokens of a small grid; the softmax
    runs in fp32 (measured, docs/performance.md).
    """
    if q.device.type == "cpu" and q.dtype in (torch.bfloat16, torch.float16):
        scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-1, -2)
        return ShortRowSoftmax.apply(scores.float()).to(v.dtype) @ v
    return F.scaled_dot_product_attention(q, k, v)


def shared_level(sigma: torch.Tensor) -> torch.Tensor:
    """sigma (B,) -> (1,) when it is one level expanded to the batch (stride 0, as the samplers
    pass it), else sigma unchanged."""
    if sigma.dim() == 1 and len(sigma) > 1 and sigma.stride(0) == 0:
        return sigma[:1]
    return sigma
