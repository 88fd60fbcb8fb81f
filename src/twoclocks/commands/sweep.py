"""`twoclocks sweep [SPEC.yaml] [key=value ...] [--grid key=v1,v2 ...] [--seeds S] --out DIR
[--executor local|ray] [--address ADDR] [--workers K] [--threads T] [--group [--group-size K]]
[--gpus-per-run G] [--gpus-per-group G] [--retry-failed] [--dry-run [--no-bench]]`

Runs a grid of points (see docs/sweeps.md); the same command again resumes it. With only
--out DIR it continues the sweep recorded in DIR/sweep.json. --dry-run lists the points and
the run-steps and hours they would take here, and runs nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from twoclocks.api import sweep_spec
from twoclocks.clocks.text import format_clock
from twoclocks.core.domains import base_type
from twoclocks.errors import ConfigError
from twoclocks.prediction.autobudget import resolve_steps
from twoclocks.sweeps.executors import run_sweep
from twoclocks.sweeps.results import read_results
from twoclocks.sweeps.spec import SweepSpec, options, parse_grid_args
from twoclocks.sweeps.sweepdir import SweepDir


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a grid of runs locally or on Ray, resumably",
        description="Run every point of a grid (base overrides x grid values x seeds). "
        "Finished points are skipped and interrupted ones resumed when the same "
        "command is run again.",
    )
    p.add_argument(
        "items",
        nargs="*",
        metavar="[SPEC.yaml] key=value",
        help="a YAML sweep spec and/or base config overrides shared by every point",
    )
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="key=v1,v2,...",
        help="a swept key and its values (repeat for a cartesian product)",
    )
    p.add_argument("--seeds", help="number of seeds (0..S-1) or a comma-separated list (default 1)")
    p.add_argument("--out", help="sweep directory (default for a spec file: sweeps/<spec name>)")
    add_execution_options(p)
    add_plan_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=main)


def add_plan_options(p: argparse.ArgumentParser) -> None:
    """--dry-run and --no-bench (shared with `reproduce`)."""
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="list the points, the run-steps and the hours they would take at throughput measured "
        "here by a short bench, and stop (nothing is written)",
    )
    p.add_argument(
        "--no-bench",
        action="store_true",
        help="with --dry-run: estimate from stated figures (printed with their source) instead of measuring",
    )


def add_execution_options(p: argparse.ArgumentParser) -> None:
    """Where and how the points run (SweepSpec's options, as --name-with-dashes), and
    --retry-failed (shared with `reproduce`). An option not given is None: the spec's own stays."""
    for name, (f, annotation) in options().items():
        flag, kind = "--" + name.replace("_", "-"), base_type(annotation)
        help_, metavar, domain = f.metadata["help"], f.metadata["metavar"], f.metadata["domain"]
        if kind is bool:
            p.add_argument(flag, action="store_const", const=True, help=help_)
        elif domain is not None and domain.choices is not None:
            p.add_argument(flag, choices=domain.choices, help=help_)
        else:
            p.add_argument(flag, type=kind, metavar=metavar, help=help_)
    p.add_argument("--retry-failed", action="store_true", help="run points that failed before again")


def build_spec(args: argparse.Namespace) -> tuple[SweepSpec, Path]:
    """The spec from a YAML file, the command line, or DIR/sweep.json, plus the output directory."""
    files = [i for i in args.items if "=" not in i]
    overrides = [i for i in args.items if "=" in i]
    if len(files) > 1 or (files and not files[0].endswith((".yaml", ".yml"))):
        raise ConfigError(f"expected at most one SPEC.yaml and key=value overrides, got {files}")
    return sweep_spec(
        files[0] if files else None,
        overrides,
        parse_grid_args(args.grid) if args.grid else None,
        args.seeds,
        args.out,
        **{k: getattr(args, k) for k in options()},
    )


def main(args: argparse.Namespace) -> int:
    spec, out = build_spec(args)
    if args.dry_run:
        done = read_results(out) if SweepDir(out).results.is_file() else None  # a sweep under way
        names, plan = plan_lines(spec, bench=not args.no_bench)
        print("\n".join([*names, "", *plan]))
        if done is not None:
            finished = int((done["status"] == "finished").sum()) if "status" in done else 0
            print(f"{out} holds {finished} finished point(s); the plan above counts every point")
        return 0
    outcome = run_sweep(spec, out, retry_failed=args.retry_failed, progress=not args.quiet, resolve=resolve_steps)
    print(clock_table(read_results(out)))
    print(
        f"{outcome.points} points: {outcome.done_before} done earlier, {outcome.executed} run now, "
        f"{outcome.failed} failed; results in {outcome.results_path}"
    )
    if outcome.failed:
        print(f"failed points are listed in {SweepDir(out).failures}; rerun with --retry-failed to retry them")
        return 1
    return 0


def plan_lines(spec: SweepSpec, bench: bool) -> tuple[list[str], list[str]]:
    """(the points' names, the plan: run-steps, evaluations and estimated hours per model family
    on this device; twoclocks.sweeps.plan); `bench` False: from stated GPU figures."""
    from twoclocks.config import RunConfig, apply_overrides
    from twoclocks.sweeps.plan import STATED, estimate_hours, measure, plan, plan_text
    from twoclocks.training.experiment import resolve_device

    device = apply_overrides(RunConfig(), {k: v for k, v in spec.base.items() if k == "train.device"}).train.device
    # Stated figures are a GPU's: plan the groups as on one. Measured ones: as on this device.
    device_type = resolve_device(device).type if bench else "cuda"
    share = (spec.gpus_per_group or spec.gpus_per_run) if spec.executor == "ray" and device_type == "cuda" else 1.0
    points, loads = plan(spec, device_type, min(1.0, share), resolve_steps)
    estimates = {}
    for fam, load in loads.items():
        K = max([m for m, _, _ in load.group_tasks], default=1)
        rates = measure(load, K) if bench else dict(STATED)
        estimates[fam] = (rates, estimate_hours(load, rates))
    return [p.name for p in points], plan_text(points, loads, estimates)


def clock_table(df: pd.DataFrame, limit: int = 40) -> str:
    """The clocks of each point as text, censored clocks as '> max step'."""
    lines = []
    for _, r in df.head(limit).iterrows():
        if r["status"] != "finished":
            lines.append(f"{r['name']:<48} failed: {r['error']}")
            continue
        m = int(r["max_step"])
        tr = None if pd.isna(r["tau_rule"]) else float(r["tau_rule"])
        tm = None if pd.isna(r["tau_mem"]) else float(r["tau_mem"])
        if r["window_vanished"]:  # copying came first; say so where the rule was never learned
            win = "vanished" if tr is not None else "vanished (rule not learned)"
        elif pd.isna(r["window_log10"]):
            win = "n/a"
        else:
            win = f"{'>=' if r['window_log10_is_lower_bound'] else ''}{r['window_log10']:.2f}"
        lines.append(
            f"{r['name']:<48} tau_rule {format_clock(tr, m):>8}  tau_mem {format_clock(tm, m):>8}  window {win}"
        )
    if len(df) > limit:
        lines.append(f"... {len(df) - limit} more rows in results.parquet")
    return "\n".join(lines)
