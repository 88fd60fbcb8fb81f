"""A short, prepared check of the GPU path; prints one JSON line.

    python benchmarks/gpu_check.py                      # on a CUDA machine (about a minute)
    python benchmarks/gpu_check.py --device cpu --steps 30 --bench-steps 5   # proves it runs

1. Trains the default config (bf16) for --steps steps, checking every step for host syncs
   (torch.cuda.set_sync_debug_mode("error") raises on any), then evaluates once: loss, valid,
   mem after that many steps (valid should be high after ~300: tau_rule is ~170 steps).
2. `twoclocks bench` numbers (steps/s, samples/s, GFLOP/s) in fp32 and in bf16.
3. K = 8 seeds as one group against the same 8 stepped one after another (member-steps/s),
   where a GPU gains most from batching.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

import torch

from twoclocks.config import build_config
from twoclocks.evaluate import score
from twoclocks.training.bench import bench
from twoclocks.training.experiment import build_experiment
from twoclocks.training.group import GroupTrainer
from twoclocks.training.numerics import generate
from twoclocks.training.trainer import Trainer


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def train_and_evaluate(device: str, steps: int) -> dict:
    cfg = build_config([f"train.device={device}"])
    exp = build_experiment(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(exp, tmp, progress=False)
        trainer.train_step()  # first step: allocations, lazy init
        sync_error = None
        if device == "cuda":
            torch.cuda.set_sync_debug_mode("error")
        t0 = time.perf_counter()
        try:
            for _ in range(steps - 1):
                trainer.train_step()
        except RuntimeError as exc:  # a host sync inside the step
            sync_error = str(exc).splitlines()[0]
        finally:
            if device == "cuda":
                torch.cuda.set_sync_debug_mode(0)
        sync(device)
        train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        cells = generate(trainer.model, trainer.noise, cfg.eval.batch, cfg.train.precision)
        metrics, _ = score(cells, exp.task, exp.index)
        eval_s = time.perf_counter() - t0
        loss = float(trainer.loss_sum) / max(1, trainer.loss_count)
    return {
        "steps": steps,
        "host_sync_in_step": sync_error,
        "train_steps_per_s": (steps - 1) / train_s,
        "eval_seconds": eval_s,
        "loss": loss,
        "valid": metrics["valid"],
        "mem": metrics["mem"],
    }


def group_throughput(device: str, K: int, steps: int) -> dict:
    cfgs = [build_config([f"train.device={device}", f"seed={s}"]) for s in range(K)]
    with tempfile.TemporaryDirectory() as tmp:
        singles = [Trainer(build_experiment(c), tmp, progress=False) for c in cfgs]
        group = GroupTrainer([Trainer(build_experiment(c), tmp, progress=False) for c in cfgs])
        out = {}
        for name, fn in (("sequential", lambda: [t.train_step() for t in singles]), ("group", group.train_step)):
            fn()
            sync(device)
            t0 = time.perf_counter()
            for _ in range(steps):
                fn()
            sync(device)
            out[f"{name}_member_steps_per_s"] = K * steps / (time.perf_counter() - t0)
    out["K"], out["speedup"] = K, out["group_member_steps_per_s"] / out["sequential_member_steps_per_s"]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--steps", type=int, default=300, help="default-config steps before the evaluation")
    ap.add_argument("--bench-steps", type=int, default=50)
    ap.add_argument("--group-K", type=int, default=8)
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"error": "no CUDA device; run with --device cpu to check the script itself"}))
        return 2
    result = {
        "device": args.device,
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name() if args.device == "cuda" else None,
        "train_eval": train_and_evaluate(args.device, args.steps),
    }
    for prec in ("fp32", "bf16"):
        cfg = build_config([f"train.device={args.device}", f"train.precision={prec}"])
        b = bench(cfg, steps=args.bench_steps, warmup=5)
        result[f"bench_{prec}"] = {
            k: b[k] for k in ("train_steps_per_s", "gflops", "sample_per_s", "eval_gflops", "predicted_eval_share")
        }
    result["group"] = group_throughput(args.device, args.group_K, max(2, args.bench_steps // 5))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
