"""Atomic file writes: a reader (or a resumed run) never sees a half-written file.

Every writer goes to a temporary file in the same directory, fsyncs it, and renames it over
the target with `os.replace`, which is atomic on POSIX file systems. The file gets the mode a
plain `open` would give it (0666 less the umask), not mkstemp's owner-only 0600, so that results
can be shared. A file that cannot be written is a one-line `TwoClocksError` naming it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pandas as pd

from twoclocks.errors import TwoClocksError

TEMP_SUFFIX = ".tmp"  # atomic_path's temporary files are named .<target>.<random>.tmp


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success rename it onto `path`."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
        os.fchmod(fd, 0o666 & ~current_umask())
        os.close(fd)
    except OSError as exc:
        raise unwritable(path, exc) from None
    tmp_path = Path(tmp)
    try:
        try:
            yield tmp_path
            with open(tmp_path, "rb+") as fh:  # flush file contents before the rename
                os.fsync(fh.fileno())
            os.replace(tmp_path, path)
        except OSError as exc:  # a full disk, a directory made read-only meanwhile, ...
            raise unwritable(path, exc) from None
    finally:
        with suppress(OSError):
            tmp_path.unlink(missing_ok=True)


def unwritable(path: Path, exc: OSError) -> TwoClocksError:
    return TwoClocksError(f"cannot write {path} ({exc.strerror or type(exc).__name__})")


def current_umask() -> int:
    """The process's umask, read without changing it where the OS tells it (Linux), else by
    setting and restoring it."""
    with suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_json(path: str | os.PathLike, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """A JSON file; missing, unreadable or not JSON is a one-line TwoClocksError naming it."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise TwoClocksError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise TwoClocksError(f"{path} is unreadable ({reason})") from None
    except json.JSONDecodeError as exc:
        raise TwoClocksError(f"{path} is corrupt (not valid JSON: {exc.msg} at line {exc.lineno})") from None


def write_table(path: str | os.PathLike, df: pd.DataFrame) -> None:
    """Write a DataFrame as parquet (or CSV when the suffix is .csv), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix == ".csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    path = Path(path)
    return pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)


def _json_default(obj: Any) -> Any:
    # numpy scalars and arrays show up in metrics; JSON wants plain Python types.
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
