"""A few of a run's samples as text, for a rule whose items read as text (Task.as_text): the
novel valid items and the copies of one evaluation, read from its saved samples/ file. The
evaluation is the first at or after tau_mem, where copying has begun and the novel items are
those the model still makes; the last one when tau_mem was not reached."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twoclocks.errors import TwoClocksError
from twoclocks.evaluate import load_outcomes
from twoclocks.tasks import task_class
from twoclocks.tasks.base import Task
from twoclocks.training.contract import checked_task
from twoclocks.training.rundir import RunDir

SHOWN = 8  # distinct items of each kind a summary shows


@dataclass(frozen=True)
class ShownSamples:
    step: int
    at: str  # "tau_mem" or "the last evaluation"
    novel: list[str]  # the first SHOWN distinct novel valid items, in sample order
    novel_distinct: int  # how many distinct novel valid items the evaluation made
    copies: list[str]  # the first SHOWN distinct copied training items
    copies_distinct: int


def first_distinct(texts: list[str]) -> list[str]:
    return list(dict.fromkeys(texts))


def shown_samples(summary: dict, run_dir: Path) -> ShownSamples | None:
    """The samples to show for a finished run; None when its task has no text form, its task
    cannot be loaded here, or it kept no samples."""
    task_section = summary.get("config", {}).get("task", {})
    try:
        if task_class(task_section.get("name", "")).as_text is Task.as_text:
            return None
        task = checked_task(task_section)
    except TwoClocksError:
        return None
    files = dict(RunDir(run_dir).sample_files())
    if not files:
        return None
    tau = summary.get("tau_mem")
    later = [s for s in files if tau is not None and s >= tau]
    step = min(later) if later else max(files)
    out = load_outcomes(files[step])
    texts = np.asarray(task.as_text(out.cells) or [], dtype=object)
    if len(texts) != len(out.cells):
        return None
    novel = first_distinct(list(texts[out.valid & (out.train_match < 0)]))
    copies = first_distinct(list(texts[out.train_match >= 0]))
    at = "tau_mem" if later else "the last evaluation"
    return ShownSamples(step, at, novel[:SHOWN], len(novel), copies[:SHOWN], len(copies))


def sample_lines(summary: dict, run_dir: Path) -> list[str]:
    """The summary's lines of samples as text ([] when there are none to show); a samples file
    that cannot be read is said in its line."""
    try:
        shown = shown_samples(summary, run_dir)
    except TwoClocksError as exc:
        return [f"samples: {exc}"]
    if shown is None:
        return []
    return [
        f"samples at step {shown.step:,} ({shown.at}):",
        f"  novel valid ({shown.novel_distinct} distinct): {', '.join(shown.novel) or '-'}",
        f"  copies ({shown.copies_distinct} distinct): {', '.join(shown.copies) or '-'}",
    ]
