"""The run-time numerics of training and evaluation: generation in chunks, and the precision
context (bf16 autocast, CPU attention kernel).
"""

from __future__ import annotations

import contextlib
import copy

import numpy as np
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from twoclocks.models.base import GenerativeModel


def precision_context(device: torch.device, precision: str) -> contextlib.ExitStack:
    """The numeric context of training steps and generation: nothing for fp32; for bf16,
    autocast and, on the CPU, the math SDPA kernel, which this torch build runs about 2x faster
    than its fused CPU kernels in bf16 (the GPT's training step: docs/performance.md)."""
    stack = contextlib.ExitStack()
    if precision == "bf16":
        stack.enter_context(torch.autocast(device.type, dtype=torch.bfloat16))
        if device.type == "cpu":
            stack.enter_context(sdpa_kernel(SDPBackend.MATH))
    return stack


CPU_GENERATION_CHUNK = 128  # samples per chunk on a CPU (eval.batch = 0): docs/performance.md


def generation_chunk(batch: int, num: int, device: torch.device) -> int:
    """Samples per generation chunk: `batch` if positive; else (auto) CPU_GENERATION_CHUNK on a
    CPU, where smaller chunks keep their activations in cache, and all `num` on an accelerator."""
    if batch > 0:
        return batch
    return CPU_GENERATION_CHUNK if device.type == "cpu" else max(num, 1)


def generate(model: GenerativeModel, noise: torch.Tensor, batch: int, precision: str = "fp32") -> np.ndarray:
    """Generate from fixed noise in chunks of `batch` samples (0 = auto, `generation_chunk`);
    returns uint8 cells (M, H, W) (`sample_chunks`)."""
    return np.concatenate(sample_chunks(model, noise, batch, precision, lambda net, x: net.generate(x)))


def generate_values(
    model: GenerativeModel, noise: torch.Tensor, batch: int, precision: str = "fp32"
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 cells (M, H, W) and the continuous values they decode from, float32 (M, C, H, W)
    (`GenerativeModel.generate_values`), from one pass of the sampler."""
    values = np.concatenate(
        sample_chunks(model, noise, batch, precision, lambda net, x: net.generate_values(x).float().cpu().numpy())
    )
    return model.encoding.from_continuous(torch.from_numpy(values)), values


def sample_chunks(model: GenerativeModel, noise: torch.Tensor, batch: int, precision: str, fn) -> list:
    """`fn(net, noise_chunk)` for each chunk of `batch` samples (0 = auto, `generation_chunk`).

    In bf16 the network runs from a bf16 copy of the weights, so that neither they nor the
    activations are cast back and forth at every op (a quarter faster than autocast alone on
    CPU, with the same agreement with fp32 samples: docs/performance.md).
    """
    was_training = model.training
    model.eval()
    net = copy.deepcopy(model).to(torch.bfloat16) if precision == "bf16" else model
    out = []
    # inference_mode: no autograd bookkeeping at all (generation never needs gradients).
    with torch.inference_mode(), precision_context(noise.device, precision):
        chunk = generation_chunk(batch, len(noise), noise.device)
        for start in range(0, len(noise), chunk):
            out.append(fn(net, noise[start : start + chunk]))
    model.train(was_training)
    return out
