"""One exception type for every user-facing problem.

The CLI turns a `TwoClocksError` into a single line on stderr and a non-zero exit, so the
message must name the offending field or file and say what is wrong with it.
"""

import reprlib


class TwoClocksError(Exception):
    """A problem with the user's input or files; printed as one line by the CLI."""


class ConfigError(TwoClocksError):
    """A bad config field, override or value."""


class PluginError(ConfigError):
    """A user's own task or model family (a plugin a config names) raised, or returned what its
    contract rules out; the message names the plugin's reference and the method."""


class CheckpointError(TwoClocksError):
    """A missing, truncated or corrupt checkpoint."""


class TrainingDiverged(TwoClocksError):
    """The loss became NaN/inf; the last good checkpoint is kept."""


class ReadNote(UserWarning):
    """What a reader of a run or sweep could not give (a clock it cannot rebuild without running
    a plugin's code), in one line: a warning in Python, a `twoclocks: note:` line on the command line."""


class Interrupted(KeyboardInterrupt):
    """The work was stopped by a signal (SIGINT, i.e. Ctrl-C, or SIGTERM). `resume` is the
    command that continues it, when that is not the same command again."""

    def __init__(self, signum: int, resume: str | None = None):
        super().__init__(signum, resume)
        self.signum = signum
        self.resume = resume


def exception_line(exc: BaseException) -> str:
    """`Type: first line of its message`, at most 240 characters: another's exception in a
    message of ours."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:240]


QUOTE_CHARS = 200  # the most of a user's value a message repeats


def quote(value: object) -> str:
    """repr(value) for a message, bounded: nested containers are cut at a few levels and items
    by `reprlib`, so that a value built from a few bytes of YAML aliases (or a long list) costs
    little to quote, and the text is capped at QUOTE_CHARS."""
    short = _REPR.repr(value)
    return short if len(short) <= QUOTE_CHARS else short[: QUOTE_CHARS - 3] + "..."


def one_line(text: str) -> str:
    """`text` as one printable line: a character that is not printable (a newline, a NUL, an
    escape) inside a user's value that a message repeats is shown escaped, as repr shows it."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _bounded_repr() -> reprlib.Repr:
    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxtuple, r.maxdict, r.maxset = 4, 8, 8, 8, 8
    r.maxstring, r.maxother, r.maxlong = QUOTE_CHARS, QUOTE_CHARS, QUOTE_CHARS
    return r


_REPR = _bounded_repr()
