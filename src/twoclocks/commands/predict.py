"""`twoclocks predict [key=value ...] [--config FILE] [--from DIR ...] [--json]`"""

from __future__ import annotations

import argparse
import json

from twoclocks.api import predict


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="predict the clocks of a config before training it",
        description="Each clock's median with 80%% and 95%% predictive intervals, the window, "
        "P(window open) and P(clock within train.steps), from laws fitted on the reference "
        "results shipped with twoclocks (or on the sweeps given with --from), with a warning for "
        "every variable outside the fitted runs (docs/predict.md).",
    )
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, as for `twoclocks run`")
    p.add_argument("--config", help="YAML config file (overrides win)")
    p.add_argument("--from", dest="sweeps", nargs="+", metavar="DIR", help="fit on these sweep directories instead")
    p.add_argument("--json", action="store_true", help="print the prediction as JSON")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    prediction = predict(args.overrides, config=args.config, sweeps=args.sweeps)
    if args.json:
        print(json.dumps(prediction.to_dict(), indent=2, allow_nan=False))  # strict JSON: null, never NaN
    else:
        print("\n".join(prediction.lines()))
    return 0
