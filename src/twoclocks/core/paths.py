"""Where twoclocks may write: folder names made from config values that stay inside their
parent, and symbolic links refused where outputs go (or removed where twoclocks planted the
name).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from pathlib import Path

from twoclocks.errors import TwoClocksError


def check_resolvable(path: str | os.PathLike) -> None:
    """A one-line error when `path` or a folder above it is a symbolic link that leads nowhere
    (a loop, or a missing target): the OS would only say "File exists" or "No such file"."""
    path = Path(path)
    for p in (path, *path.parents):
        if not p.is_symlink():
            continue
        try:
            p.stat()
        except OSError as exc:
            loop = exc.errno == errno.ELOOP
            what = "a symbolic link loop" if loop else f"a symbolic link to a missing target ({os.readlink(p)})"
            raise TwoClocksError(f"{p} is {what}") from None


def safe_name(text: object, limit: int = 64) -> str:
    """`text` as one folder name that stays inside the folder it is put in, whatever a config
    value holds: characters other than letters, digits and `._+-` become `_`, and so does a
    leading dot (no `..`, no hidden name); at most `limit` characters, never empty."""
    name = re.sub(r"[^A-Za-z0-9._+-]", "_", str(text))[:limit]
    return "_" + name[1:] if name.startswith(".") else name or "_"


def check_no_links(root: str | os.PathLike, *folders: str | os.PathLike) -> None:
    """A one-line error when a folder twoclocks writes into below `root` (each of `folders`,
    relative to it) or a folder between them is a symbolic link, which would carry the writes
    out of `root`."""
    root = Path(root)
    for folder in folders:
        p = root
        for part in Path(folder).parts:
            p = p / part
            if p.is_symlink():
                raise TwoClocksError(
                    f"{p} is a symbolic link; twoclocks writes only into real folders inside {root} (remove the link)"
                )


def remove_path(path: Path) -> None:
    """Remove a file or folder twoclocks made, or a link planted where it goes (never what the
    link names); nothing when it is not there."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
