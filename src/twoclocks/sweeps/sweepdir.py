"""A sweep directory: the one place that knows its file names, as `training.rundir.RunDir`
knows a run's.

    sweep/
      sweep.json        the spec (base overrides, grids, seeds), how it was executed, its points
      .sweep.lock       held by the one driver while it runs (the OS drops it if the driver dies)
      results.parquet   one row per finished (or failed) point: flattened config + clocks
      failures.json     {hash: {name, run_dir, error}} for points whose run raised an error
      runs/<name>/      one run directory per point (RunDir)
      claims.json       the verdicts `twoclocks reproduce` judged; claims.csv, one row per claim
      report/           index.html and its figures (`twoclocks report`; a run's report too)

Only the driver writes results.parquet and failures.json, atomically, after every point.
"""

from __future__ import annotations

import os
from pathlib import Path

from twoclocks.errors import TwoClocksError


class SweepDir:
    """Paths of one sweep directory (which need not exist yet)."""

    RECORD = "sweep.json"
    LOCK = ".sweep.lock"
    RESULTS = "results.parquet"
    FAILURES = "failures.json"
    RUNS = "runs"
    CLAIMS = "claims.json"
    CLAIMS_TABLE = "claims.csv"
    REPORT = "report"

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"SweepDir({str(self.path)!r})"

    @property
    def record(self) -> Path:
        return self.path / self.RECORD

    @property
    def lock(self) -> Path:
        return self.path / self.LOCK

    @property
    def results(self) -> Path:
        return self.path / self.RESULTS

    @property
    def failures(self) -> Path:
        return self.path / self.FAILURES

    @property
    def claims(self) -> Path:
        return self.path / self.CLAIMS

    @property
    def claims_table(self) -> Path:
        return self.path / self.CLAIMS_TABLE

    @property
    def report(self) -> Path:
        return self.path / self.REPORT

    @classmethod
    def run_dir(cls, name: str) -> str:
        """A point's run directory, relative to the sweep directory (results.parquet's run_dir)."""
        return f"{cls.RUNS}/{name}"

    def require(self) -> SweepDir:
        """This directory, if it holds a sweep's record; else a one-line error."""
        if self.path.is_file():
            raise TwoClocksError(
                f"{self.path} is a file, not a sweep directory (the directory that holds {self.RECORD})"
            )
        if not self.record.is_file():
            raise TwoClocksError(f"{self.path}: no {self.RECORD}, not a twoclocks sweep directory")
        return self
