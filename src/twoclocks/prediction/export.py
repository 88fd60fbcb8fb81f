"""Write a reference for `twoclocks predict` from finished sweep directories:

    python -m twoclocks.prediction.export SWEEP_DIR [SWEEP_DIR ...] --name cpu \\
        --command "twoclocks reproduce --scale cpu --out DIR" [--repo /path/to/checkout] [--out DIR]

writes OUT/<name>/ (OUT defaults to the package's reference folder): the finished rows of the
results tables, each run's evaluation curve (step and CURVE_COLUMNS only, no checkpoints or
samples), and provenance.json (code commit, machine, when the runs were made, the command);
then OUT/calibration.json, the intervals' calibration refitted on every reference in OUT
together (`validation.calibrate`, a few minutes). `--calibration-only` rewrites just that.
`--pilots` writes the runs of a task the rule features do not describe (words) to
OUT/pilots/<name>/ instead: the pilot runs `predict` fits with the reference for that task
alone (`reference.shipped_pilots`), so the calibration, fitted without them, stays as it is.
`--upgrade NAME` brings a reference written before format 5 to it: the clocks on `valid` of each
run whose rule's chance validity moves them, read again from its shipped curve
(`upgrade_reference`), the others checked against it.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from twoclocks.clocks import CHANCE, RULE_CLOCKS, ClockConfig, compute_clocks
from twoclocks.core.io import read_json, read_table, write_json, write_table
from twoclocks.core.stats import wilson_interval
from twoclocks.errors import TwoClocksError
from twoclocks.prediction.reference import (
    CALIBRATION,
    CURVE_COLUMNS,
    CURVES,
    PILOTS,
    PROVENANCE,
    REFERENCE_DIR,
    RESULTS,
    reference_counts,
    reference_runs,
    sweep_runs,
)
from twoclocks.prediction.validation import calibrate
from twoclocks.prediction.variables import task_params
from twoclocks.records.formats import FORMAT, FORMAT_KEY, results_format, stale_columns
from twoclocks.sweeps.results import summary_columns
from twoclocks.sweeps.sweepdir import SweepDir
from twoclocks.tasks import TASKS, make_task
from twoclocks.training.rundir import RunDir


def curves_of(table: pd.DataFrame) -> pd.DataFrame:
    """The evaluation curve of every run of `table` (its `source` names the sweep directory)."""
    parts = []
    for _, row in table.iterrows():
        sweep = Path(str(row["source"]).removeprefix("sweep "))
        metrics = RunDir(sweep / str(row["run_dir"])).load_metrics()
        kept = metrics[["step", *(c for c in CURVE_COLUMNS if c in metrics)]].copy()
        kept.insert(0, "point", row["point"])
        parts.append(kept)
    return pd.concat(parts, ignore_index=True)


def git_commit(repo: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def run_dates(table: pd.DataFrame) -> tuple[str, str]:
    """When the first and the last run finished (their summaries' modification times)."""
    times = [
        (Path(str(row["source"]).removeprefix("sweep ")) / str(row["run_dir"]) / RunDir.SUMMARY).stat().st_mtime
        for _, row in table.iterrows()
    ]
    iso = [datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(timespec="seconds") for t in times]
    return min(iso), max(iso)


def provenance_record(table: pd.DataFrame, sweeps: list[str | Path], command: str, repo: Path) -> dict:
    first, last = run_dates(table)
    return {
        "commit": git_commit(repo),
        "command": command,
        "sweeps": [str(s) for s in sweeps],
        "runs": int(len(table)),
        "points_in_sweeps": sum(len((read_json(SweepDir(d).record) or {}).get("points", [])) for d in sweeps),
        "first_run_finished": first,
        "last_run_finished": last,
        "exported": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "node": platform.node(),
            "system": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
        },
        "devices": sorted(map(str, table["device"].dropna().unique())) if "device" in table else [],
    }


def export(sweeps: list[str | Path], name: str, command: str, repo: Path, out: Path) -> Path:
    runs = sweep_runs(sweeps)
    folder = out / name
    curves = curves_of(runs.table)  # every file is read before anything is written
    record = provenance_record(runs.table, sweeps, command, repo)
    table = runs.table.drop(columns=["source"])
    folder.mkdir(parents=True, exist_ok=True)
    write_table(folder / RESULTS, table)
    write_table(folder / CURVES, curves)
    write_json(folder / PROVENANCE, record)
    return folder


def curve_metrics(curve: pd.DataFrame, row: pd.Series, chance: float) -> pd.DataFrame:
    """A run's metrics as its clocks read them, from its shipped curve: each fraction's Wilson band
    from its count (fraction times eval.samples, as the run computed it) and its valid_chance."""
    M, level = int(row["eval.samples"]), float(row["clocks.ci_level"])
    out = curve.sort_values("step").assign(samples=M, **{CHANCE: chance})
    for col in ("valid", "mem", "novel_valid"):
        lo, hi = wilson_interval(np.round(out[col].to_numpy(float) * M), M, level)
        out[f"{col}_lo"], out[f"{col}_hi"] = lo, hi
    return out


def _number(v: object) -> float:
    return np.nan if v is None else float(v)  # type: ignore[arg-type]


def upgraded_row(row: pd.Series, curve: pd.DataFrame, columns: list[str], where: Path) -> dict | None:
    """The `columns` of one run read again from its curve, or None when its rule's chance moves
    none of its clocks. A curve that does not give back its tau_mem and tau_group is an error."""
    rule = TASKS.get(str(row["task"]))
    built = rule is not None and rule.has_rule  # an image task would train its probe: chance 0
    chance = make_task(str(row["task"]), **dict(task_params(row))).valid_chance if built else 0.0
    cfg = ClockConfig(**{f.name: row[f"clocks.{f.name}"] for f in dataclasses.fields(ClockConfig)})
    got = summary_columns(
        compute_clocks(curve_metrics(curve, row, chance), cfg, int(row["train.batch"]), int(row["data.N"]))
    )
    for check in ("tau_mem", "tau_group"):
        if not np.isclose(_number(got[check]), _number(row[check]), equal_nan=True):
            raise TwoClocksError(f"{where}: run {row['point']}'s curve gives {check} {got[check]}, not {row[check]}")
    moves = any(rc.shift(chance, getattr(cfg, rc.theta), int(row["eval.samples"])) for rc in RULE_CLOCKS)
    return {c: got[c] for c in columns} if moves else None


def upgrade_reference(folder: Path) -> int:
    """Bring the reference in `folder` to format 5 from its curves (nothing moves where it is
    already); returns how many runs' clocks moved. Every run is checked before anything is written."""
    table, curves = read_table(folder / RESULTS), read_table(folder / CURVES)
    columns = stale_columns(table, summary_columns({}))
    if not columns:
        return 0
    rows = {
        i: upgraded_row(row, curves[curves["point"] == row["point"]], columns, folder) for i, row in table.iterrows()
    }
    moved = {i: r for i, r in rows.items() if r is not None}
    out = table.copy()
    for i, r in moved.items():
        out.loc[i, columns] = [r[c] for c in columns]
    write_table(folder / RESULTS, out.assign(**{FORMAT_KEY: FORMAT}))
    record = read_json(folder / PROVENANCE) or {}
    note = f"format {results_format(table)} to {FORMAT}: the clocks on valid of {len(moved)} runs read against chance"
    write_json(folder / PROVENANCE, {**record, "upgraded": [*record.get("upgraded", []), note]})
    return len(moved)


def write_calibration(out: Path) -> Path:
    """OUT/calibration.json from the held-out runs of every reference folder in OUT."""
    runs = reference_runs(folder=out)
    record = {**calibrate(runs).to_dict(), "references": reference_counts(runs)}
    write_json(out / CALIBRATION, record)
    return out / CALIBRATION


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m twoclocks.prediction.export", description=__doc__.splitlines()[0])
    ap.add_argument("sweeps", nargs="*", help="finished sweep directories")
    ap.add_argument("--name", help="the reference's name (a folder name)")
    ap.add_argument("--command", help="the command that made the sweeps, for the record")
    ap.add_argument("--calibration-only", action="store_true", help="only refit OUT/calibration.json")
    ap.add_argument("--pilots", action="store_true", help="shipped pilot runs of their task (OUT/pilots/NAME)")
    ap.add_argument("--repo", default=".", help="the checkout the sweeps ran from (its git commit is recorded)")
    ap.add_argument("--out", default=str(REFERENCE_DIR), help="where the reference folder goes")
    ap.add_argument("--upgrade", metavar="NAME", help="bring OUT/NAME to the current format from its curves")
    args = ap.parse_args(argv)
    if not args.calibration_only and not args.upgrade and not (args.sweeps and args.name and args.command):
        ap.error("give SWEEP_DIR ..., --name and --command (or --calibration-only)")
    try:
        out = Path(args.out)
        if args.upgrade:
            print(f"{args.upgrade}: the clocks of {upgrade_reference(out / args.upgrade)} runs moved")
        elif not args.calibration_only:
            into = out / PILOTS if args.pilots else out
            folder = export(list(args.sweeps), args.name, args.command, Path(args.repo), into)
            print(f"{'pilot runs' if args.pilots else 'reference'} {args.name}: {folder}")
        if not args.pilots and not args.upgrade:
            print(f"calibration: {write_calibration(out)}")
    except TwoClocksError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
