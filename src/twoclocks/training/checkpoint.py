"""Checkpoints: full training state for resuming, and per-evaluation model weights.

`last.pt` holds everything a resumed run needs to continue bit-for-bit: model, optimizer,
EMA, step, the training RNG state, the metric rows so far and the running loss sums. Every
file is written atomically, so a kill at any moment leaves either the old or the new file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from twoclocks.errors import CheckpointError
from twoclocks.io import atomic_path


def save(path: str | Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint, turning any failure into a one-line CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # truncated zip, bad pickle, wrong file...
        first = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({first})") from None
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"checkpoint {path} is not a twoclocks checkpoint (no model state)")
    return state
