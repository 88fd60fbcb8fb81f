"""How accurate is the evaluation's sampler? Each evaluation integrates the probability-flow
ODE on the EDM noise schedule (sampler, sigma_max, rho, steps); its cost is the number
of network evaluations (heun: 2 steps - 1; dpmpp_2m: steps). This measures what a schedule
changes against a fine one.

    python benchmarks/sampler_accuracy.py RUN_DIR [--schedules 80:7:96 80:7:12 20:7:12 ...]
                                          [--every 3] [--threads 1] [--csv FILE]

Schedules are [sampler:]sigma_max:rho:steps[:sigma_min] (sampler heun, the default, or
dpmpp_2m; default sigma_min: the run's); the first is the reference. For
every `--every`-th saved checkpoint of a finished diffusion run (and for the run's exact
empirical and population denoisers) it generates the run's own M fixed-noise samples with each
schedule and prints the fraction of samples decoded to the same cells as the reference
(`agree`), valid and mem with their Wilson half-widths, and a summary per schedule: how far
valid and mem move from the reference, in half-widths. In the run's precision, as its
evaluations are.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from twoclocks.evaluate import score
from twoclocks.models.edm import AnalyticDiffusion, DiffusionBase
from twoclocks.models.reference import empirical_denoiser, population_denoiser
from twoclocks.models.samplers import SAMPLERS
from twoclocks.training import checkpoint
from twoclocks.training.experiment import build_experiment, sample_noise
from twoclocks.training.numerics import generate
from twoclocks.training.rundir import RunDir


def parse_schedule(text: str, sigma_min: float) -> dict:
    """'[sampler:]sigma_max:rho:steps[:sigma_min]' -> the model config fields it sets."""
    parts = text.split(":")
    sampler = parts.pop(0) if parts[0] in SAMPLERS else "heun"
    return {
        "sampler": sampler,
        "sigma_max": float(parts[0]),
        "rho": float(parts[1]),
        "sample_steps": int(parts[2]),
        "sigma_min": float(parts[3]) if len(parts) > 3 else sigma_min,
    }


def network_evaluations(fields: dict) -> int:
    steps = fields["sample_steps"]
    return 2 * steps - 1 if fields["sampler"] == "heun" else steps


def study(run_dir: Path, schedules: list[str], every: int) -> pd.DataFrame:
    cfg = RunDir(run_dir).load_config()
    cfg.train.device = "cpu"
    exp = build_experiment(cfg)
    if not isinstance(exp.model, DiffusionBase):
        raise SystemExit(f"{run_dir}: not a diffusion run ({cfg.model.family})")
    noise = sample_noise(exp)
    train_cells = np.load(run_dir / "train_set.npz")["cells"]
    models: list[tuple[str, DiffusionBase, str]] = [
        (
            "empirical",
            AnalyticDiffusion(empirical_denoiser(exp.encoding.to_continuous(train_cells)), exp.encoding, cfg.model),
            "fp32",
        )
    ]
    try:
        models.append(
            (
                "population",
                AnalyticDiffusion(population_denoiser(exp.task, exp.encoding), exp.encoding, cfg.model),
                "fp32",
            )
        )
    except Exception as exc:  # no closed form and too large to enumerate
        print(f"no population denoiser: {exc}")
    snaps = RunDir(run_dir).snapshots()[::every]
    rows = []
    jobs = [(name, None, m, prec) for name, m, prec in models] + [
        (str(s), p, exp.model, cfg.train.precision) for s, p in snaps
    ]
    for label, path, model, precision in tqdm(jobs, desc="checkpoints", unit="ckpt"):
        if path is not None:
            model.load_state_dict(checkpoint.load(path)["model"])
        finest = None
        for text in schedules:
            fields = parse_schedule(text, cfg.model.sigma_min)
            model.cfg = dataclasses.replace(model.cfg, **fields)  # generation reads model.cfg
            t0 = time.perf_counter()
            cells = generate(model, noise, cfg.eval.batch, precision)
            seconds = time.perf_counter() - t0
            finest = cells if finest is None else finest
            m, _ = score(cells, exp.task, exp.index, cfg.clocks.ci_level)
            agree = float((cells.reshape(len(cells), -1) == finest.reshape(len(cells), -1)).all(axis=1).mean())
            rows.append(
                {
                    "model": label,
                    "schedule": text,
                    "nfe": network_evaluations(fields),
                    "agree": agree,
                    "valid": m["valid"],
                    "valid_hw": (m["valid_hi"] - m["valid_lo"]) / 2,
                    "mem": m["mem"],
                    "mem_hw": (m["mem_hi"] - m["mem_lo"]) / 2,
                    "seconds": seconds,
                }
            )
    return pd.DataFrame(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", type=Path)
    ap.add_argument(
        "--schedules",
        nargs="+",
        default=["80:7:96", "80:7:24", "80:7:12", "80:7:8"],
        help="[sampler:]sigma_max:rho:steps[:sigma_min], the first is the reference",
    )
    ap.add_argument("--every", type=int, default=3, help="use every k-th saved checkpoint")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--csv", type=Path, help="also write the table here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    df = study(args.run_dir, args.schedules, args.every)
    with pd.option_context("display.width", 160, "display.max_rows", 500):
        print(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        worst = df.assign(dv=0.0, dm=0.0)
        finest = df[df["schedule"] == args.schedules[0]].set_index("model")
        for i, r in df.iterrows():
            f = finest.loc[r["model"]]
            worst.loc[i, "dv"] = abs(r["valid"] - f["valid"]) / max(f["valid_hw"], 1e-9)
            worst.loc[i, "dm"] = abs(r["mem"] - f["mem"]) / max(f["mem_hw"], 1e-9)
        print("\nper schedule, over all models: min agree, max |d valid| and |d mem| in Wilson half-widths")
        print(
            worst.groupby("schedule", sort=False)
            .agg(
                nfe=("nfe", "first"), min_agree=("agree", "min"), max_dvalid_hw=("dv", "max"), max_dmem_hw=("dm", "max")
            )
            .to_string(float_format=lambda v: f"{v:.2f}")
        )
    if args.csv:
        df.to_csv(args.csv, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
