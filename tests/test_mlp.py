"""The MLP denoiser baseline: shapes, zero-init output, noise conditioning, a tiny run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from twoclocks.config import build_config
from twoclocks.models.edm import EDMDiffusion
from twoclocks.models.mlp import MLPDenoiser
from twoclocks.training.experiment import build_experiment
from twoclocks.training.runner import start_run

MLP_CFG = build_config(["task=parity", "task.n=6", "model=mlp", "model.width=32", "model.depth=2", "train.device=cpu"])


def test_backbone_shapes_and_zero_init():
    exp = build_experiment(MLP_CFG)
    model = exp.model
    assert isinstance(model, EDMDiffusion) and isinstance(model.backbone, MLPDenoiser)
    x = torch.randn(5, 1, 6, 6)
    sigma = torch.full((5,), 0.7)
    assert torch.equal(model.backbone(x, sigma.log() / 4), torch.zeros(5, 1, 6, 6))
    # With F = 0 the EDM denoiser is the skip path alone: c_skip * x.
    sd = model.sigma_data
    assert torch.allclose(model.denoise(x, sigma), sd**2 / (0.7**2 + sd**2) * x)


def test_output_depends_on_input_and_noise_level():
    exp = build_experiment(MLP_CFG)
    net = exp.model.backbone
    torch.manual_seed(0)
    torch.nn.init.normal_(net.out.weight, std=0.1)  # leave the zero init to see through
    x = torch.randn(3, 1, 6, 6)
    c = torch.full((3,), -1.0)
    out = net(x, c)
    assert out.shape == (3, 1, 6, 6)
    assert not torch.allclose(out, net(x, c + 1.0), atol=1e-4)  # conditioned on sigma
    assert not torch.allclose(out, net(-x, c), atol=1e-4)  # and on the input


def test_tiny_mlp_run(tmp_path):
    cfg = build_config(
        [
            "task=parity",
            "task.n=6",
            "model=mlp",
            "train.steps=60",
            "eval.points=3",
            "eval.samples=64",
            "model.width=32",
            "model.depth=1",
            "model.sample_steps=6",
            "train.device=cpu",
        ]
    )
    run_dir, summary = start_run(cfg, out=tmp_path / "r", progress=False)
    assert summary["model_family"] == "mlp" and summary["status"] == "finished"
    df = pd.read_parquet(run_dir / "metrics.parquet")
    assert len(df) == 3 and df["step"].iloc[-1] == 60
    assert np.isfinite(df["loss"]).all() and df["loss"].iloc[-1] < df["loss"].iloc[0]
    assert not any(c.startswith("ll_") for c in df.columns)  # the likelihood view is GPT-only
    assert (run_dir / "plots" / "clocks.png").is_file()
