"""`twoclocks bench [key=value ...] [--config FILE] [--steps K] [--json]`"""

from __future__ import annotations

import argparse
import json

from twoclocks.config import build_config
from twoclocks.errors import ConfigError
from twoclocks.training.bench import bench, format_bench


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="measure training and evaluation throughput of a config",
        description="Build the configured experiment (same overrides as `run`), time "
        "K training steps after a warm-up and one evaluation (generation of "
        "eval.samples + scoring), and print steps/s, samples/s and the "
        "achieved matmul GFLOP/s (counted with FlopCounterMode: "
        "docs/performance.md). Writes no files.",
    )
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="key=value",
        help="dotted config overrides, e.g. model=gpt train.precision=fp32 train.threads=2",
    )
    p.add_argument("--config", help="YAML config file (overrides on the command line win)")
    p.add_argument("--steps", type=int, default=50, help="timed training steps (default 50)")
    p.add_argument("--warmup", type=int, default=10, help="untimed training steps first (default 10)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if args.steps <= 0 or args.warmup < 0:
        raise ConfigError(f"--steps must be positive and --warmup non-negative, got {args.steps}, {args.warmup}")
    cfg = build_config(args.overrides, args.config)
    result = bench(cfg, steps=args.steps, warmup=args.warmup)
    print(json.dumps(result) if args.json else "\n".join(format_bench(result)))
    return 0
