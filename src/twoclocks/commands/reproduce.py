"""`twoclocks reproduce --scale tiny|cpu|cpu-long|gpu --out DIR [--executor local|ray] ...`

Runs the packaged sweep of a scale (resumable like any sweep), then prints one verdict per
claim of the paper and writes DIR/claims.csv, DIR/claims.json and DIR/report/index.html.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from twoclocks.analysis.report import build_report
from twoclocks.commands.sweep import add_execution_options, add_plan_options, plan_lines
from twoclocks.prediction.autobudget import resolve_steps
from twoclocks.sweeps.claims.evaluate import claims_text, evaluate_claims, judged_claims, write_claims
from twoclocks.sweeps.executors import run_sweep
from twoclocks.sweeps.results import read_results
from twoclocks.sweeps.scales import SCALES, scale_spec
from twoclocks.sweeps.spec import SweepSpec, options, set_options
from twoclocks.sweeps.sweepdir import SweepDir


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reproduce",
        help="run a predefined sweep and judge every claim of the paper",
        description="tiny: a minute, exercises the machinery (verdicts mostly inconclusive); "
        "cpu: about 12 minutes on 2 cores; cpu-long: claims 1, 3, 6 on learned rules, with the "
        "learnability map's cut (measured: about 83 minutes on 2 cores); gpu: the paper-scale grid, for "
        "a GPU or a Ray cluster. "
        "Grids and decision rules: docs/sweeps.md.",
    )
    p.add_argument("--scale", choices=SCALES, required=True)
    p.add_argument("--out", help="sweep directory (default reproduce/<scale>)")
    add_execution_options(p)
    add_plan_options(p)
    p.add_argument("--no-run", action="store_true", help="judge the claims on what DIR already holds")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    spec = scale_spec(args.scale)
    set_options(spec, {k: getattr(args, k) for k in options()})
    out = Path(args.out) if args.out else Path("reproduce") / args.scale
    if args.dry_run:
        return dry_run(spec, args.scale, bench=not args.no_bench)
    if not args.no_run:
        run_sweep(spec, out, retry_failed=args.retry_failed, progress=not args.quiet, resolve=resolve_steps)
    claims = evaluate_claims(read_results(out))
    write_claims(claims, out, args.scale)
    index = build_report(out)
    print(claims_text(claims))
    print(f"claims: {SweepDir(out).claims_table}, {SweepDir(out).claims}; report: {index}")
    return 0


def dry_run(spec: SweepSpec, scale: str, bench: bool) -> int:
    """Points, claims, run-steps and the estimated hours on this device (twoclocks.sweeps.plan)."""
    names, plan = plan_lines(spec, bench)
    print("\n".join(names))
    print(f"\nclaims judged by the {scale} scale:")
    print("\n".join(f"  {c}" for c in judged_claims()))
    print()
    print("\n".join(plan))
    return 0
