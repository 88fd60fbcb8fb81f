"""`twoclocks basins RUN_DIR [--checkpoints all|auto|STEP,STEP] [--sigmas ...] [--per-set K]
[--ode-steps S] [--out DIR]`: basin and score dissection of a diffusion run's checkpoints."""

from __future__ import annotations

import argparse

from twoclocks.analysis.basins_report import format_sigma_half
from twoclocks.analysis.basins_run import BasinSettings, run_basins
from twoclocks.errors import ConfigError, quote
from twoclocks.plugins import reads_only

_D = BasinSettings()


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "basins",
        help="basins of attraction, per-sigma loss and explained variance of checkpoints",
        description="Perturb training, held-out valid and invalid items with noise sigma, "
        "integrate the probability-flow ODE back to sigma=0 with each checkpoint's "
        "denoiser, and count how often an item comes back to itself (its basin). "
        "Also the per-sigma denoising loss on each set and the explained variance "
        "against the empirical and population denoisers. See docs/basins.md.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `twoclocks run`")
    p.add_argument(
        "--checkpoints",
        default=_D.checkpoints,
        help="all | auto (about 8 spread in log step, including those nearest tau_rule and "
        "tau_mem) | a comma list of steps (default auto)",
    )
    p.add_argument("--sigmas", default=_fmt(_D.sigmas), help=f"basin noise levels (default {_fmt(_D.sigmas)})")
    p.add_argument(
        "--loss-sigmas",
        default=_fmt(_D.loss_sigmas),
        help="noise levels of the loss and explained variance (default 13 from 0.02 to 20)",
    )
    p.add_argument(
        "--per-set", type=int, default=_D.per_set, help=f"trajectories per vertex set (default {_D.per_set})"
    )
    p.add_argument(
        "--ode-steps",
        type=int,
        default=_D.ode_steps,
        help=f"Heun noise levels from sigma down to sigma_min (default {_D.ode_steps})",
    )
    p.add_argument("--seed", type=int, default=_D.seed, help="seed of the vertex sets and noise (default 0)")
    p.add_argument("--out", help="output directory (default RUN_DIR/basins)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=main)


def _fmt(values: tuple[float, ...]) -> str:
    return ",".join(f"{v:g}" for v in values)


def parse_sigmas(text: str, flag: str) -> tuple[float, ...]:
    """'0.1,0.5,1' -> (0.1, 0.5, 1.0), sorted and de-duplicated; every value must be > 0."""
    try:
        values = sorted({float(v) for v in text.split(",") if v.strip()})
    except ValueError:
        raise ConfigError(f"{flag} must be a comma list of numbers, got {quote(text)}") from None
    if not values or values[0] <= 0:
        raise ConfigError(f"{flag} needs at least one value, all > 0; got {quote(text)}")
    return tuple(values)


@reads_only
def main(args: argparse.Namespace) -> int:
    if args.ode_steps < 1:
        raise ConfigError(f"--ode-steps must be >= 1, got {args.ode_steps}")
    settings = BasinSettings(
        sigmas=parse_sigmas(args.sigmas, "--sigmas"),
        loss_sigmas=parse_sigmas(args.loss_sigmas, "--loss-sigmas"),
        per_set=args.per_set,
        ode_steps=args.ode_steps,
        seed=args.seed,
        checkpoints=args.checkpoints,
    )
    s = run_basins(args.run_dir, args.out, settings, device=args.device, progress=not args.quiet)
    print(f"basins of {s['task']} N={s['N']}: checkpoints {s['checkpoints']}, {s['seconds']:.0f}s")
    sets = list(s["trajectories"])
    print(f"sigma_half (basin size drops below 1/2) per set: {', '.join(sets)}")
    for label, per_set in s["sigma_half"].items():
        cells = [format_sigma_half(per_set.get(name), s["settings"]["sigmas"]) for name in sets]
        print(f"  {label:>10}  " + "  ".join(f"{c:>8}" for c in cells))
    for note in s["notes"]:
        print(f"note: {note}")
    out = args.out or f"{args.run_dir}/basins"
    print(f"tables, figures and summary.json in {out}")
    return 0
