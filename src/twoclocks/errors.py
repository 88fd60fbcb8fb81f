"""One exception type for every user-facing problem.

The CLI turns a `TwoClocksError` into a single line on stderr and a non-zero exit, so the
message must name the offending field or file and say what is wrong with it.
"""


class TwoClocksError(Exception):
    """A problem with the user's input or files; printed as one line by the CLI."""


class ConfigError(TwoClocksError):
    """A bad config field, override or value."""


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
