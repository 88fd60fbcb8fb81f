"""Many seeds at once: K runs trained as one batched computation (`twoclocks.training.group`) against the
same K runs stepped one after another in the same process, interleaved, median ratio.

    python benchmarks/bench_many_seeds.py [--threads 2] [--K 4 8] [--reps 15] [--steps 10]
                                          [--family dit gpt mdm] [--end-to-end] [overrides ...]

The sequential side is exactly K single runs' `Trainer.train_step` (the throughput of K
sequential runs); the grouped side is `GroupTrainer.train_step`, which produces bit-identical
members. --family names the model families to measure, one after another (default: dit), each
at its default size unless the overrides say otherwise. With --end-to-end it also times whole
short runs (train.steps=200, 4 evaluations of 128 samples): K `start_run` calls against one
`train_group` call.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from common import interleaved, load_average, parse_timing_args, report, timing_parser
from twoclocks.config import build_config
from twoclocks.training.experiment import build_experiment
from twoclocks.training.group import GroupTrainer, train_group
from twoclocks.training.runner import start_run
from twoclocks.training.trainer import Trainer


def step_benchmark(K: int, threads: int, reps: int, steps: int, overrides: list[str]) -> dict:
    cfgs = [build_config([f"seed={s}", f"train.threads={threads}", *overrides]) for s in range(K)]
    with tempfile.TemporaryDirectory() as tmp:
        singles = [Trainer(build_experiment(c), tmp, progress=False) for c in cfgs]
        group = GroupTrainer([Trainer(build_experiment(c), tmp, progress=False) for c in cfgs])

        def sequential() -> None:
            for t in singles:
                t.train_step()

        cands = {f"{K} runs, one after another": sequential, f"{K} runs as one group": group.train_step}
        for fn in cands.values():
            fn()
        times = interleaved(cands, reps, steps)
        cfg = singles[0].cfg  # train.precision resolved (auto: what this CPU computes natively)
    return report(
        f"{K} x {cfg.model.family} width {cfg.model.width} ({cfg.train.precision}), {threads} threads: member-steps/s",
        times,
        f"{K} runs, one after another",
        "member-steps/s",
        per_call=K,
    )


def end_to_end(K: int, threads: int, overrides: list[str]) -> dict:
    short = [f"train.threads={threads}", "train.steps=200", "eval.points=4", "eval.samples=128", *overrides]
    cfgs = [build_config([f"seed={s}", *short]) for s in range(K)]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        for i, c in enumerate(cfgs):
            start_run(c, Path(tmp) / f"single{i}", progress=False)
        t_seq = time.perf_counter() - t0
        t0 = time.perf_counter()
        train_group(cfgs, [Path(tmp) / f"group{i}" for i in range(K)])
        t_group = time.perf_counter() - t0
    print(
        f"  end to end ({K} runs of 200 steps + 4 evaluations): sequential {t_seq:.1f} s, group {t_group:.1f} s, "
        f"x{t_seq / t_group:.2f} (one measurement; load {load_average()})"
    )
    return {"K": K, "sequential_s": t_seq, "group_s": t_group, "speedup": t_seq / t_group}


def main() -> int:
    ap = timing_parser(__doc__, reps=15)
    ap.add_argument("--K", type=int, nargs="+", default=[4, 8])
    ap.add_argument("--steps", type=int, default=10, help="group steps per candidate per repetition")
    ap.add_argument("--family", nargs="+", default=["dit"], help="model families, one after another")
    ap.add_argument("--end-to-end", action="store_true")
    args = parse_timing_args(ap)
    results = []
    for family in args.family:
        overrides = [f"model={family}", *args.overrides]
        results += [step_benchmark(K, args.threads, args.reps, args.steps, overrides) for K in args.K]
        if args.end_to_end:
            results += [end_to_end(K, args.threads, overrides) for K in args.K]
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
