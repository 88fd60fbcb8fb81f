"""Starting, resuming and summarising single runs (used by the CLI and by sweeps)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from twoclocks.clocks import format_clock
from twoclocks.config import RunConfig, from_dict
from twoclocks.errors import ConfigError, TwoClocksError
from twoclocks.experiment import build_experiment
from twoclocks.io import read_json
from twoclocks.trainer import Trainer, load_summary, save_run_inputs


def default_run_name(cfg: RunConfig) -> str:
    """A readable directory name: task, its knob, family, N, seed and a timestamp."""
    from twoclocks.tasks import TASKS
    task = cfg.task["name"]
    knob = TASKS[task].knob
    knob_part = f"-{knob}{cfg.task[knob]}" if knob in cfg.task else ""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"{task}{knob_part}_{cfg.model.family}_N{cfg.data.N}_seed{cfg.seed}_{stamp}"


def check_writable(run_dir: Path) -> None:
    """Fail before any work if the run directory cannot be created and written."""
    parent = run_dir
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"output directory {run_dir} is not writable ({parent} is not a writable directory)")
    if run_dir.exists() and any(run_dir.iterdir()):
        raise ConfigError(f"output directory {run_dir} already exists and is not empty; use --resume {run_dir} "
                          f"to continue it or choose another --out")


def start_run(cfg: RunConfig, out: str | Path | None = None, progress: bool = True) -> tuple[Path, dict]:
    """Validate everything, then create the run directory and train. Returns (dir, summary)."""
    exp = build_experiment(cfg)                     # all config errors surface here
    run_dir = Path(out) if out else Path("runs") / default_run_name(cfg)
    check_writable(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"output directory {run_dir} cannot be created ({exc.strerror})") from None
    save_run_inputs(exp, run_dir)
    trainer = Trainer(exp, run_dir, progress=progress)
    return run_dir, trainer.run()


def resume_run(run_dir: str | Path, progress: bool = True) -> tuple[Path, dict]:
    """Continue a stopped run from checkpoints/last.pt; a finished run just returns its summary."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise TwoClocksError(f"--resume {run_dir}: no config.json there, not a twoclocks run directory")
    summary = load_summary(run_dir)
    if summary is not None and summary.get("status") == "finished":
        return run_dir, summary
    cfg = from_dict(read_json(run_dir / "config.json"))
    exp = build_experiment(cfg)
    trainer = Trainer(exp, run_dir, progress=progress)
    trainer.resume()
    return run_dir, trainer.run()


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
    lines.append(f"wall {summary['wall_seconds']:.0f}s (train {summary['train_seconds']:.0f}s, "
                 f"eval {summary['eval_seconds']:.0f}s = {100 * summary['eval_share']:.0f}%)")
    if run_dir is not None:
        lines.append(f"run directory: {run_dir}")
    return lines
