"""The Python front door, for notebooks and scripts; the command line is a thin layer over it.

    import twoclocks as tc
    run = tc.run({"task.G": 3, "data.N": 32, "train.steps": 2000}, out="runs/g3")
    run.summary["tau_rule"], run.metrics[["step", "valid", "mem"]]
    run = tc.load("runs/g3")                 # any run directory, finished or not
    sweep = tc.sweep(grid={"data.N": [16, 32]}, seeds=2, out="sweeps/n")
    tc.load_sweep("sweeps/n").results        # one row per point

Every function takes the same dotted overrides as `twoclocks run key=value ...`, validates them
the same way, and raises the same one-line `TwoClocksError` (ConfigError for bad input).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from twoclocks.config import RunConfig, apply_overrides, load_yaml, parse_overrides
from twoclocks.errors import ConfigError, TwoClocksError
from twoclocks.evaluate import Outcomes, load_outcomes
from twoclocks.io import read_json
from twoclocks.sweeps.executors import run_sweep
from twoclocks.sweeps.results import read_results
from twoclocks.sweeps.spec import (
    SweepSpec,
    check_exec_options,
    load_recorded_spec,
    load_spec,
    parse_seeds,
)
from twoclocks.training.rundir import RunDir
from twoclocks.training.runner import resume_run, start_run, summary_lines

Overrides = Mapping[str, Any] | Iterable[str] | None


def override_dict(overrides: Overrides) -> dict[str, Any]:
    """A dict {"task.G": 3} as it is, or the command line's ["task.G=3"] words parsed (YAML)."""
    if overrides is None:
        return {}
    if isinstance(overrides, str):
        raise ConfigError(f"overrides must be a dict or a list of key=value strings, got the string {overrides!r}")
    if isinstance(overrides, Mapping):
        bad_keys = [k for k in overrides if not isinstance(k, str)]
        if bad_keys:
            raise ConfigError(f"override keys must be dotted strings such as 'task.G', got {bad_keys[0]!r}")
        return dict(overrides)
    words = list(overrides)
    bad = [w for w in words if not isinstance(w, str)]
    if bad:
        raise ConfigError(f"overrides must be key=value strings, got {bad[0]!r}")
    return parse_overrides(words)


class Run:
    """One run directory: its config, summary, metrics and per-sample outcomes."""

    def __init__(self, path: str | Path):
        self.dir = RunDir(path).require()

    @property
    def path(self) -> Path:
        return self.dir.path

    def __repr__(self) -> str:
        s = self.summary
        if s is None:
            return f"Run({str(self.path)!r}, unfinished)"
        return f"Run({str(self.path)!r}, tau_rule={s.get('tau_rule')}, tau_mem={s.get('tau_mem')})"

    @cached_property
    def config(self) -> RunConfig:
        return self.dir.load_config()

    @property
    def summary(self) -> dict | None:
        """summary.json (clocks, window, timings), or None while the run is unfinished. A run
        written before near copies were measured has them, from its samples (RunDir.load_finished)."""
        finished = self.dir.finished_summary()
        return finished if finished is not None else self.dir.load_summary()

    @property
    def finished(self) -> bool:
        return self.dir.finished_summary() is not None

    @property
    def metrics(self) -> pd.DataFrame:
        """One row per evaluation, sorted by step (docs/protocol.md defines every column); the
        near-copy columns of a finished run written before them come from its samples."""
        try:
            return self.dir.load_finished()[1]
        except TwoClocksError:
            return self.dir.load_metrics()

    @property
    def train_set(self) -> Any:
        """The training items, uint8 (N, H, W)."""
        return self.dir.load_train_set()

    @property
    def steps(self) -> list[int]:
        """The evaluation steps whose per-sample outcomes were kept."""
        return [step for step, _ in self.dir.sample_files()]

    def samples(self, step: int | None = None) -> Outcomes:
        """Per-sample outcomes of one evaluation (default: the last): cells (M, H, W), valid,
        constraint_acc, train_match (index of the copied item or -1), nn_hamming."""
        files = dict(self.dir.sample_files())
        if not files:
            raise TwoClocksError(f"{self.path}: no per-sample outcomes kept (eval.keep_samples=false?)")
        step = max(files) if step is None else step
        if step not in files:
            raise TwoClocksError(f"{self.path}: no samples at step {step}; evaluated steps: {sorted(files)}")
        return load_outcomes(files[step])

    def text(self) -> str:
        """The end-of-run summary as the command line prints it."""
        s = self.summary
        return "unfinished run" if s is None else "\n".join(summary_lines(s, self.path))

    def plot(self, path: str | Path | None = None) -> Any:
        """The clocks figure (a matplotlib Figure); saved to `path` as well when given."""
        from twoclocks.plots import clocks_figure, save_figure

        s = self.summary
        if s is None:
            raise TwoClocksError(f"{self.path}: the run is unfinished; resume it first")
        fig = clocks_figure(self.metrics, s, f"{s.get('model_family')} on {s.get('task')}, N={s.get('N')}")
        if path is not None:
            save_figure(fig, path)
        return fig

    def resume(self, progress: bool = True) -> Run:
        """Finish a stopped or killed run from its last checkpoint (a finished run: as is)."""
        resume_run(self.path, progress=progress)
        return self


def run(
    overrides: Overrides = None, out: str | Path | None = None, progress: bool = True, config: str | Path | None = None
) -> Run:
    """Train one run (the `twoclocks run` of these overrides) and return it."""
    merged = load_yaml(config) if config is not None else {}
    merged.update(override_dict(overrides))
    run_dir, _ = start_run(apply_overrides(RunConfig(), merged), out, progress=progress)
    return Run(run_dir)


def load(path: str | Path) -> Run:
    """The run in a run directory."""
    return Run(path)


class Sweep:
    """A sweep directory: its recorded spec, results table and runs."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not (self.path / "sweep.json").is_file():
            raise TwoClocksError(f"{self.path}: no sweep.json, not a twoclocks sweep directory")

    def __repr__(self) -> str:
        return f"Sweep({str(self.path)!r}, {len(self.results)} points)"

    @property
    def results(self) -> pd.DataFrame:
        """One row per point: its config keys, clocks, window and status."""
        return read_results(self.path)

    @property
    def spec(self) -> dict:
        return read_json(self.path / "sweep.json")["spec"]

    def runs(self) -> list[Run]:
        """The finished points' runs, in the results' order."""
        done = self.results[self.results["status"] == "finished"]
        return [Run(self.path / rel) for rel in done["run_dir"]]


def sweep_spec(
    spec: str | Path | None = None,
    overrides: Overrides = None,
    grid: Mapping[str, Iterable[Any]] | None = None,
    seeds: Any = None,
    out: str | Path | None = None,
    **execution: Any,
) -> tuple[SweepSpec, Path]:
    """The spec and directory of a sweep: a YAML spec file (its grid keys replaced by `grid`'s),
    or base overrides x grid x seeds, or (with `out` alone) the sweep recorded in OUT/sweep.json.
    `execution` sets the spec's execution keys: executor, workers, threads, address,
    gpus_per_run, group, group_size, gpus_per_group (None values are left as they are)."""
    base = override_dict(overrides)
    if spec is not None:
        sweep_spec = load_spec(spec)
        directory = Path(out) if out is not None else Path("sweeps") / Path(spec).stem
    elif base or grid or seeds is not None:
        if out is None:
            raise ConfigError("--out DIR is required for a sweep given without a spec file (out= in Python)")
        sweep_spec, directory = SweepSpec(), Path(out)
    elif out is not None:
        sweep_spec, directory = load_recorded_spec(out), Path(out)
    else:
        raise ConfigError("give a SPEC.yaml, or a grid and an output directory, or the directory of an earlier sweep")
    sweep_spec.base.update(base)
    if grid:
        extra = {k: list(v) for k, v in grid.items()}
        sweep_spec.grids = [{**g, **extra} for g in (sweep_spec.grids or [{}])]
    if seeds is not None:
        sweep_spec.seeds = parse_seeds(seeds if isinstance(seeds, (int, str)) else list(seeds))
    known = {"executor", "workers", "threads", "address", "gpus_per_run", "group", "group_size", "gpus_per_group"}
    for key, value in execution.items():
        if key not in known:
            raise ConfigError(f"unknown sweep option {key!r}; choose from {sorted(known)}")
        if value is not None:
            setattr(sweep_spec, key, value)
    check_exec_options(sweep_spec)
    return sweep_spec, directory


def sweep(
    spec: str | Path | None = None,
    overrides: Overrides = None,
    grid: Mapping[str, Iterable[Any]] | None = None,
    seeds: Any = None,
    out: str | Path | None = None,
    progress: bool = True,
    retry_failed: bool = False,
    **execution: Any,
) -> Sweep:
    """Run (or continue) a sweep (see `sweep_spec` for the arguments) and return it; failed
    points are recorded in its results with their one-line error."""
    the_spec, directory = sweep_spec(spec, overrides, grid, seeds, out, **execution)
    run_sweep(the_spec, directory, retry_failed=retry_failed, progress=progress)
    return Sweep(directory)


def load_sweep(path: str | Path) -> Sweep:
    """The sweep in a sweep directory."""
    return Sweep(path)
