"""Your own rule: a task class defined in this file, trained on, swept over two seeds with two
worker processes, and resumed after its run was killed.

    python examples/custom_rule.py [OUT_DIR]

The rule: every row of a 4x4 binary image has even parity. Registered by name here
(`task=row_parity`), the class is kept in config.json by this file's path (with its content
hash), so sweep workers and a resumed run in another process load it by themselves; naming it
`task=path/to/custom_rule.py:RowParity` does the same without registering (docs/extending.md).
Tiny on purpose: about half a minute on one CPU core, most of it starting the two workers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import twoclocks as tc
from twoclocks.tasks import register
from twoclocks.tasks.base import Task


@dataclass
class RowParityParams:
    n: int = 4  # image side


@register
class RowParity(Task):
    """Every row has an even number of ones."""

    name = "row_parity"
    kind = "binary"
    knob = "n"
    Params = RowParityParams

    @property
    def shape(self) -> tuple[int, int]:
        return (self.params.n, self.params.n)

    @property
    def log2_population(self) -> float:
        return float(self.params.n * (self.params.n - 1))  # n - 1 free bits per row

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        free = rng.integers(0, 2, size=(n, self.params.n, self.params.n - 1), dtype=np.uint8)
        last = (free.sum(axis=2) % 2).astype(np.uint8)
        return np.concatenate([free, last[..., None]], axis=2)

    def constraints(self, cells: np.ndarray) -> np.ndarray:
        return np.asarray(cells).sum(axis=2) % 2 == 0  # (n, rows)


TINY = {
    "task": "row_parity",
    "model.width": 32,
    "model.depth": 1,
    "model.heads": 2,
    "data.N": 4,
    "train.steps": 160,
    "train.lr": 3e-3,
    "train.checkpoint_every": 40,
    "train.threads": 1,
    "eval.points": 6,
    "eval.samples": 64,
}


def kill_midway(out: Path) -> None:
    """`twoclocks run` of the same rule in another process, killed (SIGKILL) once it has
    evaluated twice: an interruption to resume from."""
    words = [f"task={__file__}:RowParity", *(f"{k}={v}" for k, v in TINY.items() if k != "task")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "twoclocks.cli", "run", *words, "--out", str(out), "--quiet"],
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    while proc.poll() is None and len(list((out / "samples").glob("*.npz"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def main(out: Path) -> None:
    run = tc.run(TINY, out=out / "run", progress=False)
    print(run.text())
    print(f"config.json names the rule {run.config.task['name']!r}")

    sweep = tc.sweep(overrides=TINY, seeds=2, out=out / "sweep", workers=2, progress=False)
    print(sweep.results[["seed", "status", "tau_rule", "tau_mem"]].to_string(index=False))

    kill_midway(out / "killed")
    killed = tc.load(out / "killed")
    print(f"killed after {len(killed.metrics)} of {len(run.metrics)} evaluations; resuming")
    timings = ["train_seconds", "eval_seconds"]
    same = killed.resume(progress=False).metrics.drop(columns=timings).equals(run.metrics.drop(columns=timings))
    print(f"same metrics as the uninterrupted run: {same}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
