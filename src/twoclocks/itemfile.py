"""A user's own training items: `data.path=FILE`, a .npy array of integer cells (n, H, W), or a
.npz holding one such array (or several, one of them named `cells`, as a run's train_set.npz).

The file is checked when the config is resolved (readable, shaped, and holding at least
`data.N` items; its content hash goes into the config) and against the run's task when the run
is built, before anything is written: the item shape and cell values the task has, items that
are distinct, and every item valid under the task's rule (a rule-breaking item is refused,
with its index, so a run never counts copies of items its own rule calls invalid).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

import twoclocks.core.memory as memory
from twoclocks.core.io import npy_declared_bytes, npz_declared_bytes
from twoclocks.errors import ConfigError, quote
from twoclocks.plugins import file_hash
from twoclocks.tasks.base import Task

SUFFIXES = (".npy", ".npz")
KEY = "cells"  # the array an .npz with several arrays must name so


def read_items(path: Path) -> np.ndarray:
    """Every item of the file as uint8 (n, H, W); any problem is one line naming the file."""
    where = f"data.path {path}"
    if path.suffix not in SUFFIXES:
        raise ConfigError(f"{where}: expected a .npy or .npz file of integer cells (n, H, W)")
    if not path.is_file():
        raise ConfigError(f"{where}: no such file")
    try:
        # Loading holds the arrays and their uint8 copy, which the checks below then walk.
        memory.check_fits(
            {"its arrays": 2 * declared_bytes(path)}, memory.available_ram(), f"loading {where}", "this machine"
        )
        with open(path, "rb") as fh:
            loaded = np.load(fh, allow_pickle=False)
            if isinstance(loaded, np.lib.npyio.NpzFile):
                with loaded:
                    arrays = {k: loaded[k] for k in loaded.files}
                if KEY not in arrays and len(arrays) != 1:
                    raise ConfigError(f"{where}: holds {sorted(arrays)}; name the items' array {quote(KEY)}")
                loaded = arrays.get(KEY, next(iter(arrays.values()), None))
    except ConfigError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ConfigError(
            f"{where}: unreadable ({str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__})"
        ) from None
    return _cells(np.asarray(loaded), where)


def declared_bytes(path: Path) -> int:
    """Bytes the arrays of a .npy or .npz file declare in their headers, read without loading
    them: a small compressed file can declare gigabytes."""
    if path.suffix == ".npy":
        with open(path, "rb") as fh:
            return npy_declared_bytes(fh)
    with zipfile.ZipFile(path) as archive:
        return npz_declared_bytes(archive)


def _cells(items: np.ndarray, where: str) -> np.ndarray:
    if items.ndim != 3 or not len(items):
        raise ConfigError(f"{where}: expected items of shape (n, H, W) with n >= 1, got shape {items.shape}")
    if not (np.issubdtype(items.dtype, np.integer) or items.dtype == bool):
        raise ConfigError(f"{where}: expected integer cells, got dtype {items.dtype}")
    if items.min() < 0 or items.max() > 255:
        raise ConfigError(f"{where}: cell values must lie in [0, 255], got [{items.min()}, {items.max()}]")
    return items.astype(np.uint8)


def describe(path: str) -> tuple[str, str, int]:
    """(absolute path, content hash, number of items) of an items file."""
    if not path.strip():
        raise ConfigError("data.path must not be empty")
    try:
        resolved = Path(path).expanduser().resolve()
        count = len(read_items(resolved))
        return str(resolved), file_hash(resolved), count
    except (ValueError, UnicodeError, RuntimeError) as exc:  # a NUL, a name the file system cannot encode
        raise ConfigError(f"data.path {quote(path)} is not a usable path ({type(exc).__name__})") from None


def training_items(task: Task, path: str, N: int, digest: str | None) -> np.ndarray:
    """The first N items of the file, checked against the task (see the module docstring)."""
    where = f"data.path {path}"
    if digest is not None and file_hash(Path(path)) != digest:
        raise ConfigError(f"{where} changed since the run was configured (its content hash is not {digest})")
    items = read_items(Path(path))
    if N > len(items):
        raise ConfigError(f"data.N={N} but {where} holds only {len(items)} items")
    items = items[:N]
    if items.shape[1:] != task.shape:
        raise ConfigError(f"{where}: items are {items.shape[1]}x{items.shape[2]}, {task.describe()} has {task.shape}")
    if items.max() >= task.num_values:
        raise ConfigError(
            f"{where}: a cell value {items.max()} is not below {task.describe()}'s {task.num_values} values"
        )
    _, counts = np.unique(items.reshape(N, -1), axis=0, return_counts=True)
    if (counts > 1).any():
        raise ConfigError(
            f"{where}: {int((counts - 1).sum())} of the first {N} items repeat earlier ones; give distinct items"
        )
    invalid = np.nonzero(~task.is_valid(items))[0]
    if len(invalid):
        raise ConfigError(
            f"{where}: {len(invalid)} of the first {N} items break the rule of {task.describe()} "
            f"(the first is item {invalid[0]}); a run trains on valid items only"
        )
    return items
