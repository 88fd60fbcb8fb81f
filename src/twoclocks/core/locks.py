"""Exclusive locks on run and sweep directories: one process at a time works on each.

A lock is an flock on a small file that exists only while it is held: the holder removes it
when it is done, so finished runs leave no lock files behind. Removing a lock file that another
process is waiting on is safe because a waiter that gets the lock checks that its file is still
the one at the lock's path, and starts over on the new one if not. The OS drops an flock when
its process dies, so a killed holder never blocks anyone; its file stays until the next holder
of the same lock removes it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from twoclocks.core.io import cause
from twoclocks.errors import TwoClocksError

NAME_MAX_FALLBACK = 255  # bytes in a file name on nearly every file system (ext4, xfs, tmpfs, APFS)


def name_max(folder: Path) -> int:
    """The longest file name (bytes) the file system under `folder` (or its nearest existing
    ancestor) allows."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return NAME_MAX_FALLBACK


def pid_alive(pid: int) -> bool:
    """Whether a process has this pid (one we may not signal counts: not ours to judge)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_path_beside(directory: Path) -> Path:
    """The lock file of `directory`, beside it: .NAME.lock, or, when that name would be longer
    than the file system allows, a shortened NAME followed by a hash of the whole name."""
    name = f".{directory.name}.lock"
    if len(name.encode()) > name_max(directory.parent):
        digest = hashlib.sha256(directory.name.encode()).hexdigest()[:16]
        name = f".{directory.name.encode()[:64].decode(errors='ignore')}-{digest}.lock"
    return directory.parent / name


@contextlib.contextmanager
def hold_lock(lock_path: Path, busy: str, wait: bool = False) -> Iterator[None]:
    """Hold the lock at `lock_path` (its folder must exist): with `wait`, until the holder is
    done; without, a one-line TwoClocksError `busy` if another process holds it. The lock file
    is removed on release."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no locking
        yield
        return
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise TwoClocksError(f"cannot lock {lock_path.parent} ({cause(exc)} on {lock_path})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise TwoClocksError(busy) from None
            raise TwoClocksError(f"cannot lock {lock_path} ({cause(exc)})") from None
        if _still_at(fd, lock_path):
            break
        os.close(fd)  # the previous holder removed the file we waited on: lock the current one
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock_path)
        os.close(fd)


def _still_at(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False
