"""Masked diffusion (model=mdm): its training step against a plain eager fp32 version, and the
accuracy of its sampler (few unmasking levels against many).

    python benchmarks/bench_mdm.py train [--threads 2] [--reps 9] [--steps 10] [overrides ...]
    python benchmarks/bench_mdm.py sampler RUN_DIR [--levels 144 36 18 12] [--every 3] [--csv FILE]

`train` times `--steps` training steps of: a plain eager fp32 masked transformer written here
(the DiT blocks of benchmarks/plain_models.py at one token per cell, the same NELBO), the
project's step in fp32, and the project's step in the config's precision; interleaved
repetitions, median ratio (benchmarks/common.py).

`sampler` generates a finished mdm run's own M fixed-noise samples at every `--every`-th saved
checkpoint (and with the exact empirical and population posteriors) with each number of
levels; the first is the reference. It prints the fraction of samples identical to the
reference's (`agree`), valid and mem with their Wilson half-widths, and per level count the
largest move of valid and mem in half-widths, as benchmarks/sampler_accuracy.py does for the
diffusion samplers.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from common import interleaved, parse_timing_args, report, timing_parser
from plain_models import PlainBlock, sincos
from twoclocks.config import build_config
from twoclocks.evaluate import score
from twoclocks.models.mdm import MaskedDiffusionBase
from twoclocks.models.mdm_reference import AnalyticMDM, empirical_posterior, population_posterior
from twoclocks.training import checkpoint
from twoclocks.training.experiment import build_experiment, sample_noise
from twoclocks.training.numerics import generate
from twoclocks.training.rundir import RunDir
from twoclocks.training.trainer import Trainer


# ----- training step -------------------------------------------------------------------------
class PlainMDM(nn.Module):
    """Logits over K values for (B, L) tokens (MASK = K) of an H x W grid, conditioned on the
    fraction of masked cells."""

    def __init__(self, K: int, H: int, W: int, dim: int, depth: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.K, self.L = K, H * W
        self.tok = nn.Embedding(K + 1, dim)
        self.register_buffer("pos", sincos(H, W, dim))
        self.level_mlp = nn.Sequential(nn.Linear(64, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.blocks = nn.ModuleList(PlainBlock(dim, heads, int(dim * mlp_ratio)) for _ in range(depth))
        self.norm_out = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.ada_out = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))
        self.out = nn.Linear(dim, K)

    def forward(self, z: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        freqs = torch.exp(-math.log(1000.0) * torch.arange(32) / 32)
        ang = 100.0 * level[:, None] * freqs[None]
        c = self.level_mlp(torch.cat([ang.cos(), ang.sin()], dim=1))
        h = self.tok(z) + self.pos
        for block in self.blocks:
            h = block(h, c)
        shift, scale = self.ada_out(c).chunk(2, dim=1)
        return self.out(self.norm_out(h) * (1 + scale[:, None]) + shift[:, None])

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """NELBO in bits per cell, linear schedule: t ~ U(0, 1], mask with probability t, weight
        (L + 1) / k for k masked cells."""
        B, L = x.shape
        t = 1.0 - torch.rand(B)
        masked = torch.rand(B, L) < t[:, None]
        k = masked.sum(dim=1)
        z = torch.where(masked, torch.full_like(x, self.K), x)
        nll = F.cross_entropy(self(z, k / L).reshape(-1, self.K), x.reshape(-1), reduction="none").reshape(B, L)
        weight = torch.where(k > 0, (L + 1) / k.clamp(min=1), 0.0)
        return (weight * (nll * masked).sum(dim=1)).mean() / (L * math.log(2))


def project_step(overrides: list[str], tmp: str) -> Callable[[], None]:
    return Trainer(build_experiment(build_config(overrides)), tmp, progress=False).train_step


def plain_step(overrides: list[str]) -> Callable[[], None]:
    cfg = build_config(overrides)
    exp = build_experiment(cfg)
    m, tc = cfg.model, cfg.train
    torch.manual_seed(0)
    H, W = exp.encoding.shape
    net = PlainMDM(exp.task.num_values, H, W, m.width, m.depth, m.heads, m.mlp_ratio)
    tokens = torch.as_tensor(exp.train_cells, dtype=torch.long).reshape(len(exp.train_cells), -1)
    opt = torch.optim.AdamW(net.parameters(), lr=tc.lr, betas=(tc.beta1, tc.beta2))

    def step() -> None:
        opt.zero_grad()
        net.loss(tokens[torch.randint(len(tokens), (tc.batch,))]).backward()
        opt.step()

    return step


def bench_train(argv: list[str]) -> int:
    ap = timing_parser(__doc__ or "", reps=9)
    ap.add_argument("--steps", type=int, default=10, help="steps per candidate per repetition")
    sys.argv = [sys.argv[0], *argv]
    args = parse_timing_args(ap)
    base = ["model=mdm", f"train.threads={args.threads}", *args.overrides]
    with tempfile.TemporaryDirectory() as tmp:
        cfg = build_config(base)
        cands = {
            "plain eager fp32 (reference)": plain_step(base),
            "twoclocks fp32": project_step(base + ["train.precision=fp32"], tmp),
            f"twoclocks {cfg.train.precision} (config default)": project_step(base, tmp),
        }
        for fn in cands.values():  # warm-up
            for _ in range(3):
                fn()
        times = interleaved(cands, args.reps, args.steps)
    m = cfg.model
    result = report(
        f"mdm width {m.width} depth {m.depth} batch {cfg.train.batch}, {args.threads} threads: training steps/s",
        times,
        "plain eager fp32 (reference)",
        "steps/s",
    )
    if args.json:
        print(json.dumps([result]))
    return 0


# ----- sampler accuracy ------------------------------------------------------------------------
def study(run_dir: Path, levels: list[int], every: int) -> pd.DataFrame:
    cfg = RunDir(run_dir).load_config()
    cfg.train.device = "cpu"
    exp = build_experiment(cfg)
    if not isinstance(exp.model, MaskedDiffusionBase):
        raise SystemExit(f"{run_dir}: not an mdm run ({cfg.model.family})")
    noise = sample_noise(exp)
    K = exp.task.num_values
    models: list[tuple[str, MaskedDiffusionBase, str, Path | None]] = [
        ("empirical", AnalyticMDM(empirical_posterior(exp.train_cells, K), exp.encoding, cfg.model), "fp32", None)
    ]
    try:
        models.append(
            ("population", AnalyticMDM(population_posterior(exp.task), exp.encoding, cfg.model), "fp32", None)
        )
    except Exception as exc:  # no closed form and too large to enumerate
        print(f"no population posterior: {exc}")
    models += [(str(s), exp.model, cfg.train.precision, p) for s, p in RunDir(run_dir).snapshots()[::every]]
    rows = []
    for label, model, precision, path in models:
        if path is not None:
            model.load_state_dict(checkpoint.load(path)["model"])
        finest = None
        for S in levels:
            model.cfg = dataclasses.replace(model.cfg, sample_steps=S)  # generation reads model.cfg
            t0 = time.perf_counter()
            cells = generate(model, noise, cfg.eval.batch, precision)
            seconds = time.perf_counter() - t0
            finest = cells if finest is None else finest
            m, _ = score(cells, exp.task, exp.index, cfg.clocks.ci_level)
            flat, ref = cells.reshape(len(cells), -1), finest.reshape(len(cells), -1)
            rows.append(
                {
                    "model": label,
                    "levels": S,
                    "agree": float((flat == ref).all(axis=1).mean()),
                    "valid": m["valid"],
                    "valid_hw": (m["valid_hi"] - m["valid_lo"]) / 2,
                    "mem": m["mem"],
                    "mem_hw": (m["mem_hi"] - m["mem_lo"]) / 2,
                    "seconds": seconds,
                }
            )
        print(f"{label}: done", flush=True)
    return pd.DataFrame(rows)


def bench_sampler(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--levels", type=int, nargs="+", default=[144, 36, 18, 12], help="the first is the reference")
    ap.add_argument("--every", type=int, default=3, help="use every k-th saved checkpoint")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--csv", type=Path, help="also write the table here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    df = study(args.run_dir, args.levels, args.every)
    ref = df[df["levels"] == args.levels[0]].set_index("model")
    dv = [abs(r.valid - ref.loc[r.model, "valid"]) / max(ref.loc[r.model, "valid_hw"], 1e-9) for r in df.itertuples()]
    dm = [abs(r.mem - ref.loc[r.model, "mem"]) / max(ref.loc[r.model, "mem_hw"], 1e-9) for r in df.itertuples()]
    df = df.assign(dvalid_hw=dv, dmem_hw=dm)
    with pd.option_context("display.width", 160, "display.max_rows", 500):
        print(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print("\nper level count, over all models: min agree, max |d valid| and |d mem| in Wilson half-widths")
        summary = df.groupby("levels", sort=False).agg(
            min_agree=("agree", "min"), max_dvalid_hw=("dvalid_hw", "max"), max_dmem_hw=("dmem_hw", "max")
        )
        print(summary.to_string(float_format=lambda v: f"{v:.2f}"))
    if args.csv:
        df.to_csv(args.csv, index=False)
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("train", "sampler"):
        raise SystemExit(__doc__)
    cmd, rest = sys.argv[1], sys.argv[2:]
    raise SystemExit(bench_train(rest) if cmd == "train" else bench_sampler(rest))
