"""Your own model: a backbone of your own inside twoclocks' EDM wrapper, measured like the DiT.

    python examples/custom_model.py [OUT_DIR]

`TinyConv` is a small convolutional network F(x_in, c_noise) -> x written here with nothing
from twoclocks; `build` is its family builder (model config, the task's encoding, the training
cells -> a GenerativeModel), registered as `model=tinyconv`. The run trains it for 60 steps
on group parity and prints its clocks (seconds on one CPU core; far too short to learn the
rule: make train.steps larger for that). The contract is written down in docs/extending.md,
"Your own model".
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import twoclocks as tc
from twoclocks.encoding import Encoding
from twoclocks.models import register
from twoclocks.models.base import GenerativeModel
from twoclocks.models.config import ModelConfig
from twoclocks.models.edm import wrap


class TinyConv(nn.Module):
    """F(x_in, c_noise): (B, C, H, W), (B,) -> (B, C, H, W).

    3x3 convolutions of `width` channels, each followed by a per-channel scale and shift
    computed from the noise level c_noise = ln(sigma) / 4, then a 1x1 output convolution that
    starts at zero, so that the EDM denoiser starts as c_skip(sigma) x.
    """

    def __init__(self, channels: int, width: int, depth: int):
        super().__init__()
        self.inp = nn.Conv2d(channels, width, 3, padding=1)
        self.convs = nn.ModuleList(nn.Conv2d(width, width, 3, padding=1) for _ in range(depth))
        self.noise = nn.Sequential(nn.Linear(1, width), nn.SiLU(), nn.Linear(width, 2 * width * depth))
        self.out = nn.Conv2d(width, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        h = F.silu(self.inp(x))
        films = self.noise(c_noise[:, None].to(x.dtype)).chunk(2 * len(self.convs), dim=1)
        for conv, scale, shift in zip(self.convs, films[0::2], films[1::2]):
            h = h + F.silu(conv(h) * (1 + scale[:, :, None, None]) + shift[:, :, None, None])
        return self.out(h)


@register("tinyconv")
def build(cfg: ModelConfig, encoding: Encoding, train_cells: np.ndarray) -> GenerativeModel:
    """The family builder: TinyConv of model.width channels and model.depth layers in the EDM
    wrapper (its sigma_data measured on the training cells unless model.sigma_data is set)."""
    return wrap(TinyConv(encoding.channels, cfg.width, cfg.depth), encoding, cfg, train_cells)


def main(out: Path) -> None:
    run = tc.run(
        {
            "model.family": "tinyconv",
            "model.width": 16,
            "model.depth": 2,
            "data.N": 8,
            "train.steps": 60,
            "eval.points": 4,
            "eval.samples": 64,
        },
        out=out / "tinyconv",
        progress=False,
    )
    print(run.text())
    s = run.summary
    print(f"model {s['model_family']} with {s['num_params']:,} parameters; loss by step:")
    print(run.metrics[["step", "loss", "valid", "mem"]].to_string(index=False))


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
