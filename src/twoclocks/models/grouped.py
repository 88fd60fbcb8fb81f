"""Stacking K networks of one architecture into one: each `nn.Linear` becomes a
`GroupedLinear` with (K, out, in) weights applied with one batched matmul, each affine
`nn.LayerNorm` a `GroupedLayerNorm`, each `nn.Embedding` a `GroupedEmbedding` (K, V, D) and
each `LearnedPositions` a `GroupedPositions` (K, L, D), and the K batches travel as one
(K*n, ...) batch, member-major. Everything that works row by row (norms without weights,
attention, GELU) is unchanged. Every member's outputs and gradients are bitwise those of its
own network (tests/test_perf.py, tests/test_group_families.py), which is what lets a group
of runs stand for its single runs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, TypeVar

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
    the cast copies are what the backward uses, as F.linear's backward does. A layer without
    bias (b None) is F.linear's mm, here bmm.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        device = x.device.type
        ctx.dtypes = (x.dtype, weight.dtype, None if bias is None else bias.dtype)
        if torch.is_autocast_enabled(device):
            dtype = torch.get_autocast_dtype(device)
            x, weight = x.to(dtype), weight.to(dtype)
            bias = None if bias is None else bias.to(dtype)
        ctx.save_for_backward(x, weight)
        with torch.autocast(device, enabled=False):
            if bias is None:
                return torch.bmm(x, weight.transpose(1, 2))
            return torch.baddbmm(bias[:, None], x, weight.transpose(1, 2))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        x, weight = ctx.saved_tensors
        x_dtype, w_dtype, b_dtype = ctx.dtypes
        grad_x = torch.bmm(grad, weight)  # addmm: grad @ W
        grad_w = torch.bmm(grad.transpose(1, 2), x)  # addmm: grad^T @ x, not (x^T @ grad)^T
        grad_b = None if b_dtype is None else grad.sum(1).to(b_dtype)
        return grad_x.to(x_dtype), grad_w.to(w_dtype), grad_b


class GroupedLinear(nn.Module):
    """K linear layers: weight (K, out, in), bias (K, out) or None. Input (K*n, ..., in),
    member-major."""

    bias: nn.Parameter | None

    def __init__(self, layers: list[nn.Linear]):
        super().__init__()
        self.weight = nn.Parameter(torch.stack([layer.weight.detach() for layer in layers]))
        if layers[0].bias is None:
            self.register_parameter("bias", None)
        else:
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


class GroupedEmbedding(nn.Module):
    """K embedding tables: weight (K, V, D). Ids (K*n, ...) member-major -> (K*n, ..., D).

    One lookup in the (K*V, D) table with member k's ids offset by k*V. Its backward adds each
    position's gradient into its row in the order of the positions, so a member's rows get its
    single run's sums bit for bit.
    """

    def __init__(self, layers: list[nn.Embedding]):
        super().__init__()
        self.weight = nn.Parameter(torch.stack([layer.weight.detach() for layer in layers]))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        K, V, D = self.weight.shape
        offsets = torch.arange(K, device=ids.device)[:, None] * V
        rows = F.embedding(ids.reshape(K, -1) + offsets, self.weight.reshape(K * V, D))
        return rows.reshape(*ids.shape, D)


class LearnedPositions(nn.Module):
    """A learned embedding of positions 0..L-1 added to every item of a batch:
    h (B, T, D) -> h + weight[start : start + T], weight (L, D).

    It computes what an `nn.Embedding` looked up at positions start..start+T-1 and broadcast
    over the batch computes, bit for bit (each row of the table is taken once), and is built
    and drawn like one (N(0, 1)); as a layer of its own it can hold K members' tables
    (`GroupedPositions`), which a lookup shared by the whole batch cannot.
    """

    def __init__(self, positions: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(positions, dim))
        nn.init.normal_(self.weight)

    def forward(self, h: torch.Tensor, start: int = 0) -> torch.Tensor:
        return h + self.weight[start : start + h.shape[1]]


class GroupedPositions(nn.Module):
    """K `LearnedPositions`: weight (K, L, D); h (K*n, T, D) member-major -> member k's rows
    plus its table's rows start..start+T-1."""

    def __init__(self, layers: list[LearnedPositions]):
        super().__init__()
        self.weight = nn.Parameter(torch.stack([layer.weight.detach() for layer in layers]))

    def forward(self, h: torch.Tensor, start: int = 0) -> torch.Tensor:
        K, T = self.weight.shape[0], h.shape[1]
        return (h.unflatten(0, (K, -1)) + self.weight[:, None, start : start + T]).flatten(0, 1)


# The layers `stack_backbone` stacks, by exact type (a subclass may compute something else),
# each with the class that holds K of them.
STACKED: dict[type[nn.Module], Callable[[list[Any]], nn.Module]] = {
    nn.Linear: GroupedLinear,
    nn.LayerNorm: GroupedLayerNorm,
    nn.Embedding: GroupedEmbedding,
    LearnedPositions: GroupedPositions,
}


def stackable(module: nn.Module) -> bool:
    """A layer `stack_backbone` stacks: one of `STACKED` (its exact type), where a layer norm
    has its weight and bias and an embedding is plain (no padding index, norm limit, frequency
    scaling or sparse gradient)."""
    if type(module) not in STACKED:
        return False
    if isinstance(module, nn.LayerNorm):
        return module.weight is not None and module.bias is not None
    if isinstance(module, nn.Embedding):
        special = module.scale_grad_by_freq or module.sparse
        return module.padding_idx is None and module.max_norm is None and not special
    return True


def stacking_blocker(backbone: nn.Module) -> str | None:
    """Why `stack_backbone` cannot stack this backbone (parameters outside its stackable
    layers), or None."""
    # The backbone itself is not replaced, only its sub-layers.
    inside = {id(p) for n, m in backbone.named_modules() if n and stackable(m) for p in m.parameters(recurse=False)}
    loose = [n for n, p in backbone.named_parameters() if id(p) not in inside]
    return f"parameters {loose[:3]} are not in linear, norm or embedding layers" if loose else None


M = TypeVar("M", bound=nn.Module)


def stack_backbone(backbones: list[M]) -> M:
    """A copy of backbones[0] whose stackable layers (`STACKED`) hold all K members' weights."""
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
            setattr(module, child_name, STACKED[type(child)](members))
    for name, buf in group.named_buffers():
        if not all(torch.equal(buf, b.get_buffer(name)) for b in backbones):
            raise ConfigError(f"cannot group this backbone: buffer {name} differs between members")
    return group
