"""A run directory: the one place that knows its file names, creates it, opens it, loads what it
holds and locks it, with every problem reported as a one-line `TwoClocksError`.

    run/
      config.json        resolved config (the single source for resuming)
      budget.json        how train.steps=auto was sized (only for such a run)
      train_set.npz      the training items (cells, task_hash; source_digest for a task on data files)
      metrics.parquet    one row per evaluation
      summary.json       clocks, timings, versions; status "finished" once the run is done
      checkpoints/       last.pt (full training state), step_XXXXXXXX.pt (weights per evaluation)
      samples/           step_XXXXXXXX.npz (per-sample outcomes per evaluation)
      plots/clocks.png   the two clocks
      plots/samples.png  samples beside their nearest training items (runs on images)
      tensorboard/       live curves (only with train.tensorboard=true)

A run is finished when summary.json says so and every output is in place: summary.json is
written last, and a resumed run restores whatever is missing (`twoclocks.training.runner`).
"""

from __future__ import annotations

import contextlib
import enum
import os
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from twoclocks.config import RunConfig, from_dict, resolve
from twoclocks.core.io import (
    TEMP_SUFFIX,
    make_dirs,
    read_json,
    read_npz,
    read_table,
    remove_empty_dirs,
    stepped_files,
    write_json,
    write_npz,
    write_table,
)
from twoclocks.core.locks import hold_lock, lock_path_beside
from twoclocks.core.paths import check_no_links, check_resolvable
from twoclocks.errors import ConfigError, TwoClocksError
from twoclocks.records.formats import (
    config_record,
    same_point,
    summary_is_current,
    upgrade_summary,
    with_valid_chance,
)
from twoclocks.records.recorded import Recorded, read_config
from twoclocks.records.schema import bad_clock_value, required_keys
from twoclocks.tasks.base import Task
from twoclocks.training.experiment import Experiment
from twoclocks.training.near_copies import lacks_near_copies, with_near_copies


class State(enum.Enum):
    """How far the run in a directory got (RunDir.state), which decides how it is finished."""

    ABSENT = "absent"  # no config.json: no run yet (at most the debris of a start killed before it)
    INPUTS = "inputs only"  # config.json and the training set, no last.pt: start again from them
    CHECKPOINTED = "checkpointed"  # checkpoints/last.pt: resume from it
    FINISHED = "finished"  # summary.json says so and every output is in place: nothing to do


class RunDir:
    """Paths and contents of one run directory (which need not exist yet)."""

    CONFIG = "config.json"
    TRAIN_SET = "train_set.npz"
    SOURCE_DIGEST = "source_digest"  # its key in TRAIN_SET: the digest of the task's data files
    METRICS = "metrics.parquet"
    SUMMARY = "summary.json"
    LAST = "last.pt"
    BUDGET = "budget.json"
    FOLDERS = ("checkpoints", "samples", "plots", "tensorboard")  # the folders a run writes into
    INPUTS = (CONFIG, TRAIN_SET, BUDGET)  # written once when a run starts (`write_inputs`)
    # Every entry a run writes into its directory (what a fresh start may clear).
    ENTRIES = (*INPUTS, METRICS, SUMMARY, *FOLDERS[:3])

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.created: list[Path] = []  # the folders `create` made

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __str__(self) -> str:
        return str(self.path)

    # ----- paths ---------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / self.CONFIG

    @property
    def train_set_path(self) -> Path:
        return self.path / self.TRAIN_SET

    @property
    def metrics_path(self) -> Path:
        return self.path / self.METRICS

    @property
    def summary_path(self) -> Path:
        return self.path / self.SUMMARY

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints_dir / self.LAST

    @property
    def tensorboard_dir(self) -> Path:
        return self.path / "tensorboard"

    @property
    def clocks_plot(self) -> Path:
        return self.path / "plots" / "clocks.png"

    @property
    def samples_plot(self) -> Path:
        """Samples at chosen steps beside their nearest training items (runs on images)."""
        return self.clocks_plot.parent / "samples.png"

    def snapshot(self, step: int) -> Path:
        """Model weights saved at one evaluation step."""
        return self.checkpoints_dir / f"step_{step:08d}.pt"

    def samples_file(self, step: int) -> Path:
        """Per-sample outcomes of one evaluation."""
        return self.path / "samples" / f"step_{step:08d}.npz"

    def snapshots(self) -> list[tuple[int, Path]]:
        """[(step, path)] of the per-evaluation weights, sorted by step."""
        return stepped_files(self.checkpoints_dir, "pt")

    def sample_files(self) -> list[tuple[int, Path]]:
        """[(step, path)] of the per-evaluation sample outcomes, sorted by step."""
        return stepped_files(self.path / "samples", "npz")

    def resume_command(self) -> str:
        """The command line that continues (or restores) this run."""
        return f"twoclocks run --resume {shlex.quote(str(self.path))}"

    # ----- state ---------------------------------------------------------------------------
    def state(self) -> State:
        """What the directory holds, from the furthest a run gets: finished, checkpointed,
        inputs only, absent."""
        if self.finished_summary() is not None:
            return State.FINISHED
        if self.has_checkpoint():
            return State.CHECKPOINTED
        return State.INPUTS if self.exists() else State.ABSENT

    def finishable_state(self, point: RunConfig | None = None) -> State:
        """`state()`, refusing in one line what no finishing can mend: a run of another config
        than `point` (None: whatever the directory holds), or no run at all to continue. A run
        with no last.pt, even one that finished once and lost its outputs, starts again from
        its saved inputs: training is deterministic, so it ends with the same outputs."""
        state = self.state()
        if state is State.ABSENT and point is None:
            raise TwoClocksError(f"{self.path}: no {self.CONFIG} there, not a twoclocks run directory")
        if state in (State.INPUTS, State.CHECKPOINTED) and point is not None:
            if not same_point(self.load_config(), point):
                raise TwoClocksError(f"{self.path} holds a run of another config; move it away")
        return state

    def exists(self) -> bool:
        return self.config_path.is_file()

    def has_checkpoint(self) -> bool:
        return self.last_checkpoint.is_file()

    def finished_summary(self) -> dict | None:
        """The summary of a finished run with every output in place, or None (not finished, or
        an output is missing or unreadable: resuming the run restores it)."""
        try:
            return self.load_finished()[0]
        except TwoClocksError:
            return None

    def load_finished(self) -> tuple[dict, pd.DataFrame]:
        """(summary, metrics) of a finished run whose outputs are all in place; anything else is
        a one-line error that says what is missing."""
        if not self.path.is_dir():
            raise TwoClocksError(f"{self.path}: no such run directory")
        summary = self.load_summary()
        resume = f"`{self.resume_command()}`"
        if summary is None or summary.get("status") != "finished":
            what = f"no {self.SUMMARY}" if summary is None else f"{self.SUMMARY} does not say finished"
            hint = f" (an unfinished run? {resume} continues it)" if self.exists() else ""
            raise TwoClocksError(f"{self.path}: {what}, not a finished twoclocks run directory{hint}")
        missing = [k for k in required_keys() if k not in summary]
        if missing:
            raise TwoClocksError(f"{self.summary_path} is not a twoclocks summary (it lacks {missing})")
        metrics = self.load_metrics()
        if metrics.empty or metrics["step"].iloc[-1] != summary["max_step"]:
            raise TwoClocksError(f"{self.metrics_path} ends before step {summary['max_step']}; {resume} restores it")
        if not self.clocks_plot.is_file():
            raise TwoClocksError(f"{self.clocks_plot} is missing; {resume} draws it")
        if lacks_near_copies(summary, metrics):
            summary, metrics = with_near_copies(self, summary, metrics)
        if not summary_is_current(summary):
            cfg = self.read_config().cfg
            metrics = with_valid_chance(metrics, cfg)
            summary = upgrade_summary(summary, metrics, cfg, str(self.summary_path))
        return summary, metrics

    # ----- creating ------------------------------------------------------------------------
    def check_creatable(self) -> None:
        """Fail before any work if the directory cannot be created and written, or holds files."""
        if str(self.path) in ("", "."):
            raise ConfigError("output directory must not be empty or '.'; name a new directory")
        try:
            check_resolvable(self.path)
        except TwoClocksError as exc:
            raise ConfigError(f"output directory {self.path} cannot be created: {exc}") from None
        parent = self.path
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise ConfigError(f"output directory {self.path} is not writable ({parent} is not a writable directory)")
        if self.path.exists() and any(self.path.iterdir()):
            hint = f"`{self.resume_command()}` continues it, or" if self.exists() else "it is not a run;"
            raise ConfigError(
                f"output directory {self.path} already exists and is not empty; {hint} choose another --out"
            )

    def check_folders(self) -> None:
        """A one-line error when a folder the run writes into is a symbolic link (planted in a
        shared run directory, it would carry a resumed run's writes elsewhere)."""
        check_no_links(self.path, *self.FOLDERS)

    def create(self) -> None:
        """Make the directory (and the folders above it that are missing); `remove_created`
        takes back what this made."""
        self.check_creatable()
        try:
            self.created = make_dirs(self.path)
        except TwoClocksError as exc:
            raise ConfigError(f"output directory {self.path} cannot be created ({exc})") from None

    def remove_created(self) -> None:
        """Undo `create` after a start that trained nothing: the directory's contents, and the
        directory itself and the folders above it when `create` made them."""
        with contextlib.suppress(OSError, TwoClocksError):
            if self.path in self.created:
                shutil.rmtree(self.path)
            else:  # it was there and empty (check_creatable)
                self.clear()
        remove_empty_dirs(self.created)

    def clear(self, keep: tuple[str, ...] = ()) -> None:
        """Remove every entry a run writes but `keep` (and nothing else), to start the run again."""
        self.remove_temp_files()
        for name in self.ENTRIES:
            if name in keep:
                continue
            entry = self.path / name
            try:
                if entry.is_dir():
                    shutil.rmtree(entry)
                elif entry.exists():
                    entry.unlink()
            except OSError as exc:
                raise TwoClocksError(f"cannot remove {entry} ({exc.strerror})") from None

    def remove_temp_files(self) -> None:
        """Temporary files that a killed writer left behind (io.atomic_path's)."""
        for folder in (self.path, self.checkpoints_dir, self.path / "samples", self.clocks_plot.parent):
            for tmp in folder.glob(f".*{TEMP_SUFFIX}"):
                with contextlib.suppress(OSError):
                    tmp.unlink()

    def write_inputs(self, exp: Experiment) -> None:
        """config.json, the training set and budget.json (the prediction that sized
        train.steps=auto; none for a fixed budget), written once when a run starts."""
        write_json(self.config_path, config_record(exp.cfg))
        inputs = {"cells": exp.train_cells, "task_hash": exp.task.content_hash()}
        digest = exp.task.source_digest()
        if digest is not None:
            inputs[self.SOURCE_DIGEST] = np.array(digest)
        write_npz(self.train_set_path, inputs)
        if exp.budget is not None:
            write_json(self.path / self.BUDGET, exp.budget)

    def load_budget(self) -> dict | None:
        path = self.path / self.BUDGET
        return read_json(path) if path.is_file() else None

    def write_metrics(self, df: pd.DataFrame) -> None:
        write_table(self.metrics_path, df)

    def write_summary(self, summary: dict) -> None:
        write_json(self.summary_path, summary)

    # ----- loading -------------------------------------------------------------------------
    def require(self) -> RunDir:
        """This directory, if it is a run directory (has config.json); else a one-line error."""
        check_resolvable(self.path)
        if self.path.exists() and not self.path.is_dir():
            raise TwoClocksError(f"{self.path} is a file, not a run directory (the directory that holds {self.CONFIG})")
        if not self.path.is_dir():
            raise TwoClocksError(f"{self.path}: no such directory")
        if not self.exists():
            raise TwoClocksError(f"{self.path}: no {self.CONFIG} there, not a twoclocks run directory")
        return self

    def load_config(self) -> RunConfig:
        """config.json, resolved and validated as a new run's config would be, its plugins
        imported: for running it (a resumed run); a reader takes `read_config`."""
        recorded = self.read_config()
        try:
            return resolve(from_dict(recorded.sections))
        except ConfigError as exc:
            raise ConfigError(f"{self.config_path}: {exc}") from None

    def read_config(self) -> Recorded:
        """config.json as recorded, checked, with no plugin imported (twoclocks.records.recorded)."""
        return read_config(self.config_path)

    def load_summary(self) -> dict | None:
        """summary.json, or None when the run has not written one yet; a clock no run writes
        (NaN, infinite, text) is a one-line error naming the key: the file is damaged."""
        if not self.summary_path.is_file():
            return None
        data = read_json(self.summary_path)
        if not isinstance(data, dict) or "max_step" not in data or "status" not in data:
            raise TwoClocksError(f"{self.summary_path} is not a twoclocks summary (no max_step or status)")
        bad = bad_clock_value(data)
        if bad is not None:
            raise TwoClocksError(f"{self.summary_path} is damaged: {bad}")
        return data

    def load_metrics(self) -> pd.DataFrame:
        """metrics.parquet, sorted by step."""
        if self.metrics_path.exists() and not self.metrics_path.is_file():
            raise TwoClocksError(f"{self.metrics_path} is not a regular file (a folder, a FIFO or a device)")
        if not self.metrics_path.is_file():
            raise TwoClocksError(
                f"{self.metrics_path} does not exist (an unfinished or damaged run? "
                f"`{self.resume_command()}` continues it or restores the file)"
            )
        df = read_table(self.metrics_path)
        if "step" not in df:
            raise TwoClocksError(f"{self.metrics_path} has no step column, not a twoclocks metrics table")
        return df.sort_values("step").reset_index(drop=True)

    def load_train_set(self) -> np.ndarray:
        """The training items, uint8 (N, H, W)."""
        return read_npz(self.train_set_path, ("cells",))["cells"]

    def check_sources(self, task: Task) -> None:
        """A run that started on data files (`Task.source_digest`) resumes only on the same
        data: its later evaluations read them (an image set's held-out split, the probe)."""
        if not self.train_set_path.is_file():
            return
        saved = read_npz(self.train_set_path, (), (self.SOURCE_DIGEST,)).get(self.SOURCE_DIGEST)
        now = task.source_digest()
        if saved is not None and str(saved) != now:
            raise ConfigError(
                f"{task.describe()}: its data files changed since {self.path} started (digest {now}, "
                f"the run started on {str(saved)}); restore them or start a new run"
            )

    def saved_train_set(self) -> np.ndarray | None:
        """The training items a run started with, or None before it wrote them: what a resumed
        run trains on, whatever gave the items when it started."""
        return self.load_train_set() if self.train_set_path.is_file() else None

    # ----- locking -------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, wait: bool = False) -> Iterator[None]:
        """Hold the directory's lock (`twoclocks.core.locks`): with `wait`, until the other holder is
        done; without, a one-line refusal if another process holds it. The lock file sits beside
        the directory, so that clearing the directory keeps it; it is gone once released, and so
        are the folders above the directory that were made for it and stayed empty."""
        check_resolvable(self.path)
        made = make_dirs(self.path.parent)
        try:
            busy = f"another process is working on {self.path}; wait for it to finish or stop it"
            with hold_lock(lock_path_beside(self.path), busy, wait):
                yield
        finally:
            remove_empty_dirs(made)
