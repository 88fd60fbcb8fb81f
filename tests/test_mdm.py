"""Masked discrete diffusion: the sampler and ELBO against exact posteriors, the training loss,
determinism, and runs (likelihood metrics, resume identity)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import crash_at_step, kill_after_evaluations, run_cli
from twoclocks.config import build_config
from twoclocks.data import hash_cells
from twoclocks.errors import ConfigError
from twoclocks.evaluate import score
from twoclocks.models.mdm import MDM, revealed_counts
from twoclocks.models.mdm_reference import (
    AnalyticMDM,
    empirical_posterior,
    parity_posterior,
    population_posterior,
    set_posterior,
)
from twoclocks.models.schedules import count_weights, elbo_weight
from twoclocks.training.experiment import build_experiment
from twoclocks.training.runner import resume_run, start_run
from twoclocks.training.trainer import Trainer

TINY_MDM = [
    "model=mdm",
    "model.width=32",
    "model.depth=1",
    "model.heads=2",
    "train.device=cpu",
    "train.threads=1",
    "eval.samples=64",
]


def experiment(*extra: str):
    # Task and N pinned here, so changes of the package defaults do not change these tests.
    return build_experiment(build_config(["task=parity", "task.n=6", "task.G=2", "data.N=32", *TINY_MDM, *extra]))


def chi2_critical(df: int, z: float = 3.09) -> float:
    """Upper 0.1% point of chi-square with df degrees of freedom (Wilson-Hilferty; z = 3.09)."""
    a = 2.0 / (9 * df)
    return df * (1 - a + z * math.sqrt(a)) ** 3


def test_schedules_reveal_every_cell_once():
    assert revealed_counts(36, 36, "linear") == list(range(37))  # S = L: one cell per level
    for schedule in ("linear", "cosine"):
        counts = revealed_counts(7, 36, schedule)
        assert counts[0] == 0 and counts[-1] == 36 and counts == sorted(counts)
    # W_k = E[w(t) | k masked]: the linear closed form (L+1)/k is the quadrature's value
    quad = count_weights(36, "linear", closed_form=False)
    assert torch.allclose(quad, count_weights(36, "linear"), rtol=1e-4) and quad[0] == 0
    t = torch.tensor([0.25, 0.5, 1.0], dtype=torch.float64)
    assert torch.allclose(elbo_weight(t, "linear"), 1 / t)
    # cosine: -alpha'/(1 - alpha) by finite differences
    h, a = 1e-6, lambda s: torch.cos(0.5 * math.pi * s)
    assert torch.allclose(elbo_weight(t, "cosine"), (a(t - h) - a(t + h)) / (2 * h) / (1 - a(t)), rtol=1e-6)


def test_parity_closed_form_equals_the_enumerated_posterior():
    exp = build_experiment(build_config(["task.n=4", "task.G=4", "task.layout=random", *TINY_MDM]))
    everything = torch.as_tensor(exp.task.enumerate(), dtype=torch.long).reshape(-1, 16)
    gen = torch.Generator().manual_seed(0)
    x = everything[torch.randint(len(everything), (256,), generator=gen)]
    z = torch.where(torch.rand(x.shape, generator=gen) < 0.6, torch.full_like(x, 2), x)
    closed, brute = parity_posterior(exp.task.groups)(z).exp(), set_posterior(everything, 2)(z).exp()
    masked = z == 2  # unmasked cells are carried by SUBS, whatever a posterior says there
    assert torch.allclose(closed[masked], brute[masked], atol=1e-12)
    assert (closed[masked] == 1).any() and (closed[masked] == 0.5).any()  # both cases occur


def exact_samples(overrides: list[str], which: str, levels: int, num: int):
    exp = build_experiment(build_config([*TINY_MDM, *overrides]))
    post = population_posterior(exp.task) if which == "population" else empirical_posterior(exp.train_cells, 2)
    model = AnalyticMDM(post, exp.encoding, exp.cfg.model)
    noise = model.make_sample_noise(num, torch.Generator().manual_seed(1))
    return exp, model.decode(model.sample_tokens(noise, levels))


def test_exact_population_posterior_samples_uniformly():
    # 3x3 bits, groups of 3: 64 valid items, 6400 samples (100 expected per item).
    n_cells, population = 9, 64
    exp, cells = exact_samples(["task.n=3", "task.G=3", "data.N=4"], "population", n_cells, 6400)
    assert exp.task.is_valid(cells).all()
    _, counts = np.unique(hash_cells(cells), return_counts=True)
    assert len(counts) == population
    chi2 = float(((counts - 100.0) ** 2 / 100.0).sum())
    assert chi2 < chi2_critical(population - 1), chi2
    # The test has teeth: one level draws every cell at once from its marginal (uniform), so
    # most samples break a group (valid with probability 1/8).
    _, parallel = exact_samples(["task.n=3", "task.G=3", "data.N=4"], "population", 1, 6400)
    assert exp.task.is_valid(parallel).mean() < 0.2


def test_empirical_posterior_copies_training_items():
    exp, cells = exact_samples(["task.n=6", "task.G=2", "data.N=32"], "empirical", 36, 512)
    m, _ = score(cells, exp.task, exp.index)
    assert m["mem"] == 1.0 and m["nn_hamming_mean"] == 0.0
    assert m["distinct_mem"] >= 28  # the copies spread over the training set


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_exact_elbo_is_the_entropy(schedule):
    exp = experiment(f"model.mask_schedule={schedule}")
    model = AnalyticMDM(population_posterior(exp.task), exp.encoding, exp.cfg.model)
    bits = model.elbo_bits(model.encode(exp.item_sets.heldout), draws=8)  # (256,)
    se = float(bits.std()) / math.sqrt(len(bits))
    assert abs(float(bits.mean()) - exp.task.log2_population / 36) < max(3 * se, 1e-3), (float(bits.mean()), se)
    assert se < 0.01  # the tolerance is small: log2|population| / cells = 0.5


def train(model: MDM, x: torch.Tensor, steps: int, lr: float = 3e-3) -> list[float]:
    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = model.loss(x[torch.randint(len(x), (64,), generator=gen)], gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


@pytest.fixture(scope="module")
def trained():
    """4x4 bits in pairs (population 2^8) on 64 items: 250 steps take the model from the
    uniform 1 bit per cell to about the entropy, 0.5 bits per cell (5 s on one core)."""
    exp = experiment("task.n=4", "data.N=64", "model.depth=2")
    losses = train(exp.model, exp.model.encode(exp.train_cells), steps=250)
    return exp, losses


def test_loss_is_the_elbo_and_decreases(trained):
    exp, losses = trained
    assert abs(np.mean(losses[:5]) - 1.0) < 0.1  # uniform predictions: 1 bit per masked cell
    assert np.mean(losses[-20:]) < 0.6
    # The training loss and the ELBO metric are the same estimator on the same draws.
    model, x = exp.model, exp.model.encode(exp.train_cells[:16])
    gen = torch.Generator().manual_seed(5)
    loss = model.loss(x, gen)
    gen = torch.Generator().manual_seed(5)
    u0 = torch.rand(1, generator=gen)
    t = 1.0 - torch.remainder(u0 + torch.arange(16) / 16, 1.0)
    u = torch.rand(16, 16, generator=gen)
    with torch.no_grad():
        ref = model.nelbo_terms(x, t.double(), u.double()).mean() / (16 * math.log(2))
    assert abs(float(loss.detach()) - float(ref)) < 1e-5


def test_trained_elbo_never_beats_the_entropy(trained):
    exp, _ = trained
    bits = exp.model.elbo_bits(exp.model.encode(exp.item_sets.heldout), draws=8)
    se = float(bits.std()) / math.sqrt(len(bits))
    entropy = exp.task.log2_population / 16
    assert float(bits.mean()) >= entropy - 3 * se
    assert float(bits.mean()) < 0.6  # trained: well below the 1 bit per cell of the fresh model


def test_sampling_is_deterministic_in_the_noise(trained):
    exp, _ = trained
    model = exp.model
    noise = model.make_sample_noise(64, torch.Generator().manual_seed(0))
    assert noise.shape == (64, 2, 16)
    first = model.generate(noise)  # model.sample_steps = 16: one cell per level
    assert first.dtype == np.uint8 and first.shape == (64, 4, 4)
    torch.manual_seed(123)  # global RNG state must not matter
    assert np.array_equal(first, model.generate(noise))
    assert np.array_equal(first[:10], model.generate(noise[:10]))  # nor the batch size
    assert not np.array_equal(first, model.generate(torch.rand_like(noise)))
    assert exp.task.is_valid(first).mean() > 0.8  # trained on the rule (chance: 2^-8)


def test_categorical_task_and_bad_schedule():
    exp = build_experiment(build_config(["task=latin", *TINY_MDM, "data.N=8"]))
    assert isinstance(exp.model, MDM) and exp.model.K == exp.task.num_values
    x = exp.model.encode(exp.train_cells)
    assert float(exp.model.loss(x, torch.Generator().manual_seed(0)).detach()) > 0
    assert exp.model.generate(exp.model.make_sample_noise(4, torch.Generator())).max() < exp.task.num_values
    with pytest.raises(ConfigError, match="mask_schedule"):
        build_config(["model=mdm", "model.mask_schedule=cubic"])


RUN = [
    "task=parity",
    "task.n=4",
    "task.G=2",
    "data.N=8",
    *TINY_MDM,
    "model.sample_steps=16",
    "train.steps=60",
    "eval.points=3",
    "train.checkpoint_every=20",
]


def test_run_records_elbo_metrics_and_resumes_identically(tmp_path, monkeypatch):
    run_dir, summary = start_run(build_config(RUN), tmp_path / "full", progress=False)
    assert summary["model_family"] == "mdm" and summary["status"] == "finished"
    df = pd.read_parquet(run_dir / "metrics.parquet")
    cols = ["elbo_train", "elbo_heldout", "elbo_invalid", "elbo_gap_heldout_train", "elbo_gap_invalid_heldout"]
    assert np.isfinite(df[cols].to_numpy()).all()
    assert np.allclose(df["elbo_gap_heldout_train"], df["elbo_heldout"] - df["elbo_train"])
    assert (df["elbo_heldout"] >= df["elbo_ref_rule"] - 0.02).all()

    with crash_at_step(monkeypatch, Trainer):
        start_run(build_config(RUN), tmp_path / "crashed", progress=False)
    resume_run(tmp_path / "crashed", progress=False)
    drop = ["train_seconds", "eval_seconds"]
    pd.testing.assert_frame_equal(
        df.drop(columns=drop), pd.read_parquet(tmp_path / "crashed" / "metrics.parquet").drop(columns=drop)
    )


@pytest.mark.slow
def test_kill_dash_nine_then_resume_is_identical(tmp_path):
    args = [*RUN, "train.steps=600", "eval.points=6"]
    full = run_cli("run", *args, "--out", str(tmp_path / "full"), "--quiet")
    assert full.returncode == 0, full.stderr
    killed_dir = tmp_path / "killed"
    kill_after_evaluations(args, killed_dir, evaluations=3)
    assert not (killed_dir / "summary.json").exists(), "run finished before it could be killed"
    resumed = run_cli("run", "--resume", str(killed_dir), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    drop = ["train_seconds", "eval_seconds"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "full" / "metrics.parquet").drop(columns=drop),
        pd.read_parquet(killed_dir / "metrics.parquet").drop(columns=drop),
    )
    sa = json.loads((tmp_path / "full" / "summary.json").read_text())
    sb = json.loads((killed_dir / "summary.json").read_text())
    for key in ("tau_rule", "tau_mem", "window_log10"):
        assert sa[key] == sb[key], key


def test_masked_transformer_is_the_dit_body():
    """The masked transformer reuses the DiT's body: with random weights (the modulations and
    output too), its logits are bitwise those of the body written out by hand (positions,
    adaLN-Zero blocks, final modulated norm), and its parameters keep the names and order that
    saved runs' checkpoints and optimizer states hold."""
    net = experiment("model.depth=2").model.net
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=gen))
    z = torch.randint(0, 3, (8, len(net.pos)), generator=gen)
    for level in (torch.rand(8, generator=gen), torch.tensor([0.4])):
        h = net.tok(z) + net.pos
        mods = net.modulation[1](net.modulation[0](net.level_embed(level)))
        *per_block, last = mods.split([6 * 32, 6 * 32, 2 * 32], dim=1)
        for block, block_mods in zip(net.blocks, per_block):
            h = block(h, block_mods)
        shift, scale = last.chunk(2, dim=1)
        ref = net.out(net.norm_out(h) * (1 + scale[:, None]) + shift[:, None])
        assert torch.equal(net(z, level), ref)
    names = [n.split(".")[0] for n, _ in net.named_parameters()]
    assert list(dict.fromkeys(names)) == ["tok", "level_embed", "blocks", "modulation", "out"]
    assert "modulation.1.weight" in net.state_dict()
