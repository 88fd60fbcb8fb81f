"""The DiT's shortcuts must compute the same function as the plain formulas."""

import pytest
import torch

from twoclocks.config import build_config
from twoclocks.models.kernels import ShortRowSoftmax
from twoclocks.training.experiment import build_experiment


def _dit_with_random_modulation():
    exp = build_experiment(build_config(["model.depth=2"]))
    net = exp.model.backbone
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # adaLN-Zero starts at zero; give modulations and output real values
        for layer in (net.modulation[1], net.out):
            layer.weight.copy_(0.3 * torch.randn(layer.weight.shape, generator=gen))
            layer.bias.copy_(0.3 * torch.randn(layer.bias.shape, generator=gen))
    return net.eval(), gen


def test_shared_conditioning_is_the_per_sample_formula():
    """One noise level for the batch (c_noise (1,), as in generation) computes the conditioning
    once and broadcasts it; it must equal the per-row computation."""
    net, gen = _dit_with_random_modulation()
    x = torch.randn(16, 1, 6, 6, generator=gen)
    level = torch.tensor([0.3])
    with torch.no_grad():
        shared = net(x, level)
        per_row = net(x, level.repeat(16))  # (B,) contiguous: the training path
    torch.testing.assert_close(shared, per_row, rtol=1e-5, atol=1e-5)
    assert shared.abs().mean() > 0.1  # the modulation really acted


def test_shared_conditioning_in_bf16_generation_agrees_with_fp32():
    net, gen = _dit_with_random_modulation()
    x = torch.randn(64, 1, 6, 6, generator=gen)
    with torch.no_grad():
        ref = net(x, torch.tensor([0.1]).repeat(64))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = net.to(torch.bfloat16)(x, torch.tensor([0.1]))
    assert (low.float() - ref).abs().max() < 0.1 * ref.abs().max()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_short_row_softmax_matches_torch(dtype):
    s = torch.randn(8, 4, 9, 9, dtype=dtype, requires_grad=True)
    g = torch.randn(8, 4, 9, 9, dtype=dtype)
    ours = ShortRowSoftmax.apply(s)
    ref = s.softmax(dim=-1)
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(torch.autograd.grad(ours, s, g)[0], torch.autograd.grad(ref, s, g)[0])
