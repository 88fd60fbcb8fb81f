"""Starting, resuming and summarising single runs (used by the CLI and by sweeps)."""

from __future__ import annotations

import time
from pathlib import Path

from twoclocks.clocks import format_clock
from twoclocks.config import RunConfig
from twoclocks.errors import TwoClocksError
from twoclocks.tasks import TASKS
from twoclocks.training.experiment import Experiment, build_experiment
from twoclocks.training.rundir import RunDir
from twoclocks.training.trainer import Trainer


def default_run_name(cfg: RunConfig) -> str:
    """A readable directory name: task, its knob, family, N, seed and a timestamp."""
    task = cfg.task["name"]
    knob = TASKS[task].knob
    knob_part = f"-{knob}{cfg.task[knob]}" if knob in cfg.task else ""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"{task}{knob_part}_{cfg.model.family}_N{cfg.data.N}_seed{cfg.seed}_{stamp}"


def start_run(cfg: RunConfig, out: str | Path | None = None, progress: bool = True) -> tuple[Path, dict]:
    """Validate everything, then create the run directory and train. Returns (dir, summary)."""
    exp = build_experiment(cfg)  # all config errors surface here
    run_dir = RunDir(out if out is not None else Path("runs") / default_run_name(cfg))
    run_dir.check_creatable()
    with run_dir.lock():
        return run_dir.path, train_new(exp, run_dir, progress)


def train_new(exp: Experiment, run_dir: RunDir, progress: bool = True) -> dict:
    """Create `run_dir` for `exp`, write its inputs and train (the caller holds the lock)."""
    trainer = Trainer(exp, run_dir, progress=progress)  # optimizer and noise, before any file
    run_dir.create()
    run_dir.write_inputs(exp.cfg, exp.train_cells, exp.task.content_hash())
    return trainer.run()


def resume_run(run_dir: str | Path, progress: bool = True) -> tuple[Path, dict]:
    """Continue a stopped run from checkpoints/last.pt; a finished run just returns its summary."""
    rd = RunDir(run_dir).require()
    with rd.lock():
        return rd.path, continue_run(rd, progress)


def continue_run(run_dir: RunDir, progress: bool = True) -> dict:
    """Finish the run in `run_dir` (the caller holds the lock): a finished run with every output
    in place returns its summary; one killed before its first checkpoint starts again from its
    saved config (nothing was trained); any other continues from last.pt. A run whose last.pt is
    at the final step only writes its outputs again, which restores any that were lost."""
    summary = run_dir.finished_summary()
    if summary is not None:
        return summary
    exp = build_experiment(run_dir.load_config())
    run_dir.remove_temp_files()
    if not run_dir.has_checkpoint():
        if run_dir.summary_path.exists():  # finished once, so its training state is gone for good
            raise TwoClocksError(
                f"{run_dir}: outputs are missing or unreadable and {run_dir.last_checkpoint} is gone, "
                f"so they cannot be restored; start the run again in a new directory"
            )
        run_dir.clear()
        return train_new(exp, run_dir, progress)
    trainer = Trainer(exp, run_dir, progress=progress)
    trainer.resume()
    return trainer.run()


def summary_lines(summary: dict, run_dir: Path | None = None) -> list[str]:
    """The human-readable end-of-run summary."""
    m = summary["max_step"]
    lines = [
        f"task {summary['task']}  model {summary['model_family']} ({summary['num_params']:,} params)  "
        f"N={summary['N']}  seed={summary['seed']}  mem_chance={summary['mem_chance']:.2e}",
        f"tau_rule = {format_clock(summary['tau_rule'], m)} steps"
        + ("" if summary["tau_rule"] is None else f" ({summary['tau_rule_epochs']:.1f} epochs)"),
        f"tau_mem  = {format_clock(summary['tau_mem'], m)} steps"
        + ("" if summary["tau_mem"] is None else f" ({summary['tau_mem_epochs']:.1f} epochs)"),
    ]
    if summary.get("window_vanished"):
        lines.append("window   = vanished (copying starts no later than the rule is learned)")
    elif summary.get("window_log10") is not None:
        bound = ">= " if summary.get("window_log10_is_lower_bound") else ""
        lines.append(f"window   = {bound}{summary['window_log10']:.2f} decades")
    else:
        lines.append("window   = undefined (neither clock reached)")
    lines.append(f"peak novel_valid = {summary['peak_novel_valid']:.3f} at step {summary['peak_novel_valid_step']}")
    lines.append(
        f"wall {summary['wall_seconds']:.0f}s (train {summary['train_seconds']:.0f}s, "
        f"eval {summary['eval_seconds']:.0f}s = {100 * summary['eval_share']:.0f}%)"
    )
    if run_dir is not None:
        lines.append(f"run directory: {run_dir}")
    return lines
