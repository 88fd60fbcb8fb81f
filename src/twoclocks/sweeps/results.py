"""The results table of a sweep: results.parquet, one row per finished (or failed) point --
its flattened config (execution fields at their neutral value), the clocks, windows and timings
of its summary.json, its status, hash and run directory. Rows follow the spec's order, not the
order the points finished in, so two executions of the same points compare equal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from twoclocks.clocks import PEAK_CURVES, RULE_CLOCKS, compute_clocks
from twoclocks.config import flatten
from twoclocks.errors import TwoClocksError
from twoclocks.formats import FORMAT, FORMAT_KEY
from twoclocks.formats import with_rule_clocks as upgrade
from twoclocks.io import read_table
from twoclocks.sweeps.spec import Point, identity_dict
from twoclocks.training.rundir import RunDir

# Columns of results.parquet that differ between two executions of the same points.
TIMING_COLUMNS = ("train_seconds", "eval_seconds", "wall_seconds", "eval_share", "device")

SUMMARY_COLUMNS = (
    "max_step",
    "tau_rule",
    "tau_rule_censored",
    "tau_rule_left_censored",
    "tau_rule_epochs",
    "tau_mem",
    "tau_mem_censored",
    "tau_mem_left_censored",
    "tau_mem_epochs",
    "tau_mem_high",
    "tau_mem_high_censored",
    "window_log10",
    "window_log10_is_lower_bound",
    "window_vanished",
    "peak_novel_valid_step",
    "peak_novel_valid",
    "train_seconds",
    "eval_seconds",
    "wall_seconds",
    "eval_share",
    "num_params",
    "log2_population",
    "mem_chance",
    "device",
    "stop_at",
    "stopped_step",
    "stop_reason",
)
# The rule clocks beyond tau_rule (RULE_CLOCKS), erosion and the peaks, after the columns above.
RULE_CLOCK_COLUMNS = tuple(
    dict.fromkeys(k for rc in RULE_CLOCKS for k in rc.scalar_keys() if k not in SUMMARY_COLUMNS)
) + tuple(f"peak_{c}{e}" for c in PEAK_CURVES for e in ("_step", ""))
INTERVAL_COLUMNS = ("tau_rule_ci", "tau_mem_ci") + tuple(
    k for rc in RULE_CLOCKS for k in rc.interval_keys() if k != "tau_rule_ci"
)


def summary_columns(s: dict) -> dict[str, Any]:
    """The results.parquet columns that come from a run's summary (clocks, windows, timings):
    SUMMARY_COLUMNS, every interval as a `_lo`/`_hi` pair, then RULE_CLOCK_COLUMNS."""
    row: dict[str, Any] = {key: s.get(key) for key in SUMMARY_COLUMNS}
    for key in INTERVAL_COLUMNS:
        lo, hi = s.get(key) or [None, None]
        row[f"{key}_lo"], row[f"{key}_hi"] = lo, hi
    row.update({key: s.get(key) for key in RULE_CLOCK_COLUMNS})
    return row


def result_row(point: Point, summary: dict | None, status: str, error: str | None = None) -> dict:
    """One row of results.parquet: flattened config, clocks, status, hash and run_dir."""
    row: dict[str, Any] = dict(flatten(identity_dict(point.cfg)))
    row.update(summary_columns(summary or {}))
    cfg = point.cfg
    row["epochs"] = cfg.train.steps * cfg.train.batch / cfg.data.N
    row.update({"status": status, "error": error, "point": point.hash, "name": point.name, "run_dir": point.rel_dir})
    row[FORMAT_KEY] = FORMAT
    return row


def results_frame(points: list[Point], rows: dict[str, dict]) -> pd.DataFrame:
    """Rows in the spec's order (not completion order), so two executions compare equal."""
    return pd.DataFrame([rows[p.hash] for p in points if p.hash in rows])


def read_results(sweep_dir: str | Path) -> pd.DataFrame:
    path = Path(sweep_dir) / "results.parquet"
    if not path.is_file():
        raise TwoClocksError(f"{sweep_dir}: no results.parquet, not a twoclocks sweep directory")
    return read_table(path)


def run_columns(run_dir: Path) -> dict[str, Any]:
    """The summary columns of a finished run, its clocks recomputed from metrics.parquet and
    config.json (compute_clocks, the same function a run uses)."""
    rd = RunDir(run_dir)
    cfg = rd.load_config()
    return summary_columns(compute_clocks(rd.load_metrics(), cfg.clocks, cfg.train.batch, cfg.data.N))


def with_rule_clocks(results: pd.DataFrame, root: str | Path | None) -> tuple[pd.DataFrame, str]:
    """`results` with every rule clock's columns, and a note ('' when nothing was missing): a
    table older than the later rule clocks gets them from its runs (twoclocks.formats)."""
    later = [c for c in summary_columns({}) if c not in SUMMARY_COLUMNS]
    return upgrade(results, root, later, run_columns)
