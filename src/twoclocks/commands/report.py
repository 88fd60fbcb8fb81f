"""`twoclocks report DIR`: figures and one self-contained HTML page for a run or a sweep."""

from __future__ import annotations

import argparse

from twoclocks.analysis.report import build_report
from twoclocks.plugins import reads_only


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="figures and an HTML page for a run or sweep directory",
        description="Write DIR/report/index.html (figures embedded) and the PNGs next to it. "
        "DIR is a run directory or a sweep directory (results.parquet).",
    )
    p.add_argument("dir", metavar="DIR", help="run or sweep directory")
    p.set_defaults(func=main)


@reads_only
def main(args: argparse.Namespace) -> int:
    index = build_report(args.dir)
    print(f"report: {index}")
    return 0
