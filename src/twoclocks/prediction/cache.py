"""Fitted laws kept between calls, so that a prediction after the first reads them instead of
fitting them again (the fit, with its bootstrap, takes tens of seconds of CPU; reading takes
milliseconds).

A record is a JSON file {"key": KEY, "laws": {clock: Law.to_dict()}, "calibration": ...}. KEY is
the content hash of everything the fit depends on: the rows of the fitted runs (every column),
where they came from, the source of this package's modules (the forms, the likelihood, the
variables) and the versions of numpy and scipy. A record whose key differs is not read, so an
edited law, a refitted reference or a sweep with one more finished run is fitted again, never
answered from a stale fit. Where the records live:

    the shipped reference   the user's cache directory (XDG_CACHE_HOME or ~/.cache, /twoclocks)
    --from DIR              DIR/predict_cache.json, beside the sweep's results (the user's cache
                            directory where DIR cannot be written, or for several directories)

A record that cannot be read or does not have this shape counts as absent (the laws are fitted
again); one that cannot be written is left unwritten: the cache only ever saves time.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

from twoclocks.core.io import read_json, write_text
from twoclocks.errors import TwoClocksError
from twoclocks.prediction.reference import Runs

SWEEP_CACHE = "predict_cache.json"  # beside a sweep's results.parquet


def user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "twoclocks"


@lru_cache(maxsize=1)
def code_digest() -> str:
    """The source of the prediction package and the numeric libraries' versions: what a fit of
    the same runs depends on besides the runs."""
    h = hashlib.sha256(f"numpy {version('numpy')} scipy {version('scipy')}".encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def runs_key(runs: Runs, purpose: str) -> str:
    """The content hash of a fit of `runs` (`purpose` tells fits of the same runs apart)."""
    table = runs.table.reindex(sorted(runs.table.columns), axis=1)
    rows = table.to_json(orient="split", index=False, default_handler=str, double_precision=15)
    h = hashlib.sha256(code_digest().encode())
    h.update(json.dumps([purpose, list(runs.sources)]).encode())
    h.update(rows.encode())
    return h.hexdigest()


def read_record(path: Path, key: str) -> dict | None:
    """The record at `path` if it is one of `key` (module docstring), else None."""
    try:
        record = read_json(path) if path.is_file() else None
    except Exception:  # unreadable or not JSON: fitted again
        return None
    if not isinstance(record, dict) or record.get("key") != key or not isinstance(record.get("laws"), dict):
        return None
    return record


def write_record(path: Path, record: dict) -> bool:
    """Write the record (atomically); False where the place cannot be written."""
    try:
        write_text(path, json.dumps(record, separators=(",", ":"), allow_nan=False), parents=True)
    except (OSError, ValueError, TwoClocksError):  # a read-only sweep or home directory: optional
        return False
    return True


def cached(runs: Runs, purpose: str, fit: Callable[[], dict], sweep: Path | None = None) -> dict:
    """The record of `purpose` for `runs` (module docstring): read from the sweep directory
    `sweep` or the user's cache directory, whichever holds it; else `fit()` (the record less its
    key), written beside the sweep or, where that fails, in the user's cache."""
    key = runs_key(runs, purpose)
    user = user_cache_dir() / f"{purpose}-{key[:24]}.json"
    beside = [] if sweep is None else [sweep / SWEEP_CACHE]
    for place in [*beside, user]:
        record = read_record(place, key)
        if record is not None:
            return record
    record = {"key": key, **fit()}
    for place in [*beside, user]:
        if write_record(place, record):
            break
    prune(user.parent, purpose)
    return record


KEEP = 8  # records of one purpose kept in the user's cache: each edit of a law or a sweep adds one


def prune(folder: Path, purpose: str, keep: int = KEEP) -> None:
    """Remove all but the `keep` newest records of `purpose` from the user's cache directory
    (older package versions and sweeps long changed leave theirs behind)."""
    try:
        records = sorted(folder.glob(f"{purpose}-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in records[keep:]:
            old.unlink(missing_ok=True)
    except OSError:  # a cache that cannot be listed or changed: it only ever saves time
        pass
