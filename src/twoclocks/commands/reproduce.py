"""`twoclocks reproduce --scale tiny|cpu|gpu --out DIR [--executor local|ray] ...`

Runs the packaged sweep of a scale (resumable like any sweep), then prints one verdict per
claim of the paper and writes DIR/claims.csv, DIR/claims.json and DIR/report/index.html.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from twoclocks.analysis.report import build_report
from twoclocks.sweeps.claims import SCALES, claims_text, evaluate_claims, scale_spec, write_claims
from twoclocks.sweeps.executors import run_sweep
from twoclocks.sweeps.spec import EXECUTORS, check_exec_options, expand, read_results


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reproduce",
        help="run a predefined sweep and judge every claim of the paper",
        description="tiny: a minute, exercises the machinery (verdicts mostly inconclusive); "
        "cpu: about 12 minutes on 2 cores; gpu: the paper-scale grid, for a Ray cluster. "
        "Grids and decision rules: docs/sweeps.md.",
    )
    p.add_argument("--scale", choices=SCALES, required=True)
    p.add_argument("--out", help="sweep directory (default reproduce/<scale>)")
    p.add_argument("--executor", choices=EXECUTORS, help="local process pool (default) or Ray tasks")
    p.add_argument("--address", help="Ray cluster address; default: a local Ray")
    p.add_argument("--workers", type=int, help="concurrent runs (default: cores // threads)")
    p.add_argument("--threads", type=int, help="torch threads per run")
    p.add_argument("--retry-failed", action="store_true", help="run points that failed before again")
    p.add_argument("--dry-run", action="store_true", help="list the points and stop")
    p.add_argument("--no-run", action="store_true", help="judge the claims on what DIR already holds")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    spec = scale_spec(args.scale)
    for key in ("executor", "address", "workers", "threads"):
        if getattr(args, key) is not None:
            setattr(spec, key, getattr(args, key))
    check_exec_options(spec)
    out = Path(args.out) if args.out else Path("reproduce") / args.scale
    if args.dry_run:
        points = expand(spec)
        steps = sum(p.cfg.train.steps for p in points)
        print("\n".join(p.name for p in points))
        print(f"{len(points)} points, {steps:,} training steps in all")
        return 0
    if not args.no_run:
        run_sweep(spec, out, retry_failed=args.retry_failed, progress=not args.quiet)
    claims = evaluate_claims(read_results(out), out)
    write_claims(claims, out, args.scale)
    index = build_report(out)
    print(claims_text(claims))
    print(f"claims: {out / 'claims.csv'}, {out / 'claims.json'}; report: {index}")
    return 0
