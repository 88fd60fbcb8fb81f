"""`twoclocks predict [key=value ...] [--config FILE] [--from DIR ...] [--json]`"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from twoclocks.commands import add_config_arguments
from twoclocks.config import load_yaml, parse_overrides
from twoclocks.errors import ConfigError
from twoclocks.prediction.fitted import predict_overrides


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="predict the clocks of a config before training it",
        description="Each clock's median with 80%% and 95%% predictive intervals, the window, "
        "P(window open) and P(clock within train.steps), from laws fitted on the reference "
        "results shipped with twoclocks (or on the sweeps given with --from), with a warning for "
        "every variable outside the fitted runs (docs/predict.md).",
    )
    add_config_arguments(p, "task.G=3 data.N=64 train.steps=5000")
    p.add_argument("--from", dest="sweeps", nargs="+", metavar="DIR", help="fit on these sweep directories instead")
    p.add_argument("--json", action="store_true", help="print the prediction as JSON")
    p.set_defaults(func=main)


def split_words(sweeps: list[str]) -> tuple[list[str], list[str]]:
    """(directories, overrides) of the words after --from: a key=value word that is not a
    directory is an override (argparse gives --from every word up to the next option)."""
    overrides = [w for w in sweeps if "=" in w and not Path(w).is_dir()]
    return [w for w in sweeps if w not in overrides], overrides


def main(args: argparse.Namespace) -> int:
    sweeps, more = split_words(args.sweeps) if args.sweeps else (None, [])
    if sweeps == []:
        raise ConfigError(f"--from needs a sweep directory; got only overrides: {' '.join(more)}")
    # The overrides as `tc.predict` merges them (twoclocks.api), without importing the trainer.
    merged = load_yaml(args.config) if args.config is not None else {}
    merged.update(parse_overrides([*args.overrides, *more]))
    prediction = predict_overrides(merged, sweeps or None)
    if args.json:
        print(json.dumps(prediction.to_dict(), indent=2, allow_nan=False))  # strict JSON: null, never NaN
    else:
        print("\n".join(prediction.lines()))
    return 0
