"""Shared fixtures: tiny, fast configs and a CLI runner."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from twoclocks.clocks import RULE_CLOCKS, window

# Two workers on a 2-core CI machine: keep torch to one thread per test process.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# A config that trains in seconds on one CPU thread (tiny DiT, few evaluations).
TINY = [
    "model.width=32",
    "model.depth=1",
    "model.heads=2",
    "train.steps=60",
    "eval.points=4",
    "eval.samples=64",
    "data.N=8",
    "train.checkpoint_every=20",
    "train.threads=1",
]


@pytest.fixture
def tiny_overrides() -> list[str]:
    return list(TINY)


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `python -m twoclocks.cli ...` in a subprocess (as a user would)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "twoclocks.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=env,
    )


def add_rule_clocks(df: pd.DataFrame, factors: dict[str, float]) -> pd.DataFrame:
    """A results table with tau_rule_low and tau_group at tau_rule times a factor (uncensored)
    and their windows."""
    df = df.copy()
    for rc in RULE_CLOCKS[1:]:
        tau = df["tau_rule"] * factors[rc.tau]
        wins = [window(t, None if pd.isna(m) else m, int(s)) for t, m, s in zip(tau, df["tau_mem"], df["max_step"])]
        df[rc.tau], df[f"{rc.tau}_censored"], df[f"{rc.tau}_left_censored"] = tau, False, False
        for key in ("window_log10", "window_log10_is_lower_bound", "window_vanished"):
            df[rc.key(key)] = [w[key] for w in wins]
    return df


def kill_after_evaluations(args: list[str], run_dir: Path, evaluations: int = 3, timeout: float = 120) -> None:
    """Start `twoclocks run ARGS --out RUN_DIR` in a subprocess and kill -9 it once it has
    written `evaluations` sample files (a kill in the middle of training)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "twoclocks.cli", "run", *args, "--out", str(run_dir), "--quiet"],
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + timeout
    while time.time() < deadline and len(list((run_dir / "samples").glob("*.npz"))) < evaluations:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@contextlib.contextmanager
def crash_at_step(monkeypatch: pytest.MonkeyPatch, driver_class: type, step: int = 37) -> Iterator[None]:
    """Within the block, `driver_class.train_step` raises at `step` (a crash in the middle of
    training); the block must end in that crash. The real step is back afterwards."""
    original = driver_class.train_step

    def crashing(self):
        if self.step == step:
            raise RuntimeError("simulated crash")
        original(self)

    monkeypatch.setattr(driver_class, "train_step", crashing)
    try:
        with pytest.raises(RuntimeError, match="simulated crash"):
            yield
    finally:
        monkeypatch.setattr(driver_class, "train_step", original)
