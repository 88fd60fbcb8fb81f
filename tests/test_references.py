"""The metric pipeline end to end on analytic denoisers with known answers."""

import pytest

from twoclocks.config import build_config
from twoclocks.evaluate import score
from twoclocks.models.edm import AnalyticDiffusion
from twoclocks.models.reference import empirical_denoiser, population_denoiser
from twoclocks.training.experiment import build_experiment, sample_noise
from twoclocks.training.numerics import generate


def _sample(overrides, which):
    cfg = build_config(overrides + ["eval.samples=512"])
    exp = build_experiment(cfg)
    if which == "population":
        den = population_denoiser(exp.task, exp.encoding)
    else:
        den = empirical_denoiser(exp.encoding.to_continuous(exp.train_cells))
    model = AnalyticDiffusion(den, exp.encoding, cfg.model)
    metrics, outcomes = score(generate(model, sample_noise(exp), 512), exp.task, exp.index)
    return metrics, outcomes


@pytest.mark.parametrize("sampler", ["heun", "dpmpp_2m"])
@pytest.mark.parametrize("G", [2, 3, 4])
def test_population_denoiser_is_valid_and_not_copying(G, sampler):
    m, _ = _sample([f"task.G={G}", "data.N=64", "task.layout=random", f"model.sampler={sampler}"], "population")
    assert m["valid"] >= 0.99
    # copying within chance: mem_chance is 64/2^(36-36/G) <= 3e-4; 512 samples -> expect 0 copies
    assert m["mem"] <= m["mem_chance"] + 3 / 512
    assert m["unique_novel_valid"] >= 0.99


@pytest.mark.parametrize("sampler", ["heun", "dpmpp_2m"])
@pytest.mark.parametrize("G", [2, 3])
def test_empirical_denoiser_copies(G, sampler):
    m, out = _sample([f"task.G={G}", "data.N=32", f"model.sampler={sampler}"], "empirical")
    assert m["mem"] >= 0.99
    assert m["valid"] >= 0.99
    assert m["nn_hamming_mean"] == 0.0
    # every training item is reachable: the copies spread over the training set
    assert m["distinct_mem"] >= 28


def test_population_denoiser_matches_chance_when_population_is_small():
    # n=4, G=4: 4096 valid images; N=1024 -> mem_chance = 1/4
    m, _ = _sample(["task.n=4", "task.G=4", "data.N=1024"], "population")
    assert m["valid"] >= 0.99
    assert abs(m["mem"] - 0.25) < 0.07  # 512 samples: binomial sd ~0.019
