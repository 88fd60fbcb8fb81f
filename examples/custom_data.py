"""Your own data: train on a file of items, with a built-in task as their rule.

    python examples/custom_data.py [OUT_DIR]

Writes 12 images of G = 2 group parity (each pair of neighbouring bits equal) to items.npy,
trains a tiny DiT on the first 8 of them (`data.path=items.npy data.N=8`), and shows that a
file with an item that breaks the rule is refused in one line before anything is written
(docs/extending.md, "Your own data"). About ten seconds on one CPU core.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

import twoclocks as tc
from twoclocks.errors import ConfigError


def parity_items(count: int, seed: int = 7) -> np.ndarray:
    """`count` distinct 6x6 images whose raster pairs of bits are equal, uint8 (count, 6, 6)."""
    rng = np.random.default_rng(seed)
    pairs = rng.permutation(2**18)[:count]  # 18 free bits: one per pair
    bits = (pairs[:, None] >> np.arange(18)) & 1
    return np.repeat(bits, 2, axis=1).reshape(count, 6, 6).astype(np.uint8)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    items = parity_items(12)
    np.save(out / "items.npy", items)
    overrides = {
        "task": "parity",
        "task.G": 2,
        "data.path": str(out / "items.npy"),
        "data.N": 8,  # the first 8 items of the file (without data.N: all of them)
        "model.width": 32,
        "model.depth": 1,
        "model.heads": 2,
        "train.steps": 400,
        "train.lr": 3e-3,
        "eval.points": 8,
        "eval.samples": 64,
    }
    run = tc.run(overrides, out=out / "run", progress=False)
    print(run.text())
    print(f"trained on the file's first 8 items: {np.array_equal(run.train_set, items[:8])}")
    print(f"config.json keeps data.path {run.config.data.path} and its hash {run.config.data.hash}")

    broken = items.copy()
    broken[3, 0, 0] ^= 1  # item 3 now has an odd pair
    np.save(out / "broken.npy", broken)
    try:
        tc.run({**overrides, "data.path": str(out / "broken.npy")}, out=out / "refused", progress=False)
    except ConfigError as exc:
        print(f"refused: {exc}")
    print(f"nothing written for it: {not (out / 'refused').exists()}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
