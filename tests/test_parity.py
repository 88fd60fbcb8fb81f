import numpy as np
import pytest
import torch

from twoclocks.encoding import Encoding
from twoclocks.errors import ConfigError
from twoclocks.models.reference import softmax_denoiser
from twoclocks.tasks import make_task


@pytest.mark.parametrize("layout", ["contiguous", "random", "blocks"])
@pytest.mark.parametrize("G", [2, 3, 4])
def test_samples_valid_and_corruptions_caught(G, layout):
    task = make_task("parity", G=G, layout=layout)
    cells = task.sample(200, np.random.default_rng(0))
    assert cells.shape == (200, 6, 6) and cells.dtype == np.uint8
    assert task.is_valid(cells).all()
    assert (task.constraint_acc(cells) == 1).all()
    flipped = cells.copy()
    flipped[np.arange(200), np.arange(200) % 6, (np.arange(200) // 6) % 6] ^= 1
    assert not task.is_valid(flipped).any()
    # exactly one group is broken by one flip
    assert np.allclose(task.constraint_acc(flipped), 1 - 1 / task.num_groups)


def test_groups_partition_the_image():
    for layout in ("contiguous", "random", "blocks"):
        task = make_task("parity", G=4, layout=layout)
        assert sorted(task.groups.reshape(-1)) == list(range(36))


def test_random_layout_depends_on_seed():
    a = make_task("parity", G=3, layout="random", layout_seed=0).groups
    b = make_task("parity", G=3, layout="random", layout_seed=1).groups
    assert not np.array_equal(a, b)


def test_population_and_chance():
    task = make_task("parity", G=3)
    assert task.log2_population == 36 - 12
    assert task.mem_chance(64) == pytest.approx(64 / 2**24)
    small = make_task("parity", n=4, G=4)
    assert len(small.enumerate()) == 2**12 == small.population
    assert small.is_valid(small.enumerate()).all()


@pytest.mark.parametrize(
    "bad,match",
    [({"G": 5}, "does not divide"), ({"G": 0}, "task.G"), ({"n": -1}, "task.n"), ({"layout": "zigzag"}, "task.layout")],
)
def test_bad_parameters(bad, match):
    with pytest.raises(ConfigError, match=match):
        make_task("parity", **{"G": 2, **bad})


def test_block_layout_shapes():
    groups = make_task("parity", G=4, layout="blocks").groups
    # the first group is the top-left 2x2 block
    assert sorted(groups[0]) == [0, 1, 6, 7]


@pytest.mark.parametrize("G", [2, 3, 4])
def test_closed_form_posterior_matches_enumeration(G):
    """The closed-form group-parity denoiser equals the exact softmax over all valid images."""
    task = make_task("parity", n=4, G=G if 16 % G == 0 else 2, layout="random")
    enc = Encoding(task.shape, 2)
    exact = softmax_denoiser(enc.to_continuous(task.enumerate()))
    gen = torch.Generator().manual_seed(0)
    for sigma in (0.05, 0.3, 1.0, 3.0, 20.0):
        x = enc.to_continuous(task.sample(16, np.random.default_rng(1)))
        y = x + sigma * torch.randn(x.shape, generator=gen)
        s = torch.full((16,), sigma)
        assert torch.allclose(task.posterior_mean(y.double(), s.double()), exact(y.double(), s.double()), atol=1e-9), (
            sigma
        )


def test_closed_form_posterior_odd_group_size():
    task = make_task("parity", n=3, G=3)
    enc = Encoding(task.shape, 2)
    exact = softmax_denoiser(enc.to_continuous(task.enumerate()))
    y = torch.randn(32, 1, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    for sigma in (0.1, 0.7, 5.0):
        s = torch.full((32,), sigma, dtype=torch.float64)
        assert torch.allclose(task.posterior_mean(y, s), exact(y, s), atol=1e-9)


def test_closed_form_posterior_finite_at_tiny_sigma():
    task = make_task("parity", G=4)
    y = torch.randn(64, 1, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out = task.posterior_mean(y, torch.full((64,), 1e-3, dtype=torch.float64))
    assert torch.isfinite(out).all() and out.abs().max() <= 1.0


def test_task_encode_decode_round_trip():
    task = make_task("parity", G=3)
    cells = task.sample(50, np.random.default_rng(2))
    x = task.encode(cells)
    assert x.shape == (50, 1, 6, 6) and set(x.unique().tolist()) == {-1.0, 1.0}
    assert np.array_equal(task.decode(x), cells)
    # decoding is by sign, so small noise does not change it
    assert np.array_equal(
        task.decode(x + 0.15 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))), cells
    )
