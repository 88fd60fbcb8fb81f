"""The Python front door, for notebooks and scripts; the command line is a thin layer over it.

    import twoclocks as tc
    run = tc.run({"task.G": 3, "data.N": 32, "train.steps": 2000}, out="runs/g3")
    run.summary["tau_rule"], run.metrics[["step", "valid", "mem"]]
    run = tc.load("runs/g3")                 # any run directory, finished or not
    sweep = tc.sweep(grid={"data.N": [16, 32]}, seeds=2, out="sweeps/n")
    tc.load_sweep("sweeps/n").results        # one row per point
    tc.report("sweeps/n"), tc.compare(["runs/a", "runs/b"]), tc.fits("sweeps/n")
    tc.predict({"data.N": 48}).lines()       # the clocks of a config before training it

Every function takes the same dotted overrides as `twoclocks run key=value ...`, validates them
the same way, and raises the same one-line `TwoClocksError` (ConfigError for bad input); each
function checks its own arguments against its annotations first (`api_args.checked`). In a
notebook a Run or a Sweep shows its clocks (and a run its clocks figure) as HTML. Reading a run
or a sweep (everything but `run`, `Run.resume` and `sweep`) never imports the plugin its
config names (`plugins.reads_only`).
"""

from __future__ import annotations

import contextlib
import html
import signal
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from twoclocks.api_args import Overrides, checked, override_dict
from twoclocks.config import RunConfig, apply_overrides, load_yaml
from twoclocks.core.io import figure_format, read_json, read_text
from twoclocks.errors import ConfigError, Interrupted, TwoClocksError, quote
from twoclocks.evaluate import Outcomes, load_outcomes
from twoclocks.plugins import reads_only
from twoclocks.prediction.autobudget import resolve_steps
from twoclocks.prediction.fitted import predict_overrides
from twoclocks.prediction.predict import Prediction
from twoclocks.sweeps.executors import run_sweep
from twoclocks.sweeps.results import read_results
from twoclocks.sweeps.spec import (
    SweepSpec,
    load_recorded_spec,
    load_spec,
    parse_seeds,
    set_options,
    spec_from_args,
)
from twoclocks.sweeps.sweepdir import SweepDir
from twoclocks.training.rundir import RunDir
from twoclocks.training.runner import default_run_name, resume_run, start_run, summary_lines

PathArg = str | Path


@contextlib.contextmanager
def resumable(run_dir: RunDir) -> Iterator[None]:
    """An interrupt (Ctrl-C, SIGTERM) of a run carries the command that resumes it."""
    try:
        yield
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        raise Interrupted(signum, run_dir.resume_command() if run_dir.exists() else None) from None


class Run:
    """One run directory: its config, summary, metrics and per-sample outcomes."""

    @checked
    def __init__(self, path: PathArg):
        self._dir = RunDir(path).require()

    @property
    def path(self) -> Path:
        return self._dir.path

    @reads_only
    def __repr__(self) -> str:
        s = self.summary
        if s is None:
            return f"Run({str(self.path)!r}, unfinished)"
        return f"Run({str(self.path)!r}, tau_rule={s.get('tau_rule')}, tau_mem={s.get('tau_mem')})"

    @reads_only
    def _repr_html_(self) -> str:
        from twoclocks.analysis.notebook import run_html

        return run_html(self._dir)

    @cached_property
    @reads_only
    def config(self) -> RunConfig:
        """config.json as recorded (`twoclocks.records.recorded`), no plugin imported."""
        return self._dir.read_config().cfg

    @property
    @reads_only
    def summary(self) -> dict | None:
        """summary.json (clocks, window, timings), or None while the run is unfinished. A run
        written before near copies were measured has them, from its samples (RunDir.load_finished)."""
        finished = self._dir.finished_summary()
        return finished if finished is not None else self._dir.load_summary()

    @property
    @reads_only
    def finished(self) -> bool:
        return self._dir.finished_summary() is not None

    @property
    @reads_only
    def metrics(self) -> pd.DataFrame:
        """One row per evaluation, sorted by step (docs/protocol.md defines every column); the
        near-copy columns of a finished run written before them come from its samples."""
        try:
            return self._dir.load_finished()[1]
        except TwoClocksError:
            return self._dir.load_metrics()

    @property
    @reads_only
    def train_set(self) -> Any:
        """The training items, uint8 (N, H, W)."""
        return self._dir.load_train_set()

    @property
    @reads_only
    def steps(self) -> list[int]:
        """The evaluation steps whose per-sample outcomes were kept."""
        return [step for step, _ in self._dir.sample_files()]

    @checked
    @reads_only
    def samples(self, step: int | None = None) -> Outcomes:
        """Per-sample outcomes of one evaluation (default: the last): cells (M, H, W), valid,
        constraint_acc, train_match (index of the copied item or -1), nn_hamming."""
        files = dict(self._dir.sample_files())
        if not files:
            raise TwoClocksError(f"{self.path}: no per-sample outcomes kept (eval.keep_samples=false?)")
        step = max(files) if step is None else step
        if step not in files:
            raise TwoClocksError(f"{self.path}: no samples at step {step}; evaluated steps: {sorted(files)}")
        return load_outcomes(files[step])

    @checked
    @reads_only
    def show_samples(self, step: int | None = None, n: int = 16) -> Any:
        """A figure of the first `n` samples of one evaluation (default: the last), each framed
        by its outcome: red copied, green valid and novel, grey invalid."""
        from twoclocks.plots import samples_figure

        if n <= 0:
            raise ConfigError(f"n must be a positive number of samples, got {n}")
        out = self.samples(step)
        shown = slice(0, min(n, len(out.cells)))
        when = max(self.steps) if step is None else step
        title = f"{self.path.name}: samples at step {when:,} ({shown.stop} of {len(out.cells)})"
        return samples_figure(out.cells[shown], out.valid[shown], out.train_match[shown], title)

    @reads_only
    def text(self) -> str:
        """The end-of-run summary as the command line prints it."""
        s = self.summary
        return "unfinished run" if s is None else "\n".join(summary_lines(s, self.path))

    @checked
    @reads_only
    def plot(self, path: PathArg | None = None) -> Any:
        """The clocks figure (a matplotlib Figure); saved to `path` as well when given (its
        folder must exist)."""
        from twoclocks.plots import clocks_figure, save_figure

        if path is not None:
            figure_format(path)
        s = self.summary
        if s is None:
            raise TwoClocksError(f"{self.path}: the run is unfinished; resume it first")
        fig = clocks_figure(self.metrics, s, f"{s.get('model_family')} on {s.get('task')}, N={s.get('N')}")
        if path is not None:
            save_figure(fig, path)
        return fig

    @checked
    def resume(self, progress: bool = True) -> Run:
        """Finish a stopped or killed run from its last checkpoint (a finished run: as is)."""
        with resumable(self._dir):
            resume_run(self.path, progress=progress)
        return self


@checked
def run(
    overrides: Overrides = None, out: PathArg | None = None, progress: bool = True, config: PathArg | None = None
) -> Run:
    """Train one run (the `twoclocks run` of these overrides) and return it."""
    merged = load_yaml(config) if config is not None else {}
    merged.update(override_dict(overrides))
    cfg = apply_overrides(RunConfig(), merged)
    run_dir = RunDir(out if out is not None else Path("runs") / default_run_name(cfg))
    with resumable(run_dir):
        start_run(cfg, run_dir.path, progress=progress, resolve=resolve_steps)
    return Run(run_dir.path)


@checked
def load(path: PathArg) -> Run:
    """The run in a run directory."""
    return Run(path)


@checked
def predict(
    overrides: Overrides = None, config: PathArg | None = None, sweeps: Iterable[PathArg] | None = None
) -> Prediction:
    """The predicted clocks of a config (`twoclocks predict`), from laws fitted on the shipped
    reference results, or on the finished runs of `sweeps` (sweep directories)."""
    merged = load_yaml(config) if config is not None else {}
    merged.update(override_dict(overrides))
    return predict_overrides(merged, None if sweeps is None else list(sweeps))


class Sweep:
    """A sweep directory: its recorded spec, results table and runs."""

    @checked
    def __init__(self, path: PathArg):
        self.path = SweepDir(path).require().path

    @reads_only
    def __repr__(self) -> str:
        return f"Sweep({str(self.path)!r}, {len(self.results)} points)"

    @reads_only
    def _repr_html_(self) -> str:
        from twoclocks.analysis.notebook import sweep_html

        return sweep_html(self.path, self.results)

    @property
    @reads_only
    def results(self) -> pd.DataFrame:
        """One row per point: its config keys, clocks (NaN when censored, with the bound in
        `<clock>_censored_at`), window and status."""
        from twoclocks.analysis.notebook import with_censored_at

        return with_censored_at(read_results(self.path))

    @property
    @reads_only
    def spec(self) -> dict:
        path = SweepDir(self.path).record
        recorded = read_json(path)
        if not isinstance(recorded, dict) or not isinstance(recorded.get("spec"), dict):
            raise TwoClocksError(f"{path} is not a twoclocks sweep record (no spec)")
        return recorded["spec"]

    @reads_only
    def runs(self) -> list[Run]:
        """The finished points' runs, in the results' order."""
        done = self.results[self.results["status"] == "finished"]
        return [Run(self.path / rel) for rel in done["run_dir"]]


@checked
def sweep_spec(
    spec: PathArg | None = None,
    overrides: Overrides = None,
    grid: Mapping[str, Iterable[Any]] | None = None,
    seeds: Any = None,
    out: PathArg | None = None,
    **execution: Any,
) -> tuple[SweepSpec, Path]:
    """The spec and directory of a sweep: a YAML spec file (its grid keys replaced by `grid`'s),
    or base overrides x grid x seeds, or (with `out` alone) the sweep recorded in OUT/sweep.json.
    `execution` sets the spec's execution options (twoclocks.sweeps.spec.options(); None leaves one as it is)."""
    base = override_dict(overrides)
    if spec is not None:
        sweep_spec = load_spec(spec)
        directory = Path(out) if out is not None else Path("sweeps") / Path(spec).stem
    elif base or grid or seeds is not None:
        if out is None:
            raise ConfigError("--out DIR is required for a sweep given without a spec file (out= in Python)")
        sweep_spec, directory = spec_from_args([], [], None), Path(out)
    elif out is not None:
        sweep_spec, directory = load_recorded_spec(out), Path(out)
    else:
        raise ConfigError("give a SPEC.yaml, or a grid and an output directory, or the directory of an earlier sweep")
    sweep_spec.base.update(base)
    if grid:
        extra = {k: list(v) for k, v in grid.items()}
        sweep_spec.grids = [{**g, **extra} for g in (sweep_spec.grids or [{}])]
    if seeds is not None:
        sweep_spec.seeds = parse_seeds(list(seeds) if isinstance(seeds, (list, tuple, range)) else seeds)
    set_options(sweep_spec, execution)
    return sweep_spec, directory


@checked
def sweep(
    spec: PathArg | None = None,
    overrides: Overrides = None,
    grid: Mapping[str, Iterable[Any]] | None = None,
    seeds: Any = None,
    out: PathArg | None = None,
    progress: bool = True,
    retry_failed: bool = False,
    **execution: Any,
) -> Sweep:
    """Run (or continue) a sweep (see `sweep_spec` for the arguments) and return it; failed
    points are recorded in its results with their one-line error."""
    the_spec, directory = sweep_spec(spec, overrides, grid, seeds, out, **execution)
    run_sweep(the_spec, directory, retry_failed=retry_failed, progress=progress, resolve=resolve_steps)
    return Sweep(directory)


@checked
def load_sweep(path: PathArg) -> Sweep:
    """The sweep in a sweep directory."""
    return Sweep(path)


@dataclass
class Report:
    """The report `twoclocks report DIR` writes: DIR/report/index.html and its figures."""

    index: Path

    @property
    def figures(self) -> list[Path]:
        return sorted(self.index.parent.glob("*.png"))

    def html(self) -> str:
        return read_text(self.index)

    def _repr_html_(self) -> str:
        page = html.escape(self.html(), quote=True)
        link = f"<p>report: <code>{html.escape(str(self.index))}</code></p>"
        return f'{link}<iframe srcdoc="{page}" style="width:100%;height:600px;border:1px solid #ddd"></iframe>'


@checked
@reads_only
def report(path: PathArg | Run | Sweep) -> Report:
    """Write the report of a run or sweep directory (figures and one self-contained page)."""
    from twoclocks.analysis.report import build_report

    return Report(build_report(path.path if isinstance(path, (Run, Sweep)) else path))


@checked
@reads_only
def compare(runs: Iterable[PathArg | Run], out: PathArg | None = None, x: str = "step") -> pd.DataFrame:
    """The clocks of finished runs side by side (`twoclocks compare`): one row per run, every
    clock NaN when censored with `<clock>_censored_at` beside it, the windows, the offsets from
    the first run; the overlay figure is written to `out` when given (its folder must exist)."""
    from twoclocks.analysis.notebook import compare_frame

    paths = [r.path if isinstance(r, Run) else r for r in runs]
    bad = [p for p in paths if not isinstance(p, (str, Path))]
    if bad:
        raise ConfigError(f"runs must be run directories (paths or Runs), got {quote(bad[0])}")
    if not paths:
        raise ConfigError("runs must name at least one run directory")
    if x not in ("step", "epoch"):
        raise ConfigError(f"x must be 'step' or 'epoch', got {quote(x)}")
    if out is not None:
        figure_format(out)
    return compare_frame(paths, out, x)


@checked
@reads_only
def fits(sweep: PathArg | Sweep) -> pd.DataFrame:
    """The log-log fits of a sweep's clocks (the report's table): one row per relation and
    slice, slope with its 95% bootstrap CI over seeds; censored clocks excluded and counted."""
    from twoclocks.analysis.notebook import sweep_fits

    the_sweep = sweep if isinstance(sweep, Sweep) else Sweep(sweep)
    return sweep_fits(read_results(the_sweep.path))
