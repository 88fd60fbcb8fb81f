"""Every file the toolkit writes or reads goes through here, so that every OS and format error
is one line naming the file and the cause: "cannot write FILE (No space left on device)",
"FILE is corrupt (...)".

Writes are atomic: the content is rendered in memory first (JSON, parquet, npz, a figure, a
torch checkpoint), then `write_bytes` puts it in a temporary file in the same directory,
fsyncs it and renames it over the target with `os.replace`, which is atomic on POSIX file
systems. A writer that fails leaves the old file (or none) and no temporary file. Rendering in
memory first is what makes a full disk a clean OSError: `torch.save` into a file that cannot
grow raises an opaque RuntimeError from its zip writer instead. The file gets the mode a plain
`open` would give it (0666 less the umask), not mkstemp's owner-only 0600, so that results can
be shared. A missing parent directory is an error unless the caller asks for it (`parents`):
the toolkit creates the folders of its own directories, never a user's.
"""

from __future__ import annotations

import io as _io
import json
import math
import os
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from twoclocks.core import memory
from twoclocks.errors import TwoClocksError

TEMP_SUFFIX = ".tmp"  # temporary files are named .<target>.<random>.tmp

# The one OS call that puts bytes into files (a module attribute, so that a test can make the
# disk full at any chosen write).
os_write = os.write


# ----- the one writer ----------------------------------------------------------------------------
def write_bytes(path: str | os.PathLike, data: bytes, parents: bool = False) -> None:
    """Write `data` to `path` atomically; any OS error is a one-line TwoClocksError naming it."""
    path = Path(path)
    with atomic_path(path, parents) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC)
        try:
            view = memoryview(data)
            while view:
                view = view[os_write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike, parents: bool = False) -> Iterator[Path]:
    """A temporary path next to `path`, renamed onto it when the block succeeds; for writers
    that only take a file name. OSError in the block is the one-line error; the temporary
    file never stays."""
    path = Path(path)
    made = make_dirs(path.parent) if parents else []
    # The temporary file is known as soon as it exists: a stop (SIGTERM raising SystemExit, run
    # by Python inside whichever system call it interrupts) removes it too.
    created: list[Path] = []
    done = False
    try:
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:200]}.", suffix=TEMP_SUFFIX, dir=path.parent)
            created.append(Path(tmp))
            try:
                os.fchmod(fd, 0o666 & ~current_umask())
            finally:
                os.close(fd)
            yield created[0]
            os.replace(created[0], path)
            done = True
        except OSError as exc:  # a full disk, a directory made read-only meanwhile, ...
            raise unwritable(path, exc) from None
    finally:
        for tmp_path in created:
            with suppress(OSError):
                tmp_path.unlink(missing_ok=True)
        if not done:  # folders made for a file that was never written go too
            remove_empty_dirs(made)


def cause(exc: BaseException) -> str:
    """The reason of an error in a few words: the OS's text for an errno, else its first line."""
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno)
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


def unwritable(path: str | os.PathLike, exc: BaseException) -> TwoClocksError:
    return TwoClocksError(f"cannot write {path} ({cause(exc)})")


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


# ----- folders for the files ---------------------------------------------------------------------
def make_dirs(path: str | os.PathLike) -> list[Path]:
    """mkdir -p `path`; returns the folders it created, the deepest last."""
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.exists()][::-1]
    try:
        for p in missing:
            p.mkdir(exist_ok=True)
    except OSError as exc:
        remove_empty_dirs(missing)
        raise TwoClocksError(f"cannot create {path} ({cause(exc)})") from None
    return missing


def remove_empty_dirs(created: list[Path]) -> None:
    """Remove the folders `make_dirs` created, deepest first, as far as they are empty."""
    for p in reversed(created):
        try:
            p.rmdir()
        except OSError:
            return


# ----- writers of each format --------------------------------------------------------------------
def write_text(path: str | os.PathLike, text: str, parents: bool = False) -> None:
    write_bytes(path, text.encode(), parents)


def strict_json(obj: Any, indent: int | None = None) -> str:
    """`obj` as strict JSON: a number that is not finite (an unknown population, a clock never
    reached) is null, never NaN or Infinity, which JSON parsers other than Python's refuse."""
    return json.dumps(finite(obj), indent=indent, allow_nan=False, default=lambda o: finite(_json_default(o)))


def finite(obj: Any) -> Any:
    """`obj` with every float that is not finite replaced by None, through dicts and lists."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def write_json(path: str | os.PathLike, obj: Any, parents: bool = False) -> None:
    """A JSON file, strict (`strict_json`): readable by any JSON parser."""
    write_text(path, strict_json(obj, indent=2) + "\n", parents)


def write_table(path: str | os.PathLike, df: pd.DataFrame, parents: bool = False) -> None:
    """Write a DataFrame as parquet (or CSV when the suffix is .csv), atomically. A column of
    values of several kinds (a config key swept over `auto` and numbers) is written as text,
    which parquet can hold; a missing value stays missing."""
    if Path(path).suffix == ".csv":
        write_text(path, df.to_csv(index=False), parents)
        return
    import pyarrow as pa

    buf = _io.BytesIO()
    try:
        df.to_parquet(buf, index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        buf = _io.BytesIO()
        try:
            as_text(df).to_parquet(buf, index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise TwoClocksError(f"cannot write {path} ({cause(exc)})") from None
    write_bytes(path, buf.getvalue(), parents)


def as_text(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with every object column whose values are of several kinds (number, bool, text,
    other) as text."""

    def kind(v: Any) -> str:
        if isinstance(v, (bool, np.bool_)):
            return "bool"
        return "number" if isinstance(v, (int, float, np.number)) else type(v).__name__

    def missing(v: Any) -> bool:
        return v is None or (isinstance(v, float) and v != v)

    mixed = [c for c in df.columns if df[c].dtype == object and len({kind(v) for v in df[c] if not missing(v)}) > 1]
    return df.assign(**{c: [None if missing(v) else str(v) for v in df[c]] for c in mixed})


def write_npz(path: str | os.PathLike, arrays: dict[str, Any], parents: bool = False) -> None:
    """A compressed npz of named arrays."""
    buf = _io.BytesIO()
    np.savez_compressed(buf, **arrays)
    write_bytes(path, buf.getvalue(), parents)


# The formats matplotlib writes by itself: pgf needs a LaTeX installation, and others a plugin.
FIGURE_FORMATS = ("png", "pdf", "svg", "svgz", "eps", "ps", "jpg", "jpeg", "tif", "tiff", "webp")


def figure_format(path: str | os.PathLike) -> str:
    """The format a figure's file name asks for by its suffix (PNG when it has none); one line
    when it is no file name or no format written here, checked before a figure is drawn."""
    if str(path).endswith(("/", os.sep)):
        raise TwoClocksError(f"{path}: a figure needs a file name, not a folder")
    fmt = Path(path).suffix.lstrip(".").lower() or "png"
    if fmt not in FIGURE_FORMATS:
        known = ", .".join(FIGURE_FORMATS)
        raise TwoClocksError(f"{path}: a figure cannot be written as .{fmt}; name a file ending in one of .{known}")
    return fmt


def write_figure(fig: Any, path: str | os.PathLike, parents: bool = False, **savefig: Any) -> None:
    """A matplotlib figure in the format its suffix names (PNG when it has none)."""
    buf = _io.BytesIO()
    try:
        fig.savefig(buf, format=figure_format(path), **savefig)
    except (RuntimeError, OSError, ValueError) as exc:  # a backend's tool missing, a plugin's error
        raise TwoClocksError(f"cannot draw {path} ({cause(exc)})") from None
    write_bytes(path, buf.getvalue(), parents)


def write_torch(path: str | os.PathLike, obj: Any, parents: bool = False) -> None:
    """A torch.save file (a checkpoint)."""
    import torch

    buf = _io.BytesIO()
    torch.save(obj, buf)
    write_bytes(path, buf.getvalue(), parents)


def stepped_files(folder: Path, suffix: str) -> list[tuple[int, Path]]:
    """[(step, path)] of the files step_XXXXXXXX.SUFFIX in `folder`, sorted by step (other
    names ignored)."""
    found = []
    for p in folder.glob(f"step_*.{suffix}"):
        try:
            found.append((int(p.stem.split("_")[1]), p))
        except (IndexError, ValueError):
            continue
    return sorted(found)


# ----- readers -----------------------------------------------------------------------------------
def read_bytes(path: str | os.PathLike) -> bytes:
    """A file's bytes; missing, unreadable or not a regular file is a one-line TwoClocksError."""
    try:
        with open_regular(path) as fh:
            return fh.read()
    except OSError as exc:
        raise TwoClocksError(f"{path} is unreadable ({cause(exc)})") from None


@contextmanager
def open_regular(path: str | os.PathLike) -> Iterator[IO[bytes]]:
    """`path` opened for reading in binary, refused in one line unless it is a regular file: a
    name in a folder may be a link to a device that never ends (/dev/zero) or a FIFO that never
    answers. Opened without blocking, so that a FIFO is told before anything waits on it."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise TwoClocksError(f"{path} does not exist") from None
    except OSError as exc:
        raise TwoClocksError(f"{path} is unreadable ({cause(exc)})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise TwoClocksError(f"{path} is not a regular file")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as fh:
        yield fh


def read_text(path: str | os.PathLike) -> str:
    try:
        return read_bytes(path).decode()
    except UnicodeDecodeError:
        raise TwoClocksError(f"{path} is unreadable (not UTF-8 text)") from None


def read_json(path: str | os.PathLike) -> Any:
    """A JSON file; missing, unreadable or not JSON is a one-line TwoClocksError naming it."""
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TwoClocksError(f"{path} is corrupt (not valid JSON: {exc.msg} at line {exc.lineno})") from None


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """A parquet table (CSV when the suffix is .csv); damaged is a one-line error naming it."""
    data = read_bytes(path)
    try:
        return pd.read_csv(_io.BytesIO(data)) if Path(path).suffix == ".csv" else pd.read_parquet(_io.BytesIO(data))
    except Exception as exc:  # pyarrow and pandas raise several types for a damaged file
        raise TwoClocksError(f"{path} is unreadable ({cause(exc)})") from None


def npy_declared_bytes(fh: IO[bytes]) -> int:
    """Bytes the array of an .npy stream declares in its header, read without loading it."""
    version = np.lib.format.read_magic(fh)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read(fh)
    return int(np.prod(shape, dtype=object)) * dtype.itemsize


def npz_declared_bytes(archive: zipfile.ZipFile) -> int:
    """Bytes the arrays of an .npz declare in their headers: a small compressed file can declare
    gigabytes, which loading it would allocate. A member that is no .npy array is a ValueError
    (numpy would hand it over as raw bytes, decompressed whole)."""
    total = 0
    for name in archive.namelist():
        if not name.endswith(".npy"):
            raise ValueError(f"it holds {name!r}, which is no array")
        with archive.open(name) as fh:
            total += npy_declared_bytes(fh)
    return total


def read_npz(path: str | os.PathLike, keys: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """The arrays `keys` of an npz file, and those of `optional` it holds (no pickles); a
    damaged file, a missing array of `keys` or arrays larger than the memory left is one line
    naming the file."""
    data = read_bytes(path)
    try:
        with zipfile.ZipFile(_io.BytesIO(data)) as archive:
            declared = npz_declared_bytes(archive)
        memory.check_fits({"its arrays": declared}, memory.available_ram(), f"reading {path}", "this machine")
        with np.load(_io.BytesIO(data), allow_pickle=False) as z:
            missing = [k for k in keys if k not in z.files]
            if missing:
                raise TwoClocksError(f"{path} is not the file expected here (it lacks {missing})")
            return {k: z[k] for k in (*keys, *optional) if k in z.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, MemoryError) as exc:
        raise TwoClocksError(f"{path} is corrupt or truncated ({cause(exc)})") from None


def read_torch(path: str | os.PathLike, map_location: Any = "cpu") -> Any:
    """A torch.save file, tensors and plain containers only (weights_only: no pickled code)."""
    import torch

    data = read_bytes(path)
    try:
        return torch.load(_io.BytesIO(data), map_location=map_location, weights_only=True)
    except Exception as exc:  # truncated zip, bad pickle, wrong file...
        raise TwoClocksError(f"{path} is corrupt or truncated ({cause(exc)[:120]})") from None


def _json_default(obj: Any) -> Any:
    # numpy scalars and arrays show up in metrics; JSON wants plain Python types.
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
