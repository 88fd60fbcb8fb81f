"""The finished runs a law is fitted on: the reference results shipped with the package, or the
results tables of sweep directories given with `--from`.

A shipped reference is a folder of src/twoclocks/reference/ (written by
`python -m twoclocks.prediction.export`):

    reference/<name>/results.parquet    one row per run, the columns of a sweep's results table
    reference/<name>/curves.parquet     each run's evaluation curve: point, step and CURVE_COLUMNS
    reference/<name>/provenance.json    code version (git commit), machine, date, command, runs
    reference/calibration.json          the intervals' calibration, fitted on every shipped
                                        reference together (`calibration`), with their run counts
    reference/pilots/<name>/...         the same files, of a task the rule features do not
                                        describe (natural data: words): its runs are the pilot
                                        runs of that task (`shipped_pilots`), fitted with the
                                        reference only when that task is predicted, so they
                                        move neither the other tasks' laws nor the calibration

Results tables are read as a sweep's are (`sweeps.results.read_results`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from twoclocks.config import RunConfig, flatten
from twoclocks.core.io import read_json, read_table
from twoclocks.errors import TwoClocksError, quote
from twoclocks.sweeps.results import read_results
from twoclocks.sweeps.sweepdir import SweepDir

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "reference"
PILOTS = "pilots"
PILOT_DIR = REFERENCE_DIR / PILOTS
RESULTS, CURVES, PROVENANCE = SweepDir.RESULTS, "curves.parquet", "provenance.json"
CALIBRATION = "calibration.json"
# What a clock is read from, and what `compare --reference` overlays.
CURVE_COLUMNS = ("valid", "constraint_acc", "mem", "mem_chance", "novel_valid", "loss")


@dataclass(frozen=True)
class Runs:
    """Finished runs and where they came from."""

    table: pd.DataFrame  # results rows with status "finished", a `source` column added
    sources: tuple[str, ...]  # "reference cpu (48 runs, commit 1a2b3c4)", "sweep DIR (12 runs)"

    def describe(self) -> str:
        return f"{len(self.table)} runs: " + "; ".join(self.sources)


def shipped_names(folder: Path = REFERENCE_DIR) -> list[str]:
    """The reference results in `folder` (by default those shipped with this installation)."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / RESULTS).is_file())


def _read(path: Path) -> pd.DataFrame:
    """A table other than a results table (a reference's curves)."""
    if not path.is_file():
        raise TwoClocksError(f"{path.parent}: no {path.name}, not a twoclocks reference directory")
    try:
        return read_table(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise TwoClocksError(f"{path} is unreadable ({first})") from None


# What the laws read of every run besides its config (`variables`): a table without one of
# these cannot be fitted. A later clock's columns may be missing (a table older than the clock):
# that clock is then not predicted (`predict.Laws.fit`).
REQUIRED = ("status", "max_step", "log2_population", "task", "model.family", "tau_rule", "tau_mem")


def _finished(table: pd.DataFrame, source: str) -> pd.DataFrame:
    """The finished runs of a results table, with every run-config column (a column the table
    lacks is a field added after it was written, or one its writer did not keep: at its default)."""
    missing = [c for c in REQUIRED if c not in table]
    if missing:
        raise TwoClocksError(f"{source}: the results table lacks {', '.join(missing)}, which the laws need")
    defaults = {k: v for k, v in flatten(RunConfig().to_dict()).items() if not k.startswith("task")}
    absent = {k: v for k, v in defaults.items() if k not in table and not isinstance(v, (list, dict))}
    return table[table["status"] == "finished"].assign(**absent, source=source).reset_index(drop=True)


def distinct_runs(table: pd.DataFrame) -> pd.DataFrame:
    """Each run once: rows of the same point (its config hash, seed included) given twice, by
    the same sweep named twice or copied into another, are one run."""
    if "point" not in table:
        return table
    return table.drop_duplicates("point").reset_index(drop=True)


def provenance(name: str, folder: Path = REFERENCE_DIR) -> dict:
    path = folder / name / PROVENANCE
    return read_json(path) if path.is_file() else {}


@lru_cache(maxsize=8)
def reference_runs(names: tuple[str, ...] | None = None, folder: Path = REFERENCE_DIR) -> Runs:
    """The shipped reference results (all of them by default), or those of another folder."""
    installed = shipped_names(folder)
    names = tuple(installed) if names is None else tuple(dict.fromkeys(names))
    if not names:
        raise TwoClocksError(f"no reference results are installed ({folder} is empty); fit with --from DIR")
    tables, sources = [], []
    for name in names:
        if name not in installed:
            raise TwoClocksError(f"no reference named {quote(name)}; installed: {', '.join(installed) or 'none'}")
        table = _finished(read_results(folder / name, as_recorded=True), f"reference {name}")
        commit = str(provenance(name, folder).get("commit", "?"))[:10]
        tables.append(table)
        sources.append(f"reference {name} ({len(table)} runs, code {commit})")
    return Runs(distinct_runs(pd.concat(tables, ignore_index=True)), tuple(sources))


def sweep_runs(dirs: Sequence[str | Path]) -> Runs:
    """The finished runs of sweep directories (their results.parquet)."""
    named: dict[Path, str | Path] = {}
    for d in dirs:  # a directory named twice (or by two spellings) is read once
        named.setdefault(Path(d).resolve(), d)
    tables, sources = [], []
    for d in named.values():
        table = _finished(read_results(d, as_recorded=True), f"sweep {d}")
        tables.append(table)
        sources.append(f"sweep {d} ({len(table)} runs)")
    return Runs(distinct_runs(pd.concat(tables, ignore_index=True)), tuple(sources))


def shipped_pilots(task: str) -> Runs | None:
    """The shipped pilot runs of `task` (reference/pilots/), or None where none is shipped."""
    found = [reference_runs((name,), PILOT_DIR) for name in shipped_names(PILOT_DIR)]
    found = [Runs(r.table[(r.table["task"].astype(str) == task).to_numpy()], r.sources) for r in found]
    found = [r for r in found if not r.table.empty]
    if not found:
        return None
    table = distinct_runs(pd.concat([r.table for r in found], ignore_index=True))
    return Runs(table, tuple(f"pilot runs {s.removeprefix('reference ')}" for r in found for s in r.sources))


def reference_curves(name: str, folder: Path = REFERENCE_DIR) -> pd.DataFrame:
    """Every run's evaluation curve of one shipped reference (long format: point, step, ...)."""
    return _read(folder / name / CURVES)


def reference_counts(runs: Runs) -> dict[str, int]:
    """Runs per shipped reference, as a calibration records what it was fitted on."""
    return {str(k).removeprefix("reference "): int(v) for k, v in runs.table["source"].value_counts().items()}


def reference_calibration(runs: Runs) -> dict | None:
    """The shipped calibration, where it was fitted on exactly these reference runs."""
    path = REFERENCE_DIR / CALIBRATION
    if not path.is_file():
        return None
    record = read_json(path)
    return record if record.get("references") == reference_counts(runs) else None
