"""Live curves for long runs (`train.tensorboard=true` or `twoclocks run --tensorboard`): each
evaluation's metrics (`run/<name>`, `ema/<name>`) and every training step's loss
(`train/loss`) as TensorBoard scalars in RUN_DIR/tensorboard/.

Optional: needs `pip install -e .[tensorboard]`; the run checks for it before writing anything.
A resumed run purges the events after its checkpoint's step, so a curve never shows the steps
of the interrupted session twice.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any

from twoclocks.errors import ConfigError

# Columns that are not curves of the run (bookkeeping) are left out of the scalars.
SKIP = ("step", "samples")


def check_available() -> None:
    if importlib.util.find_spec("tensorboard") is None:
        raise ConfigError("train.tensorboard=true needs TensorBoard: pip install -e '.[tensorboard]'")


class ScalarLog:
    """A TensorBoard writer for one run directory, opened at the run's current step."""

    def __init__(self, folder: Path, step: int):
        check_available()
        from torch.utils.tensorboard import SummaryWriter

        # The checkpoint at `step` already holds the evaluation at `step`: purge only later ones.
        self.writer: Any = SummaryWriter(log_dir=str(folder), purge_step=step + 1 if step > 0 else None)

    def log(self, row: dict) -> None:
        """Every finite numeric value of an evaluation row, at its step (group/name for ema_)."""
        step = int(row["step"])
        for key, value in row.items():
            if key in SKIP or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if math.isfinite(value):
                tag = f"ema/{key.removeprefix('ema_')}" if key.startswith("ema_") else f"run/{key}"
                self.writer.add_scalar(tag, float(value), global_step=step)
        self.writer.flush()

    def log_steps(self, tag: str, first: int, values: list[float]) -> None:
        """values[i] at step first + i (written with the next flush)."""
        for i, value in enumerate(values):
            self.writer.add_scalar(tag, value, global_step=first + i)

    def close(self) -> None:
        self.writer.close()
