"""Shared fixtures: tiny, fast configs and a CLI runner."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cli_process
from twoclocks.clocks import RULE_CLOCKS, window
from twoclocks.core.io import write_table

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


# Fewer steps and evaluations than TINY, for tests that run a command many times over.
SMALL = [
    "model.width=32",
    "model.depth=1",
    "model.heads=2",
    "train.steps=20",
    "eval.points=2",
    "eval.samples=16",
    "data.N=8",
    "train.checkpoint_every=10",
    "train.threads=1",
]


# TINY, long enough to be killed after its second evaluation (step 17, past the checkpoint of
# step 10) and well before its end.
KILLABLE = [*TINY, "train.steps=150", "eval.points=6", "train.checkpoint_every=10"]


@pytest.fixture
def tiny_overrides() -> list[str]:
    return list(TINY)


def digest(root: Path) -> dict[str, str]:
    """sha256 of every file under root, by relative path."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@contextlib.contextmanager
def unchanged(root: Path) -> Iterator[Path]:
    """Yields root; afterwards, fails if any file under it was added, removed or changed."""
    before = digest(root)
    yield root
    assert digest(root) == before, f"a test changed the shared {root}: copy it with copy_run instead"


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Iterator[Path]:
    """A finished run of TINY (written under umask 022), made once per test process and shared
    by the tests that only read a run: a test that changes a run works on `copy_run` of it."""
    from twoclocks.config import build_config
    from twoclocks.training.runner import start_run

    old = os.umask(0o022)
    try:
        run_dir, _ = start_run(build_config(TINY), tmp_path_factory.mktemp("tiny") / "run", progress=False)
    finally:
        os.umask(old)
    with unchanged(run_dir):
        yield run_dir


@pytest.fixture(scope="session")
def small_sweep(tmp_path_factory) -> Iterator[Path]:
    """A finished sweep of SMALL over data.N = 4, 8 (in this process), made once per test
    process and shared by the tests that only read a sweep: copy it to change it."""
    from twoclocks import cli

    out = tmp_path_factory.mktemp("small") / "sweep"
    assert cli.main(["sweep", *SMALL, "--grid", "data.N=4,8", "--workers", "1", "--out", str(out), "--quiet"]) == 0
    with unchanged(out):
        yield out


def copy_run(src: Path, dst: Path) -> Path:
    """A copy of a run or sweep directory at `dst` (its parents made), to change freely."""
    return Path(shutil.copytree(src, dst))


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """`twoclocks ARGS` in a process of its own (as a user would run it), forked from a warm
    interpreter (`cli_process`)."""
    return cli_process.run(list(args), cwd=cwd, timeout=timeout)


TIMING = ["train_seconds", "eval_seconds"]  # metrics columns that differ between two executions


def run_metrics(run_dir: Path) -> pd.DataFrame:
    """A run's metrics.parquet without its timing columns: what two executions share."""
    return pd.read_parquet(run_dir / "metrics.parquet").drop(columns=TIMING)


def each_bad_input_is_one_line(tmp_path: Path, monkeypatch, capsys, cases: list[tuple[list[str], str]]) -> None:
    """`twoclocks run TINY WORDS` for each (words, message) of `cases`, each in a fresh working
    folder: exit 1, one line on stderr holding the message, no traceback, nothing written."""
    from twoclocks import cli

    for i, (words, message) in enumerate(cases):
        cwd = tmp_path / str(i)
        cwd.mkdir()
        monkeypatch.chdir(cwd)
        code = cli.main(["run", *TINY, *words, "--out", str(cwd / "r"), "--quiet"])
        err = capsys.readouterr().err.strip()
        assert code == 1 and len(err.splitlines()) == 1 and message in err, (words, err)
        assert "Traceback" not in err and not any(cwd.iterdir()), (words, list(cwd.iterdir()))


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
    """Start `twoclocks run ARGS --out RUN_DIR` in a process of its own and kill -9 it once it
    has written `evaluations` sample files (a kill in the middle of training)."""
    words = ["run", *args, "--out", str(run_dir), "--quiet"]
    proc = cli_process.CliProcess(words, stdout=os.devnull, stderr=os.devnull)
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


def fake_curves(tau_rule: float, tau_mem: float, steps: np.ndarray) -> pd.DataFrame:
    """Logistic valid / mem curves in log step that cross 0.9 and 0.1 near the given clocks."""
    ls = np.log(steps)
    valid = 1 / (1 + np.exp(-4 * (ls - np.log(tau_rule)) - np.log(9)))
    mem = 1 / (1 + np.exp(-4 * (ls - np.log(tau_mem)) + np.log(9)))
    df = pd.DataFrame({"step": steps, "valid": valid, "mem": mem, "novel_valid": valid * (1 - mem), "mem_chance": 1e-4})
    for c in ("valid", "mem", "novel_valid"):
        df[f"{c}_lo"], df[f"{c}_hi"] = df[c] * 0.9, np.minimum(1, df[c] * 1.1)
    return df


@pytest.fixture
def sweep_dir(tmp_path) -> Path:
    """results.parquet + run directories for dit, gpt and mdm over (G, N), one vanished window."""
    root = tmp_path / "sweep"
    rows = []
    steps = np.unique(np.geomspace(10, 20000, 16).round().astype(int))
    for fam in ("dit", "gpt", "mdm"):
        for G in (2, 3):
            for N in (8, 16, 32):
                for seed in (0, 1):
                    tr = 100 * G**2 * (1.1 if seed else 1.0)
                    tm = 40 * N * (1.05 if seed else 1.0)
                    censored = N == 32 and G == 3  # tau_mem later than the last step
                    name = f"parity-G{G}_{fam}_N{N}_seed{seed}-{fam[:2]}{G}{N}{seed:04d}"
                    write_table(root / "runs" / name / "metrics.parquet", fake_curves(tr, tm, steps), parents=True)
                    w = None if censored else max(0.0, np.log10(tm / tr))
                    rows.append(
                        {
                            "task": "parity",
                            "task.G": G,
                            "data.N": N,
                            "model.family": fam,
                            "seed": seed,
                            "status": "finished",
                            "error": None,
                            "name": name,
                            "run_dir": f"runs/{name}",
                            "max_step": 20000,
                            "tau_rule": tr,
                            "tau_rule_censored": False,
                            "tau_rule_left_censored": False,
                            "tau_rule_epochs": tr * 64 / N,
                            "tau_mem": None if censored else tm,
                            "tau_mem_censored": censored,
                            "tau_mem_left_censored": False,
                            "tau_mem_epochs": None if censored else tm * 64 / N,
                            "window_log10": w if w is not None else np.log10(20000 / tr),
                            "window_log10_is_lower_bound": censored,
                            "window_vanished": (not censored) and tm <= tr,
                            "wall_seconds": 1.0,
                        }
                    )
    write_table(root / "results.parquet", pd.DataFrame(rows))
    return root
