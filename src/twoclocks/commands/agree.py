"""`twoclocks agree RUN_A RUN_B [--json]`"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from twoclocks.analysis.agree import agreement_table
from twoclocks.clocks.text import format_clock
from twoclocks.commands import json_text
from twoclocks.plugins import reads_only


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "agree",
        help="agreement of two models trained on the two halves of an image data set",
        description="Compare two finished runs on task.split=A and task.split=B, sampled with the "
        "same noise: per evaluation the fraction of identical paired samples and their mean "
        "distance, and tau_agree, where most paired samples are identical.",
    )
    p.add_argument("runs", nargs=2, metavar="RUN", help="the run directories of the two halves")
    p.add_argument("--json", action="store_true", help="print the table and the clock as JSON")
    p.set_defaults(func=main)


@reads_only
def main(args: argparse.Namespace) -> int:
    res = agreement_table(*args.runs)
    if args.json:
        table = res.table.to_dict(orient="records")
        clock = {"theta": res.theta, "tau_agree": res.tau, "tau_agree_ci": res.ci}
        start = {"tau_agree_left_censored": res.left_censored, "start_agreement_lost": res.start_lost}
        print(json_text({**clock, **start, "unpaired_steps": res.unpaired, "table": table}))
        return 0
    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(res.table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    ci = ", ".join("?" if v is None else f"{v:,.0f}" for v in res.ci)
    print(f"tau_agree = {format_clock(res.tau, res.max_step)} steps  (agree >= {res.theta:g}; interval [{ci}])")
    if res.left_censored:
        print("  left-censored: the runs agreed from the first evaluation and never stopped (their shared start)")
    elif res.start_lost is not None:
        print(f"  counted after step {res.start_lost:,.0f}, where the agreement of their shared start was lost")
    if res.unpaired:
        steps = ", ".join(f"{s:,}" for s in res.unpaired[:5]) + (", ..." if len(res.unpaired) > 5 else "")
        print(
            f"twoclocks: note: {len(res.unpaired)} evaluation(s) kept by one run only, skipped: step {steps}",
            file=sys.stderr,
        )
    return 0
