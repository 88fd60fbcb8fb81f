"""Stacking K networks of one architecture into one: each `nn.Linear` becomes a
`GroupedLinear` with (K, out, in) weights applied with one batched matmul, each affine
`nn.LayerNorm` a `GroupedLayerNorm`, and the K batches travel as one (K*n, ...) batch,
member-major. Everything that works row by row (norms without weights, attention, GELU) is
unchanged. Every member's outputs and gradients are bitwise those of its own network
(tests/test_perf.py), which is what lets a group of runs stand for its single runs.
"""

from __future__ import annotations

import copy
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from twoclocks.errors import ConfigError


class _GroupedLinearFn(torch.autograd.Function):
    """y[k] = x[k] W[k]^T + b[k] for x (K, n, in), W (K, out, in), b (K, out), as batched matmuls
    whose results are bitwise those of F.linear on each member (checked in tests/test_perf.py).

    The backward is written out because autograd's own for baddbmm computes the weight
    gradient as x^T grad, while F.linear (addmm with a transposed weight) computes grad^T x,
    which rounds differently. Under autocast the inputs are cast once, as autocast would, and
    the cast copies are what the backward uses, as F.linear's backward does.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        device = x.device.type
        ctx.dtypes = (x.dtype, weight.dtype, bias.dtype)
        if torch.is_autocast_enabled(device):
            dtype = torch.get_autocast_dtype(device)
            x, weight, bias = x.to(dtype), weight.to(dtype), bias.to(dtype)
        ctx.save_for_backward(x, weight)
        with torch.autocast(device, enabled=False):
            return torch.baddbmm(bias[:, None], x, weight.transpose(1, 2))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, weight = ctx.saved_tensors
        x_dtype, w_dtype, b_dtype = ctx.dtypes
        grad_x = torch.bmm(grad, weight)  # addmm: grad @ W
        grad_w = torch.bmm(grad.transpose(1, 2), x)  # addmm: grad^T @ x, not (x^T @ grad)^T
        return grad_x.to(x_dtype), grad_w.to(w_dtype), grad.sum(1).to(b_dtype)


class GroupedLinear(nn.Module):
    """K linear layers: weight (K, out, in), bias (K, out). Input (K*n, ..., in), member-major."""

    def __init__(self, layers: list[nn.Linear]):
        super().__init__()
        self.weight = nn.Parameter(torch.stack([layer.weight.detach() for layer in layers]))
        self.bias = nn.Parameter(torch.stack([layer.bias.detach() for layer in layers]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        K = self.weight.shape[0]
        y = _GroupedLinearFn.apply(x.reshape(K, -1, x.shape[-1]), self.weight, self.bias)
        return y.reshape(*x.shape[:-1], y.shape[-1])


class GroupedLayerNorm(nn.Module):
    """K affine layer norms, applied member by member (with the members' own kernels, so that
    every member's numbers are those of its single run)."""

    def __init__(self, layers: list[nn.LayerNorm]):
        super().__init__()
        self.shape, self.eps = layers[0].normalized_shape, layers[0].eps
        self.weight = nn.Parameter(torch.stack([layer.weight.detach() for layer in layers]))
        self.bias = nn.Parameter(torch.stack([layer.bias.detach() for layer in layers]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = x.chunk(self.weight.shape[0])
        return torch.cat(
            [F.layer_norm(p, self.shape, w, b, self.eps) for p, w, b in zip(parts, self.weight, self.bias)]
        )


def stackable(module: nn.Module) -> bool:
    """A layer `stack_backbone` stacks: a linear layer with a bias or an affine layer norm."""
    if isinstance(module, nn.Linear):
        return module.bias is not None
    return isinstance(module, nn.LayerNorm) and module.weight is not None


def stacking_blocker(backbone: nn.Module) -> str | None:
    """Why `stack_backbone` cannot stack this backbone (parameters outside its linear layers
    and affine norms), or None."""
    # The backbone itself is not replaced, only its sub-layers.
    inside = {id(p) for n, m in backbone.named_modules() if n and stackable(m) for p in m.parameters(recurse=False)}
    loose = [n for n, p in backbone.named_parameters() if id(p) not in inside]
    return f"parameters {loose[:3]} are not in linear layers" if loose else None


def stack_backbone(backbones: list[nn.Module]) -> nn.Module:
    """A copy of backbones[0] whose linear (and affine norm) layers hold all K members' weights."""
    blocker = stacking_blocker(backbones[0])
    if blocker:
        raise ConfigError(f"cannot group this backbone: {blocker}")
    group = copy.deepcopy(backbones[0])
    for name, module in list(group.named_modules()):
        for child_name, child in list(module.named_children()):
            if not stackable(child):
                continue
            path = f"{name}.{child_name}" if name else child_name
            members = [b.get_submodule(path) for b in backbones]
            if isinstance(child, nn.Linear):
                setattr(module, child_name, GroupedLinear([cast(nn.Linear, m) for m in members]))
            else:
                setattr(module, child_name, GroupedLayerNorm([cast(nn.LayerNorm, m) for m in members]))
    for name, buf in group.named_buffers():
        if not all(torch.equal(buf, b.get_buffer(name)) for b in backbones):
            raise ConfigError(f"cannot group this backbone: buffer {name} differs between members")
    return group
