"""The ODE samplers: their order of accuracy on an analytic denoiser, their end steps, and the
script that measures a sampler's error on a finished run."""

from pathlib import Path

import pandas as pd
import pytest
import torch

import cli_process
from twoclocks.config import build_config
from twoclocks.models.reference import population_denoiser
from twoclocks.models.samplers import dpmpp_2m_sample, heun_sample, sigma_schedule
from twoclocks.training.experiment import build_experiment


@pytest.fixture(scope="module")
def parity_denoiser():
    exp = build_experiment(build_config(["task.G=2"]))
    return population_denoiser(exp.task, exp.encoding)


def _solve(sampler, denoise, steps: int) -> torch.Tensor:
    """Integrate from sigma 20 down to 0.5 (smooth there: the order shows) from fixed noise."""
    x0 = torch.randn(256, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    sigmas = sigma_schedule(steps, 0.5, 20.0, 7.0)[:-1]  # drop the final jump to 0
    return sampler(denoise, x0 * sigmas[0].float(), sigmas).double()


@pytest.mark.parametrize("sampler", [heun_sample, dpmpp_2m_sample])
def test_sampler_is_second_order(sampler, parity_denoiser):
    reference = _solve(heun_sample, parity_denoiser, 1000)
    errors = [(_solve(sampler, parity_denoiser, s) - reference).abs().mean().item() for s in (16, 32, 64)]
    # halving the step divides a second-order method's error by ~4 (measured 4.3-4.9); a
    # first-order method's by ~2
    assert errors[0] / errors[1] > 3.2 and errors[1] / errors[2] > 3.2, errors


def test_dpmpp_2m_first_and_last_steps_are_euler():
    """With two levels (one step) DPM-Solver++(2M) is x_t = (t/s) x + (1 - t/s) D(x; s)."""
    x = torch.randn(4, 1, 6, 6, generator=torch.Generator().manual_seed(1))
    D = torch.randn(4, 1, 6, 6, generator=torch.Generator().manual_seed(2))
    sigmas = torch.tensor([3.0, 1.0], dtype=torch.float64)
    out = dpmpp_2m_sample(lambda y, s: D, x, sigmas)
    torch.testing.assert_close(out, (1 / 3) * x + (2 / 3) * D)
    to_zero = dpmpp_2m_sample(lambda y, s: D, x, torch.tensor([3.0, 1.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(to_zero, D)  # the last step returns D


def test_unknown_sampler_is_a_config_error():
    from twoclocks.errors import ConfigError

    with pytest.raises(ConfigError, match="model.sampler"):
        build_config(["model.sampler=euler"])


def test_sampler_accuracy_script_on_a_tiny_run(tiny_run, tmp_path):
    """benchmarks/sampler_accuracy.py on a finished run: every checkpoint and both analytic
    references, the reference schedule agreeing with itself, the population denoiser valid."""
    run = tiny_run
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "sampler_accuracy.py"
    out = cli_process.run(
        [
            str(run),
            "--every",
            "2",
            "--csv",
            str(tmp_path / "a.csv"),
            "--schedules",
            "heun:20:7:8",
            "dpmpp_2m:20:7:6:0.05",
        ],
        script=script,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    df = pd.read_csv(tmp_path / "a.csv")
    steps = sorted(int(p.stem.split("_")[1]) for p in (run / "checkpoints").glob("step_*.pt"))
    assert set(df["model"]) == {"empirical", "population", *map(str, steps[::2])}
    assert (df[df["schedule"] == "heun:20:7:8"]["agree"] == 1.0).all()
    assert set(df["nfe"]) == {15, 6}
    population = df[df["model"] == "population"]
    assert (population["valid"] >= 0.99).all() and (population["mem"] <= 0.05).all()
