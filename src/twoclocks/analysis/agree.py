"""Two-model agreement over training (Kadkhodaie et al. 2024): two runs on the disjoint halves
of an image data set (`task.split=A` and `B`), sampled with the same noise, compared sample by
sample at every evaluation both kept samples of. Once both generalise they draw nearly the same
image from the same noise; two models that copy their own halves cannot.

Per step: `agree`, the fraction of paired samples whose cells are identical (Wilson interval),
and `agree_l2`, the mean L2 distance between paired samples in grey levels (bootstrap interval;
the saved samples are quantised, so this is the distance of the cells, not of the models'
continuous outputs). τ_agree is the first held crossing of `agree` >= theta_rule_low (most
paired samples identical), interpolated in log step, with the same crossing of the Wilson
limits as its interval; null when never reached.

The two runs share their seed, so they start from the same weights and draw the same noise:
they agree at the first evaluations because they have learned nothing yet. Agreement counts
from the evaluation where that shared start's agreement is lost (`start_lost`); a pair that
never loses it has τ_agree at its first evaluation, left-censored, which says nothing of
generalisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from twoclocks.config import RunConfig
from twoclocks.core.stats import crossing, erosion, held
from twoclocks.errors import TwoClocksError
from twoclocks.evaluate import load_outcomes
from twoclocks.imagemetrics.agreement import agreement
from twoclocks.tasks.images.sources import intensity
from twoclocks.training.rundir import RunDir

HALVES = {"A", "B"}
SAME = ("model", "eval", "train")  # config sections two paired runs must share


@dataclass
class Agreement:
    table: pd.DataFrame  # step, agree, agree_lo, agree_hi, agree_l2, agree_l2_lo, agree_l2_hi
    theta: float
    tau: float | None  # tau_agree; None when never reached
    ci: list[float | None]  # [early, late]
    max_step: int
    left_censored: bool  # agreement held from the first evaluation and was never lost
    start_lost: float | None  # where the shared start's agreement was lost; None if it never held
    unpaired: list[int]  # steps whose samples only one of the runs kept (skipped)


def regained(steps: np.ndarray, agree: np.ndarray, theta: float) -> tuple[float | None, bool]:
    """(clock, left_censored): the first held crossing of `agree` >= theta after the shared
    start's agreement is lost (from the first evaluation when it never held)."""
    steps, agree = np.asarray(steps, dtype=np.float64), np.asarray(agree, dtype=np.float64)
    lost = held(agree, theta, below=True)
    if lost is None:  # never lost: the crossing is the first evaluation, left-censored
        return crossing(steps, agree, theta)
    return crossing(steps[lost:], agree[lost:], theta)[0], False


def check_pair(a: RunConfig, b: RunConfig, names: tuple[str, str]) -> None:
    """The two configs are the two halves of one data set, sampled with the same noise by the
    same model and training; otherwise one line saying what differs."""
    ta, tb = dict(a.task), dict(b.task)
    if {ta.get("split"), tb.get("split")} != HALVES:
        raise TwoClocksError(
            f"agree compares runs on task.split=A and task.split=B; {names[0]} has "
            f"{ta.get('split')!r} and {names[1]} {tb.get('split')!r}"
        )
    ta.pop("split")
    tb.pop("split")
    if ta != tb:
        raise TwoClocksError(f"{names[0]} and {names[1]} are on different tasks: {ta} and {tb}")
    if a.noise_seed != b.noise_seed:
        seeds = f"seeds {a.noise_seed} and {b.noise_seed}"
        raise TwoClocksError(f"{names[0]} and {names[1]} draw different sampling noise ({seeds})")
    for section in SAME:
        if getattr(a, section) != getattr(b, section):
            raise TwoClocksError(f"{names[0]} and {names[1]} differ in their {section} section")
    if a.data.N != b.data.N:
        raise TwoClocksError(f"{names[0]} and {names[1]} differ in data.N ({a.data.N}, {b.data.N})")


def paired_cells(path: Path, levels: int) -> np.ndarray:
    """uint8 (n, H, W): the cells of a run's samples file, checked to be grey levels."""
    cells = load_outcomes(path).cells
    if cells.size and int(cells.max()) >= levels:
        raise TwoClocksError(f"{path} is corrupt (a cell holds {int(cells.max())}, the task has {levels} grey levels)")
    return cells


def agreement_table(run_a: str | Path, run_b: str | Path) -> Agreement:
    """The agreement of two finished runs at every step both kept samples of."""
    dirs = RunDir(run_a), RunDir(run_b)
    for d in dirs:
        d.load_finished()
    cfg_a, cfg_b = (d.load_config() for d in dirs)
    check_pair(cfg_a, cfg_b, (str(run_a), str(run_b)))
    files_a, files_b = (dict(d.sample_files()) for d in dirs)
    steps = sorted(set(files_a) & set(files_b))
    if not steps:
        raise TwoClocksError(f"{run_a} and {run_b} kept samples of no common evaluation step")
    levels = int(cfg_a.task.get("levels", 2))
    rows = []
    for step in steps:
        a, b = (paired_cells(files[step], levels) for files in (files_a, files_b))
        if a.shape != b.shape:
            raise TwoClocksError(
                f"{files_a[step]} and {files_b[step]} do not pair up: samples of shape {a.shape} and {b.shape}"
            )
        row = agreement(a, b, intensity(a, levels), intensity(b, levels), cfg_a.clocks.ci_level)
        rows.append({"step": step, **row})
    table = pd.DataFrame(rows)
    theta = cfg_a.clocks.theta_rule_low
    at = table["step"].to_numpy()
    tau, left = regained(at, table["agree"].to_numpy(), theta)
    early, _ = regained(at, table["agree_hi"].to_numpy(), theta)
    late, _ = regained(at, table["agree_lo"].to_numpy(), theta)
    agree = table["agree"].to_numpy()
    start_lost = erosion(at, agree, theta) if held(agree, theta) == 0 else None
    unpaired = sorted(set(files_a) ^ set(files_b))
    return Agreement(table, theta, tau, [early, late], int(steps[-1]), left, start_lost, unpaired)
