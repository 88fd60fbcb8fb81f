"""Chaos: kill -9 a run again and again at chosen and random moments (before its first
checkpoint, between evaluations, after its summary), resume it each time, and compare every
output file with an uninterrupted run's: metrics, samples, weights, the summary without its
timings, and the plot."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from cli_process import CliProcess
from conftest import TINY
from twoclocks.config import build_config
from twoclocks.training.rundir import RunDir
from twoclocks.training.runner import start_run

ARGS = TINY + ["eval.points=6"]
TIMINGS = {"train_seconds", "eval_seconds", "wall_seconds", "eval_share"}


def start(run: Path, resume: bool, log: Path, config: list[str]) -> CliProcess:
    args = ["--resume", str(run)] if resume else [*config, "--out", str(run)]
    return CliProcess(["run", *args, "--quiet"], stdout=os.devnull, stderr=log)


def reached(run: Path, moment: str | float, since: float | None, evaluations: int) -> bool:
    """Whether the kill moment has come: a file appeared, or seconds since this process first
    wrote last.pt (so that a random moment falls in training, not in importing torch)."""
    rd = RunDir(run)
    if moment == "config":  # config.json and the training set are written, no checkpoint yet
        return rd.config_path.is_file()
    if moment == "first checkpoint":
        return rd.has_checkpoint()
    if moment == "evaluation":  # this process evaluated once (and kept the samples)
        return len(rd.sample_files()) > evaluations
    if moment == "summary":
        return rd.summary_path.is_file()
    return since is not None and time.perf_counter() - since >= float(moment)


def kill_at(run: Path, moment: str | float, log: Path, config: list[str]) -> str:
    """Start (or resume) the run, kill -9 it at `moment`; returns where it was then."""
    started = time.time_ns()
    proc = start(run, RunDir(run).exists(), log, config)
    since = None
    deadline = time.time() + 120
    last = RunDir(run).last_checkpoint
    evaluations = len(RunDir(run).sample_files())
    while proc.poll() is None and time.time() < deadline:
        if since is None and last.is_file() and last.stat().st_mtime_ns >= started:
            since = time.perf_counter()
        if reached(run, moment, since, evaluations):
            break
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    code = proc.wait()
    assert code in (0, -signal.SIGKILL), f"the run failed on its own: {log.read_text()}"
    rd = RunDir(run)
    if code == 0:
        return "finished"
    return "before the first checkpoint" if not rd.has_checkpoint() else f"{len(rd.sample_files())} evaluations"


def files(run: Path) -> list[str]:
    return sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())


def assert_same_outputs(a: Path, b: Path) -> None:
    assert files(a) == files(b)  # no temporary file left over, no output missing
    ra, rb = RunDir(a), RunDir(b)
    assert ra.load_config() == rb.load_config()
    np.testing.assert_array_equal(ra.load_train_set(), rb.load_train_set())
    timing = ["train_seconds", "eval_seconds"]
    pd.testing.assert_frame_equal(ra.load_metrics().drop(columns=timing), rb.load_metrics().drop(columns=timing))
    sa, sb = (json.loads(r.summary_path.read_text()) for r in (ra, rb))
    assert {k: v for k, v in sa.items() if k not in TIMINGS} == {k: v for k, v in sb.items() if k not in TIMINGS}
    for (step, pa), (_, pb) in zip(ra.sample_files(), rb.sample_files()):
        with np.load(pa) as xa, np.load(pb) as xb:
            assert sorted(xa.files) == sorted(xb.files), step
            for key in xa.files:
                np.testing.assert_array_equal(xa[key], xb[key], err_msg=f"samples at step {step}: {key}")
    last = ((-1, ra.last_checkpoint), (-1, rb.last_checkpoint))
    for (step, pa), (_, pb) in [*zip(ra.snapshots(), rb.snapshots()), last]:
        wa, wb = (torch.load(p, weights_only=True)["model"] for p in (pa, pb))
        assert all(torch.equal(wa[k], wb[k]) for k in wa), f"weights at step {step}"
    assert rb.clocks_plot.stat().st_size > 0


def chaos(tmp_path: Path, moments: list[str | float], config: list[str]) -> list[str]:
    reference, _ = start_run(build_config(config), tmp_path / "reference", progress=False)
    run, log = tmp_path / "killed", tmp_path / "stderr.log"
    where = [kill_at(run, moment, log, config) for moment in moments]
    proc = start(run, True, log, config)
    assert proc.wait(timeout=300) == 0, log.read_text()
    assert_same_outputs(reference, run)
    return where


def test_kill_and_resume_short(tmp_path):
    """Once as soon as config.json exists (before the first checkpoint, mostly), once after an
    evaluation (the slow test kills at many more moments)."""
    where = chaos(tmp_path, ["config", "evaluation"], ARGS)
    assert "finished" not in where, where


@pytest.mark.slow
def test_kill_and_resume_at_many_moments(tmp_path):
    """16 kills of one run (a longer one, so that most land in training), then a last resume."""
    rng = np.random.default_rng(20261130)
    randoms = [round(float(t), 3) for t in rng.uniform(0.0, 0.4, size=12)]  # seconds into training
    moments: list[str | float] = ["config", "first checkpoint", *randoms[:6], "evaluation", *randoms[6:], "summary"]
    # Long enough (50 checkpoint segments) that the kills, each after at least one segment, end
    # before the run does however loaded the machine is.
    where = chaos(tmp_path, moments, TINY + ["train.steps=1000", "eval.points=8"])
    print("killed at:", where)
    assert len(moments) == 16 and sum(w != "finished" for w in where) >= 12, where
