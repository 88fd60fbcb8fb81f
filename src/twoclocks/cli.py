"""The `twoclocks` command line. Each subcommand lives in `twoclocks.commands.<name>`."""

from __future__ import annotations

import argparse
import importlib
import shlex
import signal
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from twoclocks import __version__
from twoclocks.errors import Interrupted, ReadNote, TwoClocksError, one_line

# Subcommand modules, in the order `twoclocks --help` lists them.
COMMANDS = ["run", "predict", "compare", "agree", "tasks", "sweep", "basins", "report", "reproduce", "bench"]


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Every subcommand's parser, or only that of `only`: a command imports what its module
    needs (the trainer, torch) and no other's, so `twoclocks predict` starts in a fraction of
    a second."""
    parser = argparse.ArgumentParser(
        prog="twoclocks",
        description="When does a generative model learn the rule (tau_rule), and when does it start copying (tau_mem)?",
    )
    parser.add_argument("--version", action="version", version=f"twoclocks {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if only is None else [only]:
        importlib.import_module(f"twoclocks.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv[0] if argv and argv[0] in COMMANDS else None)
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
        with sigterm_as_interrupt(), notes_as_lines():
            return int(args.func(args) or 0)
    except TwoClocksError as exc:
        print(f"twoclocks: error: {one_line(str(exc))}", file=sys.stderr)
        return 1
    except OSError as exc:  # a file error no loader anticipated (a disk full, a file gone)
        where = f"{exc.filename}: " if exc.filename else ""
        print(one_line(f"twoclocks: error: {where}{exc.strerror or exc}"), file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        resume = exc.resume if isinstance(exc, Interrupted) else None
        print(f"twoclocks: {interrupted_line(signum, resume, argv)}", file=sys.stderr)
        return 128 + signum


def interrupted_line(signum: int, resume: str | None, argv: list[str]) -> str:
    """What stopped the command and the command that continues its work."""
    how = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
    if resume is not None:
        return f"interrupted ({how}); continue with: {resume}"
    return f"interrupted ({how}); run the same command again to continue: {shlex.join(['twoclocks', *argv])}"


@contextmanager
def notes_as_lines() -> Iterator[None]:
    """Each ReadNote (what a reader could not give) is one `twoclocks: note:` line on stderr, once."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", ReadNote)
        shown, said = warnings.showwarning, set[str]()

        def show(message, category, filename, lineno, file=None, line=None):
            if not issubclass(category, ReadNote):
                shown(message, category, filename, lineno, file, line)
            elif str(message) not in said:
                said.add(str(message))
                print(f"twoclocks: note: {one_line(str(message))}", file=sys.stderr)

        warnings.showwarning = show
        yield


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a `kill`, a batch system's time limit) stops the command the way Ctrl-C does:
    files are left as an interrupted run leaves them and the resume command is printed."""

    def stop(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
