"""The Python API in a few lines: train a small run, load it back, read its clocks and curves.

    python examples/quickstart.py [OUT_DIR]

A tiny DiT learns G=2 group parity on 4 training images and then starts copying them
(about ten seconds on one CPU core).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import twoclocks as tc


def main(out: Path) -> None:
    run = tc.run(
        {
            "model.width": 32,
            "model.depth": 1,
            "model.heads": 2,
            "data.N": 4,
            "train.steps": 1500,
            "train.lr": 3e-3,
            "eval.points": 12,
            "eval.samples": 64,
        },
        out=out / "parity-g2",
        progress=False,
    )
    again = tc.load(run.path)  # what a notebook does with an earlier run's directory
    s = again.summary
    print(again.text())
    print(f"tau_rule = {s['tau_rule']}, tau_mem = {s['tau_mem']} (from {again.path}/summary.json)")
    print(again.metrics[["step", "valid", "mem", "novel_valid"]].to_string(index=False))
    last = again.samples()  # per-sample outcomes of the last evaluation
    print(f"last evaluation: {last.valid.mean():.2f} valid, {(last.train_match >= 0).mean():.2f} copies")
    again.plot(out / "clocks.png")
    print(f"figure: {out / 'clocks.png'}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
