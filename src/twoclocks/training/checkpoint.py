"""Checkpoints: full training state for resuming, and per-evaluation model weights.

`last.pt` holds everything a resumed run needs to continue bit-for-bit: model, optimizer,
EMA, step, the training RNG state, the metric rows so far and the running loss sums. Every
file is written atomically, so a kill at any moment leaves either the old or the new file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from twoclocks.core.io import read_torch, write_torch
from twoclocks.errors import CheckpointError, TwoClocksError


def save(path: str | Path, state: dict[str, Any]) -> None:
    """Write a checkpoint (its folder, checkpoints/ of a run, is created when missing)."""
    write_torch(path, state, parents=True)


def load(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint, turning any failure into a one-line CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        state = read_torch(path, map_location)
    except TwoClocksError as exc:
        raise CheckpointError(f"checkpoint {exc}") from None
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"checkpoint {path} is not a twoclocks checkpoint (no model state)")
    return state
