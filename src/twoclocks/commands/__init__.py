"""One module per CLI subcommand; each defines `add_parser(subparsers)` and `main(args)`."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any


def add_config_arguments(p: argparse.ArgumentParser, example: str) -> None:
    """The `key=value ...` overrides and `--config FILE` of a command that builds a run's config
    (`config.build_config`: the file's values, then the overrides)."""
    p.add_argument("overrides", nargs="*", metavar="key=value", help=f"dotted config overrides, e.g. {example}")
    p.add_argument("--config", help="YAML config file (overrides on the command line win)")


def json_text(obj: Any, indent: int | None = None) -> str:
    """`obj` as strict JSON, what every `--json` prints: a number that is not finite (an
    unknown population, a clock never reached) is null, never NaN or Infinity, which JSON
    parsers other than Python's refuse."""
    return json.dumps(_finite(obj), indent=indent, allow_nan=False)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj
