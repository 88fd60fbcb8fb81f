"""`twoclocks run [key=value ...] [--config FILE] [--out DIR] [--resume DIR]`"""

from __future__ import annotations

import argparse

from twoclocks import api
from twoclocks.commands import add_config_arguments
from twoclocks.errors import ConfigError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="train one model, measuring tau_rule and tau_mem",
        description="Train one model and measure both clocks. With no arguments: the "
        "embedded default (group parity, DiT, CPU, a few minutes).",
    )
    add_config_arguments(p, "task.G=3 data.N=64 model=gpt train.steps=5000")
    p.add_argument("--out", help="run directory (default: runs/<readable name>)")
    p.add_argument("--resume", metavar="DIR", help="continue a stopped run from its last checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--tensorboard", action="store_true", help="live curves in RUN_DIR/tensorboard (train.tensorboard=true)"
    )
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    # `is not None`: an empty --resume or --out is a mistake to report, not a missing option.
    if args.tensorboard and args.resume is None:
        args.overrides = [*args.overrides, "train.tensorboard=true"]
    if args.resume is not None:
        if args.overrides or args.config is not None or args.out is not None or args.tensorboard:
            raise ConfigError(
                "--resume takes no overrides, --config, --out or --tensorboard: a run resumes with its saved config"
            )
        run = api.load(args.resume).resume(progress=not args.quiet)
    else:
        run = api.run(args.overrides, args.out, progress=not args.quiet, config=args.config)
    print(run.text())
    return 0
