"""One module per CLI subcommand; each defines `add_parser(subparsers)` and `main(args)`."""

from __future__ import annotations

import argparse
from typing import Any

from twoclocks.core.io import strict_json


def add_config_arguments(p: argparse.ArgumentParser, example: str) -> None:
    """The `key=value ...` overrides and `--config FILE` of a command that builds a run's config
    (`config.build_config`: the file's values, then the overrides)."""
    p.add_argument("overrides", nargs="*", metavar="key=value", help=f"dotted config overrides, e.g. {example}")
    p.add_argument("--config", help="YAML config file (overrides on the command line win)")


def json_text(obj: Any, indent: int | None = None) -> str:
    """`obj` as strict JSON, what every `--json` prints (`core.io.strict_json`)."""
    return strict_json(obj, indent)
