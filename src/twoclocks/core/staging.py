"""A folder replaced whole or not at all (a report): made beside its target under a hidden name
of this process, `.NAME.partial-PID`, then swapped in with two renames, the previous folder
moved aside to `.NAME.old-PID` and removed. A failure midway leaves the previous folder as it was.

A process killed between the two renames leaves no folder at the target and the previous one
under its hidden name; one killed earlier leaves a partial folder. The next writer of the same
target puts the previous folder back and removes partial ones before it starts, for processes
that are gone only: a live one may be writing its own.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from twoclocks.core.io import unwritable
from twoclocks.core.locks import pid_alive
from twoclocks.core.paths import remove_path
from twoclocks.errors import TwoClocksError

PARTIAL, OLD = "partial", "old"  # the hidden folders: the one being made, the one replaced
PID = re.compile(r"[1-9][0-9]{0,9}")  # as os.getpid() prints; str.isdigit takes other scripts' digits
PID_MAX = 2**22  # Linux's pid_max ceiling; os.kill refuses larger numbers with an OverflowError


def hidden(target: Path, kind: str, pid: int) -> Path:
    return target.parent / f".{target.name}.{kind}-{pid}"


def leftovers(target: Path, kind: str) -> list[Path]:
    """The hidden `kind` folders of `target` whose process is gone, oldest name first. Only a
    name this module writes counts (ASCII digits of a pid the system could give); any other is
    left alone."""
    prefix = f".{target.name}.{kind}-"
    found = []
    for path in sorted(target.parent.glob(f"{prefix}*")):
        pid = path.name[len(prefix) :]
        if PID.fullmatch(pid) and int(pid) <= PID_MAX and not pid_alive(int(pid)):
            found.append(path)
    return found


def recover(target: Path) -> None:
    """What killed writers of `target` left: the previous folder back where it was (when no
    folder is there), every other leftover removed."""
    for path in leftovers(target, OLD):
        if target.exists() or target.is_symlink() or path.is_symlink() or not path.is_dir():
            remove_path(path)  # only a real folder is put back: a link planted there is not
        else:
            os.replace(path, target)
    for path in leftovers(target, PARTIAL):
        remove_path(path)


@contextlib.contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """Yield a fresh folder path to fill; on a clean exit it replaces `target`. A one-line
    error raised inside names `target`, not the staging folder; nothing of it stays."""
    recover(target)
    if target.exists() and not target.is_dir():  # a user's file of that name is theirs to move
        raise TwoClocksError(f"{target} is a file, not a folder twoclocks wrote; move it away to write {target.name}/")
    staging, old = hidden(target, PARTIAL, os.getpid()), hidden(target, OLD, os.getpid())
    for leftover in (staging, old):  # links planted under these names are removed, not followed
        remove_path(leftover)
    try:
        yield staging
        _swap(staging, target, old)
    except TwoClocksError as exc:
        raise TwoClocksError(str(exc).replace(str(staging), str(target))) from None
    finally:
        remove_path(staging)
        remove_path(old)


def _swap(staging: Path, target: Path, old: Path) -> None:
    """`staging` becomes `target`; the previous `target` goes to `old`, or back if that fails."""
    moved = target.exists() or target.is_symlink()
    try:
        if moved:
            os.replace(target, old)
        try:
            os.replace(staging, target)
        except OSError:
            if moved:
                os.replace(old, target)
            raise
    except OSError as exc:
        raise unwritable(target, exc) from None
