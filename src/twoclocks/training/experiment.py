"""Building the pieces of a run from its config, with every check done before any file is
written: task, training set, encoding, model, evaluation schedule. What a run computes with them
at run time (sampling noise, generation, precision) is in `twoclocks.training.numerics`.
"""

from __future__ import annotations

import dataclasses
import platform
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import torch

from twoclocks.config import AUTO_PRECISION, RunConfig, TrainConfig, fixed_steps
from twoclocks.data import ItemSets, TrainingIndex, check_training_set_size, draw_training_set, likelihood_sets
from twoclocks.encoding import Encoding
from twoclocks.errors import ConfigError
from twoclocks.evaluate import near_chance
from twoclocks.imagemetrics.evaluation import ImageEvaluation, image_evaluation
from twoclocks.itemfile import training_items
from twoclocks.models.base import GenerativeModel
from twoclocks.tasks.base import Task, with_population
from twoclocks.training import footprint
from twoclocks.training.contract import checked_model, checked_task, probe_model
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
    budget: dict | None = None  # how train.steps=auto was sized (None: the config gave a number)

    @property
    def eval_steps(self) -> list[int]:
        return eval_schedule(self.cfg)

    @cached_property
    def item_sets(self) -> ItemSets:
        """The fixed likelihood item sets of this training set (built on first use)."""
        return likelihood_sets(self.task, self.train_cells, self.index, self.cfg.data_seed)

    @cached_property
    def images(self) -> ImageEvaluation | None:
        """The held-out side of the image metrics, for a run on an image data set (else None)."""
        return image_evaluation(self.task, self.encoding, self.train_cells, self.index, self.cfg.clocks.ci_level)

    def chance_levels(self, metrics: pd.DataFrame) -> dict[str, float]:
        """mem_chance and mem_near_chance of the run's summary: on images those measured on the
        held-out images (the metrics' columns), else the rule's."""
        if self.images is not None:
            return {k: float(metrics[k].iloc[-1]) for k in ("mem_chance", "mem_near_chance")}
        chance = self.task.mem_chance(self.cfg.data.N)
        return {"mem_chance": chance, "mem_near_chance": near_chance(self.task, self.index)}

    def notes(self) -> list[str]:
        """What a reader of this run's metrics must know that they do not show: an unknown
        population, likelihood metrics without held-out items."""
        out = []
        if self.images is not None:
            out.append(
                f"{self.task.describe()} has no rule: valid is its probe's verdict, and each copy "
                f"criterion's chance level is measured on its held-out images"
            )
        elif not self.task.population_known:
            out.append(
                f"the population of {self.task.describe()} is unknown: mem_chance is taken as 0 "
                f"(tau_mem measures mem itself) and the rule reference of likelihood metrics is NaN; "
                f"give data.population=COUNT if you know it"
            )
        out.append(precision_note(self.cfg, self.device))
        if self.model.uses_item_sets and not len(self.item_sets.heldout):
            out.append(
                f"{self.task.describe()} gave no valid items outside the training set: the "
                f"held-out and corrupted likelihood metrics (and their gaps) are NaN"
            )
        return out

    def family_metrics(self, model: GenerativeModel) -> dict[str, float]:
        """`model.extra_metrics`, with the item sets when the family uses them."""
        return model.extra_metrics(self.item_sets if model.uses_item_sets else None)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device=cuda but no CUDA device is available")
    return torch.device(name)


def native_bf16(device: torch.device) -> bool:
    """Whether the device computes in bf16 natively, so that bf16 autocast speeds it up. On an
    x86 CPU that needs AVX-512 BF16 or AMX: without them bf16 is emulated, 6-8x slower than fp32
    (measured: docs/performance.md); a CUDA device says so itself; other CPUs (ARM) are taken
    as native, as nothing measured says otherwise."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type != "cpu" or platform.machine().lower() not in ("x86_64", "amd64"):
        return True
    names = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    probes = [p for p in (getattr(torch.cpu, name, None) for name in names) if p is not None]
    if len(probes) < len(names):  # a torch without the probes: nothing known
        return True
    return any(bool(p()) for p in probes)


def make_optimizer(params, tc: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW with the run's hyper-parameters; the fused kernel (one op for all tensors instead
    of about ten per tensor) where torch has one, which is CPU and CUDA."""
    return torch.optim.AdamW(
        params, lr=tc.lr, betas=(tc.beta1, tc.beta2), weight_decay=tc.weight_decay, fused=device.type in ("cpu", "cuda")
    )


def resolve_precision(cfg: RunConfig, device: torch.device) -> RunConfig:
    """cfg with train.precision=auto replaced by what this device computes fastest: bf16 where it
    is native (`native_bf16`), fp32 elsewhere. The clocks are the same in both (docs/default.md),
    so a sweep point's identity leaves precision out (its neutral value in config.py)."""
    if cfg.train.precision != AUTO_PRECISION:
        return cfg
    precision = "bf16" if native_bf16(device) else "fp32"
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, precision=precision))


def precision_note(cfg: RunConfig, device: torch.device) -> str:
    """The run's first line on its precision: what it computes in, and why."""
    if cfg.train.precision == "bf16" and not native_bf16(device):
        return (
            "train.precision=bf16 on a CPU without bf16 instructions (AVX-512 BF16 or AMX): "
            "each step runs several times slower than with train.precision=fp32 here (6x "
            "measured on an AVX2 CPU); the clocks are the same in both (docs/performance.md)"
        )
    where = f"{device.type} {'with' if native_bf16(device) else 'without'} native bf16"
    return f"precision {cfg.train.precision} ({where})"


def eval_schedule(cfg: RunConfig) -> list[int]:
    """Geometric grid of `eval.points` steps from `eval.first` to `train.steps`, plus the last."""
    steps = fixed_steps(cfg)
    first = min(cfg.eval.first, steps)
    grid = np.geomspace(first, steps, num=cfg.eval.points)
    return sorted({int(round(s)) for s in grid} | {steps})


def build_task(cfg: RunConfig) -> Task:
    """The run's rule, with `data.population` when the config gives one."""
    task = checked_task(cfg.task)
    return task if cfg.data.population is None else with_population(task, cfg.data.population)


def check_training_set(cfg: RunConfig, task: Task) -> None:
    """What `training_set` would refuse, without drawing: N beyond the population, or a
    data.path file that does not fit the task (checked for every sweep point when planned)."""
    check_training_set_size(task, cfg.data.N, drawn=cfg.data.path is None)
    if cfg.data.path is not None:
        training_items(task, cfg.data.path, cfg.data.N, cfg.data.hash)


def training_set(cfg: RunConfig, task: Task) -> np.ndarray:
    """The training items a config names: the first data.N items of data.path, or N distinct
    items drawn from the task with the data seed."""
    if cfg.data.path is not None:
        check_training_set_size(task, cfg.data.N, drawn=False)
        return training_items(task, cfg.data.path, cfg.data.N, cfg.data.hash)
    return draw_training_set(task, cfg.data.N, np.random.default_rng(cfg.data_seed + SEED_DATA))


def build_experiment(cfg: RunConfig, train_cells: np.ndarray | None = None, budget: dict | None = None) -> Experiment:
    """Everything a run needs, deterministically from the config; raises ConfigError early.
    `train_cells` (a saved training set) replaces the config's items; a run directory's own
    set is always the one it continues with (`runner.continue_run`). A run trains for the
    number of steps its config holds: train.steps=auto is resolved where a run starts, and
    `budget` is the record of how (`runner.StepsResolver`); a config that still says auto
    builds (its model, to count parameters or size a group) but cannot be trained."""
    task = build_task(cfg)
    if cfg.train.tensorboard:
        check_tensorboard()
    encoding = task.encoding(cfg.model.encoding)
    device = resolve_device(cfg.train.device)
    cfg = resolve_precision(cfg, device)
    footprint.check_planned(cfg, task, encoding, device)  # before the items are drawn or the model built
    if train_cells is None:
        train_cells = training_set(cfg, task)
    elif len(train_cells) != cfg.data.N or train_cells.shape[1:] != task.shape:
        raise ConfigError(
            f"the given training set is {train_cells.shape}, "
            f"the config asks for data.N={cfg.data.N} items of {task.shape}"
        )
    # Weight init draws from torch's global RNG: seed it inside a fork so no state leaks out.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed + SEED_INIT)
        model = checked_model(cfg.model, encoding, train_cells).to(device)
    footprint.check_built(cfg, model, train_cells, device)
    probe_model(model, cfg.model.family, device)
    index = TrainingIndex(train_cells, task.num_values)
    return Experiment(cfg, task, encoding, train_cells, index, model, device, budget)


def sample_noise(exp: Experiment) -> torch.Tensor:
    """The fixed per-sample noise: drawn once per run from its own seed, reused at every eval."""
    gen = torch.Generator(device=exp.device).manual_seed(exp.cfg.noise_seed + SEED_NOISE)
    return exp.model.make_sample_noise(exp.cfg.eval.samples, gen)
