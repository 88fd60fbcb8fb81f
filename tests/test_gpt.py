"""The autoregressive family: sampling paths, determinism, exact likelihoods, a tiny run."""

from __future__ import annotations

import copy
import itertools
import math

import numpy as np
import pandas as pd
import pytest
import torch

from twoclocks.config import build_config
from twoclocks.data import likelihood_sets
from twoclocks.errors import ConfigError
from twoclocks.models.gpt import GPT, inverse_cdf
from twoclocks.training.experiment import build_experiment, sample_noise
from twoclocks.training.runner import start_run


def tiny_experiment(*extra: str):
    # Task and N pinned here, so changes of the package defaults do not change these tests.
    return build_experiment(
        build_config(
            [
                "task=parity",
                "task.n=6",
                "task.G=2",
                "data.N=32",
                "model=gpt",
                "model.width=32",
                "model.depth=2",
                "model.heads=4",
                "train.device=cpu",
                "eval.samples=64",
                *extra,
            ]
        )
    )


def train_briefly(model: GPT, tokens: torch.Tensor, steps: int, lr: float = 3e-3, seed: int = 0) -> list[float]:
    """Full-batch Adam on the training tokens; returns the loss of every step."""
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = model.loss(tokens, None)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


@pytest.fixture(scope="module")
def trained():
    """A GPT trained for a few steps, so its next-token distributions depend on the prefix
    and are far from uniform (a fresh model's near-uniform logits would hide a broken cache)."""
    exp = tiny_experiment()
    train_briefly(exp.model, exp.model.encode(exp.train_cells), steps=40, lr=1e-2)
    return exp


def test_inverse_cdf_picks_the_interval_containing_u():
    logits = torch.log(torch.tensor([[0.2, 0.5, 0.3]])).expand(7, 3)
    u = torch.tensor([0.0, 0.1999, 0.2001, 0.5, 0.6999, 0.7001, 0.9999])
    assert inverse_cdf(logits, u, 1.0).tolist() == [0, 0, 1, 1, 1, 2, 2]
    # A fine grid of u reproduces the probabilities; a tiny temperature gives the argmax.
    grid = (torch.arange(10_000) + 0.5) / 10_000
    counts = torch.bincount(inverse_cdf(logits[:1].expand(10_000, 3), grid, 1.0), minlength=3)
    assert torch.allclose(counts / 10_000.0, torch.tensor([0.2, 0.5, 0.3]), atol=1e-3)
    assert (inverse_cdf(logits[:1].expand(10_000, 3), grid, 1e-3) == 1).all()


def test_cached_and_uncached_sampling_agree_exactly(trained):
    # float64: the two paths do different matmul shapes, so their rounding differs; at ~1e-16
    # no uniform can fall between the two CDF boundaries and the tokens must agree exactly.
    model = copy.deepcopy(trained.model).double()
    noise = sample_noise(trained)
    tok_c, logit_c = model.sample_tokens(noise, use_cache=True)
    tok_u, logit_u = model.sample_tokens(noise, use_cache=False)
    assert tok_c.shape == (64, trained.encoding.seq_len) and logit_c.dtype == torch.float64
    assert torch.equal(tok_c, tok_u)
    assert torch.allclose(logit_c, logit_u, rtol=0, atol=1e-10)
    # The check means something only if the predictions depend on the prefix: at a given
    # position the logits differ between samples, and the samples themselves differ.
    assert logit_c[:, 1:].std(dim=0).max() > 0.5
    assert len(torch.unique(tok_c, dim=0)) > 32
    # Both equal the teacher-forced logits of the sampled sequence (one causal pass).
    forced, _ = model(model.shifted(tok_c))
    assert torch.allclose(forced, logit_c, rtol=0, atol=1e-10)


def test_float32_cache_matches_teacher_forcing(trained):
    model = trained.model
    tokens, logits = model.sample_tokens(sample_noise(trained), use_cache=True)
    forced, _ = model(model.shifted(tokens))
    assert torch.allclose(forced, logits, atol=1e-5)


def test_sampling_is_deterministic_in_the_noise(trained):
    model, exp = trained.model, trained
    noise = sample_noise(exp)
    assert noise.shape == (64, exp.encoding.seq_len) and 0 <= noise.min() and noise.max() < 1
    assert torch.equal(noise, sample_noise(exp))  # the run's noise is reproducible
    first = model.generate(noise)
    assert first.dtype == np.uint8 and first.shape == (64, *exp.encoding.shape)
    torch.manual_seed(123)  # global RNG state must not matter
    assert np.array_equal(first, model.generate(noise))
    assert np.array_equal(first[:10], model.generate(noise[:10]))  # nor the batch size
    assert not np.array_equal(first, model.generate(torch.rand_like(noise)))


def test_loss_decreases_on_parity():
    exp = tiny_experiment("data.N=64")
    tokens = exp.model.encode(exp.train_cells)
    losses = train_briefly(exp.model, tokens, steps=60)
    assert losses[0] > 0.6  # about ln 2 at init
    # Below 0.42 nats/token the model has found most of the pairs (a perfect G=2 rule
    # learner needs 0.5 ln 2 = 0.35 nats/token; memorising 64 items can go lower).
    assert np.mean(losses[-10:]) < 0.42


def test_likelihood_is_a_normalised_distribution():
    exp = tiny_experiment("task.n=2", "data.N=2")  # 4 binary cells: 16 sequences
    train_briefly(exp.model, exp.model.encode(exp.train_cells), steps=20, lr=1e-2)
    everything = torch.tensor(list(itertools.product([0, 1], repeat=4)))
    ll = exp.model.log_likelihood(everything)
    assert ll.dtype == torch.float64
    assert math.isclose(float(ll.exp().sum()), 1.0, abs_tol=1e-6)
    assert float(ll.std()) > 0.1  # trained: not uniform


def test_likelihood_sets_are_fixed_and_do_not_touch_the_rngs():
    exp = tiny_experiment()
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()[1].copy()
    sets = likelihood_sets(exp.task, exp.train_cells, exp.index, exp.cfg.data_seed).as_dict()
    assert torch.equal(torch_state, torch.get_rng_state())
    assert np.array_equal(np_state, np.random.get_state()[1])
    again = likelihood_sets(exp.task, exp.train_cells, exp.index, exp.cfg.data_seed).as_dict()
    assert all(np.array_equal(sets[k], again[k]) for k in sets)
    task = exp.task
    assert np.array_equal(sets["train"], exp.train_cells)
    assert len(sets["heldout"]) == 256 and task.is_valid(sets["heldout"]).all()
    assert (exp.index.match(sets["heldout"]) < 0).all()  # none is a training item
    assert len(np.unique(sets["heldout"].reshape(256, -1), axis=0)) == 256
    assert len(sets["invalid"]) == 256 and not task.is_valid(sets["invalid"]).any()
    # each corrupted item is its held-out item with exactly one cell changed
    diff = (sets["invalid"] != sets["heldout"]).reshape(256, -1).sum(axis=1)
    assert (diff == 1).all()


def test_temperature_must_be_positive():
    with pytest.raises(ConfigError, match="temperature"):
        tiny_experiment("model.temperature=0")


def test_tiny_gpt_run_records_likelihood_metrics(tmp_path):
    cfg = build_config(
        [
            "task=parity",
            "task.n=6",
            "task.G=2",
            "data.N=32",
            "model=gpt",
            "train.steps=60",
            "eval.points=3",
            "eval.samples=64",
            "model.width=32",
            "model.depth=1",
            "train.device=cpu",
        ]
    )
    run_dir, summary = start_run(cfg, out=tmp_path / "r", progress=False)
    assert summary["model_family"] == "gpt" and summary["status"] == "finished"
    df = pd.read_parquet(run_dir / "metrics.parquet")
    cols = ["ll_train", "ll_heldout", "ll_invalid", "ll_gap_train_heldout", "ll_gap_valid_invalid"]
    assert set(cols) <= set(df.columns) and np.isfinite(df[cols].to_numpy()).all()
    assert np.allclose(df["ll_gap_train_heldout"], df["ll_train"] - df["ll_heldout"])
    assert np.allclose(df["ll_gap_valid_invalid"], df["ll_heldout"] - df["ll_invalid"])
    # Learning shows in the likelihoods: held-out valid items gain on corrupted ones.
    assert df["ll_gap_valid_invalid"].iloc[-1] > df["ll_gap_valid_invalid"].iloc[0]
    assert (df["ll_heldout"] <= 0).all() and df["ll_ref_rule"].iloc[0] == pytest.approx(-18 * math.log(2))
