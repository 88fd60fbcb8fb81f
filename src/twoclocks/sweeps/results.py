"""The results table of a sweep: results.parquet, one row per finished (or failed) point --
its flattened config (execution fields at their neutral value), the clocks, windows and timings
of its summary.json, its status, hash and run directory. Rows follow the spec's order, not the
order the points finished in, so two executions of the same points compare equal.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from twoclocks.clocks import (
    GEN_CLOCKS,
    MEM,
    MEM_CLOCKS,
    NOVEL_PEAK,
    PEAK_CURVES,
    PRIMARY,
    RULE_CLOCKS,
    compute_clocks,
    peak_keys,
)
from twoclocks.config import flatten
from twoclocks.core.io import read_table
from twoclocks.errors import ReadNote, TwoClocksError
from twoclocks.records.formats import FORMAT, FORMAT_KEY, stale_columns, with_valid_chance
from twoclocks.records.formats import with_later_clocks as upgrade
from twoclocks.records.schema import RUN_KEYS
from twoclocks.sweeps.spec import Point, identity_dict
from twoclocks.sweeps.sweepdir import SweepDir

# Columns of results.parquet that differ between two executions of the same points.
TIMING_COLUMNS = tuple(k.name for k in RUN_KEYS if k.timing)

# A results table's columns: FIRST_COLUMNS (every results table has had them), each interval
# as a `_lo`/`_hi` pair, then the columns of the clocks and peaks added later.
FIRST_COLUMNS = (
    "max_step",
    *(PRIMARY.tau + s for s in ("", "_censored", "_left_censored", "_epochs")),
    *(k for mc in MEM_CLOCKS if mc.first for k in mc.scalar_columns()),
    *PRIMARY.window_columns(),
    *peak_keys(NOVEL_PEAK),
    *(k.name for k in RUN_KEYS if k.column),
)


def interval_columns() -> list[str]:
    """The interval keys, each a `_lo`/`_hi` column pair: those of the first tables first."""
    first = [PRIMARY.interval_keys()[0], *MEM.interval_keys()]
    later = [k for rc in RULE_CLOCKS for k in rc.interval_keys()] + [k for mc in MEM_CLOCKS for k in mc.interval_keys()]
    later += [k for gc in GEN_CLOCKS for k in gc.interval_keys()]
    return first + [k for k in dict.fromkeys(later) if k not in first]


def later_columns() -> list[str]:
    """The scalar columns added after the first tables: every rule clock's, the peaks of
    PEAK_CURVES, the memorisation clocks', then the generalisation clocks' of runs on images."""
    rules = [k for rc in RULE_CLOCKS for k in rc.scalar_keys()]
    peaks = [k for c in PEAK_CURVES for k in peak_keys(c)]
    mems = [k for mc in MEM_CLOCKS for k in mc.scalar_columns()]
    gens = [k for gc in GEN_CLOCKS for k in gc.scalar_keys()]  # runs on images alone
    return [k for k in dict.fromkeys(rules + peaks + mems + gens) if k not in FIRST_COLUMNS]


def summary_columns(s: dict) -> dict[str, Any]:
    """The results.parquet columns that come from a run's summary (clocks, windows, timings):
    FIRST_COLUMNS, every interval as a `_lo`/`_hi` pair, then later_columns()."""
    row: dict[str, Any] = {key: s.get(key) for key in FIRST_COLUMNS}
    for key in interval_columns():
        lo, hi = s.get(key) or [None, None]
        row[f"{key}_lo"], row[f"{key}_hi"] = lo, hi
    row.update({key: s.get(key) for key in later_columns()})
    if row.get("log2_population") is None:  # an unknown population, null in summary.json
        row["log2_population"] = math.nan
    return row


def result_row(point: Point, summary: dict | None, status: str, error: str | None = None) -> dict:
    """One row of results.parquet: flattened config, clocks, status, hash and run_dir."""
    row: dict[str, Any] = dict(flatten(identity_dict(point.cfg)))
    row.update(summary_columns(summary or {}))
    cfg = point.cfg
    steps = (summary or {}).get("steps", cfg.train.steps)  # train.steps=auto: what the run was given
    row["epochs"] = steps * cfg.train.batch / cfg.data.N if isinstance(steps, (int, float)) else None
    row.update({"status": status, "error": error, "point": point.hash, "name": point.name, "run_dir": point.rel_dir})
    row[FORMAT_KEY] = FORMAT
    return row


def results_frame(points: list[Point], rows: dict[str, dict]) -> pd.DataFrame:
    """Rows in the spec's order (not completion order), so two executions compare equal."""
    return pd.DataFrame([rows[p.hash] for p in points if p.hash in rows])


def read_results(sweep_dir: str | Path, as_recorded: bool = False) -> pd.DataFrame:
    """The results table of a sweep directory (or of a shipped reference, which keeps one), in
    the current format: a table older than some clock gets its columns from its runs
    (`with_later_clocks`; a note says when its runs cannot give them). A folder without run
    directories (a shipped reference keeps its table alone) and `as_recorded` (prediction, which
    reads what the table recorded, never the trainer that recomputing needs) read it as it is."""
    folder = SweepDir(sweep_dir)
    if not folder.results.is_file():
        raise TwoClocksError(f"{sweep_dir}: no {folder.results.name}, not a twoclocks sweep directory")
    table = read_table(folder.results)
    if as_recorded or not (folder.path / SweepDir.RUNS).is_dir():
        return table
    current, note = with_later_clocks(table, folder.path)
    if current is table and note:  # older, and its runs could not give the later clocks
        warnings.warn(f"{sweep_dir}: {note}", ReadNote, stacklevel=2)
    return current


def run_columns(run_dir: Path) -> dict[str, Any]:
    """The summary columns of a finished run, its clocks recomputed from metrics.parquet and
    config.json (compute_clocks, the same function a run uses)."""
    from twoclocks.training.near_copies import with_near_copies  # torch: only to recompute from a run's files
    from twoclocks.training.rundir import RunDir

    rd = RunDir(run_dir)
    cfg = rd.read_config().cfg
    _, metrics = with_near_copies(rd, rd.load_summary() or {}, rd.load_metrics())  # near copies from samples/
    metrics = with_valid_chance(metrics, cfg)
    return summary_columns(compute_clocks(metrics, cfg.clocks, cfg.train.batch, cfg.data.N))


def with_later_clocks(results: pd.DataFrame, root: str | Path | None) -> tuple[pd.DataFrame, str]:
    """`results` with every clock's columns, and a note ('' when nothing was missing): a table
    older than the later rule clocks or the near-copy clock gets them from its runs, and those
    an older version measured differently are read again (twoclocks.records.formats)."""
    columns = list(summary_columns({}))
    later = [c for c in columns if c not in FIRST_COLUMNS]
    stale = stale_columns(results, columns)
    return upgrade(results, root, list(dict.fromkeys(later + stale)), run_columns, stale=stale)
