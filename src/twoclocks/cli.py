"""The `twoclocks` command line. Each subcommand lives in `twoclocks.commands.<name>`."""

from __future__ import annotations

import argparse
import importlib
import sys

from twoclocks import __version__
from twoclocks.errors import TwoClocksError

# Subcommand modules, in the order `twoclocks --help` lists them.
COMMANDS = ["run", "compare", "tasks", "sweep", "basins", "report", "reproduce", "bench"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="twoclocks",
        description="When does a generative model learn the rule (tau_rule), and when does it start copying (tau_mem)?",
    )
    parser.add_argument("--version", action="version", version=f"twoclocks {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"twoclocks.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # argparse stops filling a positional list at the first option, so `run --quiet task.G=3`
    # leaves task.G=3 over; key=value words belong to the command's overrides wherever they are.
    if extra and isinstance(getattr(args, "overrides", None), list):
        args.overrides += [w for w in extra if "=" in w and not w.startswith("-")]
        extra = [w for w in extra if not ("=" in w and not w.startswith("-"))]
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except TwoClocksError as exc:
        print(f"twoclocks: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a file error no loader anticipated (a disk full, a file gone)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"twoclocks: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("twoclocks: interrupted (resume with --resume DIR)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
