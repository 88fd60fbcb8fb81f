"""Training throughput: the project's training step against a plain eager fp32 PyTorch
implementation of the same model (benchmarks/plain_models.py), interleaved, median ratio.

    python benchmarks/bench_train.py [--threads 2] [--reps 9] [--steps 10] [--family dit gpt]
                                     [overrides ...]

For each family it times `--steps` training steps of: the plain reference (fp32, default
AdamW), the project's step in fp32, and the project's step with the config's precision (the
default). Extra key=value overrides apply to the project's config (e.g. model.width=256).
"""

from __future__ import annotations

import json
import sys
import tempfile

import torch

from common import interleaved, parse_timing_args, report, timing_parser
from plain_models import PlainDiT, PlainGPT, edm_loss
from twoclocks.config import build_config
from twoclocks.training.experiment import build_experiment
from twoclocks.training.trainer import Trainer


def project_step(overrides: list[str], tmp: str):
    cfg = build_config(overrides)
    trainer = Trainer(build_experiment(cfg), tmp, progress=False)
    return cfg, trainer.train_step


def plain_step(cfg, exp_cells) -> callable:
    """A plain eager fp32 training step of the same model on the same data and batch."""
    m, tc = cfg.model, cfg.train
    torch.manual_seed(0)
    if m.family == "dit":
        y = 2.0 * torch.as_tensor(exp_cells, dtype=torch.float32)[:, None] - 1.0
        net = PlainDiT(1, y.shape[2], y.shape[3], m.patch, m.width, m.depth, m.heads, m.mlp_ratio)
        sd = float(y.std())

        def loss() -> torch.Tensor:
            return edm_loss(net, y[torch.randint(len(y), (tc.batch,))], sd)
    else:
        tokens = torch.as_tensor(exp_cells, dtype=torch.long).reshape(len(exp_cells), -1)
        net = PlainGPT(2, tokens.shape[1], m.width, m.depth, m.heads, m.mlp_ratio)

        def loss() -> torch.Tensor:
            return net.loss(tokens[torch.randint(len(tokens), (tc.batch,))])

    opt = torch.optim.AdamW(net.parameters(), lr=tc.lr, betas=(tc.beta1, tc.beta2))

    def step() -> None:
        opt.zero_grad()
        loss().backward()
        opt.step()

    return step


def main() -> int:
    ap = timing_parser(__doc__, reps=9)
    ap.add_argument("--steps", type=int, default=10, help="steps per candidate per repetition")
    ap.add_argument("--family", nargs="+", default=["dit", "gpt"])
    args = parse_timing_args(ap)
    results = []
    for family in args.family:
        with tempfile.TemporaryDirectory() as tmp:
            base = [f"model={family}", f"train.threads={args.threads}", *args.overrides]
            cfg, default_step = project_step(base, tmp)
            _, fp32_step = project_step(base + ["train.precision=fp32"], tmp)
            exp = build_experiment(cfg)
            reference = plain_step(cfg, exp.train_cells)
            cands = {
                "plain eager fp32 (reference)": reference,
                "twoclocks fp32": fp32_step,
                f"twoclocks {cfg.train.precision} (config default)": default_step,
            }
            for fn in cands.values():  # warm-up
                for _ in range(3):
                    fn()
            times = interleaved(cands, args.reps, args.steps)
            results.append(
                report(
                    f"{family} width {cfg.model.width} depth {cfg.model.depth} batch "
                    f"{cfg.train.batch}, {args.threads} threads: training steps/s",
                    times,
                    "plain eager fp32 (reference)",
                    "steps/s",
                )
            )
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
