"""`twoclocks bench [key=value ...] [--config FILE] [--steps K] [--group K|auto] [--json]`"""

from __future__ import annotations

import argparse
import json

from twoclocks.commands import add_config_arguments
from twoclocks.config import build_config
from twoclocks.errors import ConfigError, quote
from twoclocks.training.bench import bench, bench_group, format_bench, format_bench_group


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="measure training and evaluation throughput of a config",
        description="Build the configured experiment (same overrides as `run`), time "
        "K training steps after a warm-up and one evaluation (generation of "
        "eval.samples + scoring), and print steps/s, samples/s and the "
        "achieved matmul GFLOP/s (counted with FlopCounterMode: "
        "docs/performance.md). With --group K: K runs trained as one group against "
        "one single run, interleaved, giving run_steps_per_s (K x the group's steps/s) "
        "and the speed-up. Writes no files.",
    )
    add_config_arguments(p, "model=gpt train.precision=fp32 train.threads=2")
    p.add_argument("--steps", type=int, help="timed training steps (default 50; with --group: 10 per repetition)")
    p.add_argument("--warmup", type=int, help="untimed training steps first (default 10; with --group: 2)")
    p.add_argument(
        "--group",
        metavar="K|auto",
        help="time K runs as one batched group against a single run (auto: K from the model's "
        "and the device's memory, twoclocks.training.sizing)",
    )
    p.add_argument("--reps", type=int, default=5, help="with --group: interleaved repetitions (default 5)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=main)


def parse_group(value: str) -> int | None:
    """--group K (a positive integer) or auto (None)."""
    if value == "auto":
        return None
    try:
        K = int(value)
    except ValueError:
        K = 0
    if K < 1:
        raise ConfigError(f"--group must be a positive integer or auto, got {quote(value)}")
    return K


def main(args: argparse.Namespace) -> int:
    cfg = build_config(args.overrides, args.config)
    if args.group is not None:
        K = parse_group(args.group)
        reason = None
        if K is None:
            from twoclocks.training.sizing import auto_group_size

            K, reason = auto_group_size(cfg)
        result = bench_group(
            cfg,
            K,
            steps=10 if args.steps is None else args.steps,
            warmup=2 if args.warmup is None else args.warmup,
            reps=args.reps,
        )
        result["K_reason"] = reason or f"K={K}: given"
        lines = format_bench_group(result) + [result["K_reason"]]
        print(json.dumps(result) if args.json else "\n".join(lines))
        return 0
    steps = 50 if args.steps is None else args.steps
    warmup = 10 if args.warmup is None else args.warmup
    if steps <= 0 or warmup < 0:
        raise ConfigError(f"--steps must be positive and --warmup non-negative, got {steps}, {warmup}")
    result = bench(cfg, steps=steps, warmup=warmup)
    print(json.dumps(result) if args.json else "\n".join(format_bench(result)))
    return 0
