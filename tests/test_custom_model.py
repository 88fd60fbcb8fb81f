"""A model of one's own: examples/custom_model.py runs, and its backbone in the EDM wrapper
keeps the wrapper's contract (docs/extending.md, "Your own model")."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

import cli_process
from twoclocks.config import build_config
from twoclocks.models import FAMILIES
from twoclocks.models.edm import EDMDiffusion, preconditioning
from twoclocks.training.experiment import build_experiment
from twoclocks.training.group import group_blocker

EXAMPLE = Path(__file__).parents[1] / "examples" / "custom_model.py"
SMALL = ["model=tinyconv", "model.width=8", "model.depth=1", "data.N=8", "eval.samples=16"]


@pytest.fixture
def example():
    """The example's module, imported (which registers `tinyconv`); unregistered afterwards."""
    sys.path.insert(0, str(EXAMPLE.parent))  # importable, as a registered builder must be
    try:
        yield importlib.import_module(EXAMPLE.stem)
    finally:
        sys.path.remove(str(EXAMPLE.parent))
        sys.modules.pop(EXAMPLE.stem, None)
        FAMILIES.pop("tinyconv", None)


def test_example_runs(tmp_path):
    res = cli_process.run([str(tmp_path)], script=EXAMPLE)
    assert res.returncode == 0, res.stderr
    assert "custom_model.py:build" in res.stdout  # a builder registered in a script is kept by its path
    summary = json.loads((tmp_path / "tinyconv" / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["model_family"].endswith("custom_model.py:build")
    assert summary["config"]["train"]["steps"] == 60


def test_own_backbone_in_the_edm_wrapper(example):
    exp = build_experiment(build_config(SMALL))
    model = exp.model
    assert isinstance(model, EDMDiffusion) and isinstance(model.backbone, example.TinyConv)
    y = model.encode(exp.train_cells)
    assert model.sigma_data == pytest.approx(float(y.std()))
    # The output layer starts at zero: the fresh denoiser is c_skip(sigma) x.
    x, sigma = torch.randn(4, *y.shape[1:]), torch.full((4,), 0.7)
    c_skip, _, _ = preconditioning(sigma.reshape(-1, 1, 1, 1), model.sigma_data)
    torch.testing.assert_close(model.denoise(x, sigma), c_skip * x)
    loss = model.loss(y, torch.Generator().manual_seed(0))
    loss.backward()
    assert loss.item() > 0 and model.backbone.inp.weight.grad is not None
    cells = model.generate(model.make_sample_noise(8, torch.Generator().manual_seed(1)))
    assert cells.shape == (8, *exp.task.shape) and cells.max() <= 1


def test_own_backbone_is_not_grouped_when_it_cannot_be_stacked(example):
    blocker = group_blocker([build_config(SMALL), build_config([*SMALL, "seed=1"])])
    assert blocker is not None and "not groupable" in blocker and "inp.weight" in blocker
