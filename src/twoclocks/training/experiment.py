"""Building the pieces of a run from its config, with every check done before any file is
written: task, training set, encoding, model, evaluation schedule. What a run computes with them
at run time (sampling noise, generation, precision) is in `twoclocks.training.numerics`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from twoclocks.config import RunConfig
from twoclocks.data import ItemSets, TrainingIndex, draw_training_set, likelihood_sets
from twoclocks.encoding import Encoding
from twoclocks.errors import ConfigError
from twoclocks.models import build_model
from twoclocks.models.base import GenerativeModel
from twoclocks.tasks import make_task
from twoclocks.tasks.base import Task
from twoclocks.training.tensorboard import check_available as check_tensorboard

# Offsets that give each random stream of a run its own seed (the run seed plus an offset).
SEED_DATA, SEED_INIT, SEED_TRAIN, SEED_NOISE = 0, 1_000_003, 2_000_003, 3_000_017


@dataclass
class Experiment:
    cfg: RunConfig
    task: Task
    encoding: Encoding
    train_cells: np.ndarray  # uint8 (N, H, W)
    index: TrainingIndex
    model: GenerativeModel
    device: torch.device

    @property
    def eval_steps(self) -> list[int]:
        return eval_schedule(self.cfg)

    @cached_property
    def item_sets(self) -> ItemSets:
        """The fixed likelihood item sets of this training set (built on first use)."""
        return likelihood_sets(self.task, self.train_cells, self.index, self.cfg.data_seed)

    def family_metrics(self, model: GenerativeModel) -> dict[str, float]:
        """`model.extra_metrics`, with the item sets when the family uses them."""
        return model.extra_metrics(self.item_sets if model.uses_item_sets else None)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device=cuda but no CUDA device is available")
    return torch.device(name)


def eval_schedule(cfg: RunConfig) -> list[int]:
    """Geometric grid of `eval.points` steps from `eval.first` to `train.steps`, plus the last."""
    first = min(cfg.eval.first, cfg.train.steps)
    grid = np.geomspace(first, cfg.train.steps, num=cfg.eval.points)
    return sorted({int(round(s)) for s in grid} | {cfg.train.steps})


def build_task(cfg: RunConfig) -> Task:
    params = {k: v for k, v in cfg.task.items() if k != "name"}
    return make_task(cfg.task["name"], **params)


def build_experiment(cfg: RunConfig, train_cells: np.ndarray | None = None) -> Experiment:
    """Everything a run needs, deterministically from the config; raises ConfigError early.
    `train_cells` (a saved training set) replaces the draw from the data seed."""
    task = build_task(cfg)
    if cfg.train.tensorboard:
        check_tensorboard()
    encoding = task.encoding(cfg.model.encoding)
    if train_cells is None:
        rng = np.random.default_rng(cfg.data_seed + SEED_DATA)
        train_cells = draw_training_set(task, cfg.data.N, rng)
    device = resolve_device(cfg.train.device)
    # Weight init draws from torch's global RNG: seed it inside a fork so no state leaks out.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed + SEED_INIT)
        model = build_model(cfg.model, encoding, train_cells).to(device)
    return Experiment(cfg, task, encoding, train_cells, TrainingIndex(train_cells, task.num_values), model, device)
