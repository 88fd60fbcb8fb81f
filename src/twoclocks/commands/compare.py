"""`twoclocks compare RUN_A RUN_B ... [--out FILE] [--x step|epoch]`"""

from __future__ import annotations

import argparse

import pandas as pd

from twoclocks.analysis.compare import compare_table, load_run, plot_compare, reference_like
from twoclocks.core.io import figure_format
from twoclocks.plugins import reads_only


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="overlay the clocks of several runs and tabulate their offsets",
        description="Overlay valid / mem / novel_valid of several finished runs (one colour "
        "per run) and print their clocks with offsets from the first run.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories; the first is the reference")
    p.add_argument("--out", default="compare.png", help="figure file (default: compare.png)")
    p.add_argument("--x", choices=("step", "epoch"), default="step", help="x axis of the figure")
    p.add_argument(
        "--reference", action="store_true", help="add the shipped reference runs of the first run's config (its seeds)"
    )
    p.set_defaults(func=main)


@reads_only
def main(args: argparse.Namespace) -> int:
    figure_format(args.out)
    runs = [load_run(p) for p in args.runs]
    if args.reference:
        runs += reference_like(runs[0])
    labels = [r.label for r in runs]
    for r in runs:  # identical labels (e.g. an lr sweep) are told apart by directory name
        if labels.count(r.label) > 1:
            r.label = f"{r.label} [{r.path.name}]"
    table = compare_table(runs)
    with pd.option_context("display.width", 200, "display.max_columns", None, "display.max_colwidth", 60):
        print(table.to_string(index=False))
    print("offsets: clock ratio to the first run (x) and log10 of it (decades); > / < are bounds from censored clocks")
    plot_compare(runs, args.out, args.x)
    print(f"figure: {args.out}")
    return 0
