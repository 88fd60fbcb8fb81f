"""Evaluation cost: one evaluation of the default run (generate eval.samples with the Heun
sampler from fixed noise, then score them) by the project against a plain eager fp32 version
(benchmarks/plain_models.py sampler, a Python-set copy check), interleaved, median ratio; and
the eval share this implies for a whole default run, from interleaved training-step timings.

    python benchmarks/bench_eval.py [--threads 2] [--reps 5] [overrides ...]

Both sides generate the same number of samples with the same sampler and noise levels, so the
metrics' confidence intervals are the same; the project's side is exactly `Trainer.evaluate`
minus writing the per-sample file.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile

import numpy as np

from common import interleaved, load_average, parse_timing_args, report, timing_parser
from plain_models import PlainDiT, plain_generate
from twoclocks.config import build_config
from twoclocks.evaluate import score
from twoclocks.training.experiment import build_experiment, eval_schedule
from twoclocks.training.numerics import generate
from twoclocks.training.trainer import Trainer


def plain_score(cells: np.ndarray, train: np.ndarray, G: int) -> dict:
    """Validity (every contiguous group of G bits even), copies by a set of byte strings,
    nearest-neighbour Hamming distance by broadcasting."""
    flat = cells.reshape(len(cells), -1)
    valid = (flat.reshape(len(flat), -1, G).sum(axis=2) % 2 == 0).all(axis=1)
    seen = {t.tobytes() for t in train.reshape(len(train), -1)}
    mem = np.array([row.tobytes() in seen for row in flat])
    nn = (flat[:, None, :] != train.reshape(1, len(train), -1)).sum(axis=2).min(axis=1)
    return {"valid": valid.mean(), "mem": mem.mean(), "nn": nn.mean()}


def main() -> int:
    ap = timing_parser(__doc__, reps=5)
    ap.add_argument("--train-steps", type=int, default=300, help="steps trained before timing (realistic weights)")
    args = parse_timing_args(ap)
    cfg = build_config([f"train.threads={args.threads}", *args.overrides])
    exp = build_experiment(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(exp, tmp, progress=False)
        for _ in range(args.train_steps):
            trainer.train_step()
        m, ec = cfg.model, cfg.eval
        y = exp.model.encode(exp.train_cells)
        plain = PlainDiT(1, y.shape[2], y.shape[3], m.patch, m.width, m.depth, m.heads, m.mlp_ratio)
        sd, noise, G = float(y.std()), trainer.noise, int(exp.task.params.G)

        def project_eval() -> None:
            cells = generate(trainer.model, noise, ec.batch, cfg.train.precision)
            score(cells, exp.task, exp.index, cfg.clocks.ci_level)

        def plain_eval() -> None:
            plain_score(
                plain_generate(plain, noise, sd, m.sample_steps, m.sigma_min, m.sigma_max, m.rho, m.sampler).numpy(),
                exp.train_cells,
                G,
            )

        cands = {"plain eager fp32 (reference)": plain_eval, f"twoclocks {cfg.train.precision}": project_eval}
        for fn in cands.values():
            fn()
        times = interleaved(cands, args.reps)
        res = report(
            f"evaluation of {ec.samples} samples, {m.sampler} {m.sample_steps} levels, {args.threads} threads",
            times,
            "plain eager fp32 (reference)",
            "evaluations/s",
        )
        # The eval share of a run of this config: train.steps steps at the measured rate plus one
        # evaluation per scheduled point (checkpoint I/O excluded), timed back to back.
        step_times = interleaved({"step": trainer.train_step}, args.reps, 20)["step"]
        eval_s = statistics.median(times[f"twoclocks {cfg.train.precision}"])
        n_eval = len(eval_schedule(cfg))
        train_s = cfg.train.steps * statistics.median(step_times)
        res["predicted_eval_share"] = n_eval * eval_s / (n_eval * eval_s + train_s)
        res["eval_seconds"], res["train_step_seconds"] = eval_s, statistics.median(step_times)
        print(
            f"  one evaluation {eval_s:.2f} s, one step {1e3 * res['train_step_seconds']:.1f} ms: a default "
            f"run ({n_eval} evaluations, {cfg.train.steps} steps) would spend "
            f"{100 * res['predicted_eval_share']:.0f}% of train + eval in evaluation (load {load_average()})"
        )
    if args.json:
        print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
