"""Building the pieces of a run from its config, with every check done before any file is
written: task, training set, encoding, model, evaluation schedule, fixed sampling noise.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from twoclocks.config import RunConfig
from twoclocks.data import TrainingIndex, draw_training_set
from twoclocks.encoding import Encoding
from twoclocks.errors import ConfigError
from twoclocks.item_sets import ItemSets, likelihood_sets
from twoclocks.models import build_model
from twoclocks.models.base import GenerativeModel
from twoclocks.tasks import make_task
from twoclocks.tasks.base import Task

# Offsets that give each random stream of a run its own seed (the run seed plus an offset).
SEED_DATA, SEED_INIT, SEED_TRAIN, SEED_NOISE = 0, 1_000_003, 2_000_003, 3_000_017


@dataclass
class Experiment:
    cfg: RunConfig
    task: Task
    encoding: Encoding
    train_cells: np.ndarray     # uint8 (N, H, W)
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


def sample_noise(exp: Experiment) -> torch.Tensor:
    """The fixed per-sample noise: drawn once per run from its own seed, reused at every eval."""
    gen = torch.Generator(device=exp.device).manual_seed(exp.cfg.noise_seed + SEED_NOISE)
    return exp.model.make_sample_noise(exp.cfg.eval.samples, gen)


def precision_context(device: torch.device, precision: str) -> contextlib.ExitStack:
    """The numeric context of training steps and generation: nothing for fp32; for bf16,
    autocast and, on the CPU, the math SDPA kernel, which this torch build runs about 2x faster
    than its fused CPU kernels in bf16 (the GPT's training step: docs/performance.md)."""
    stack = contextlib.ExitStack()
    if precision == "bf16":
        stack.enter_context(torch.autocast(device.type, dtype=torch.bfloat16))
        if device.type == "cpu":
            stack.enter_context(sdpa_kernel(SDPBackend.MATH))
    return stack


CPU_GENERATION_CHUNK = 128  # samples per chunk on a CPU (eval.batch = 0): docs/performance.md


def generation_chunk(batch: int, num: int, device: torch.device) -> int:
    """Samples per generation chunk: `batch` if positive; else (auto) CPU_GENERATION_CHUNK on a
    CPU, where smaller chunks keep their activations in cache, and all `num` on an accelerator."""
    if batch > 0:
        return batch
    return CPU_GENERATION_CHUNK if device.type == "cpu" else max(num, 1)


def generate(model: GenerativeModel, noise: torch.Tensor, batch: int, precision: str = "fp32") -> np.ndarray:
    """Generate from fixed noise in chunks of `batch` samples (0 = auto, `generation_chunk`);
    returns uint8 cells (M, H, W).

    In bf16 the network runs from a bf16 copy of the weights, so that neither they nor the
    activations are cast back and forth at every op (a quarter faster than autocast alone on
    CPU, with the same agreement with fp32 samples: docs/performance.md).
    """
    was_training = model.training
    model.eval()
    net = copy.deepcopy(model).to(torch.bfloat16) if precision == "bf16" else model
    out = []
    # inference_mode: no autograd bookkeeping at all (generation never needs gradients).
    with torch.inference_mode(), precision_context(noise.device, precision):
        chunk = generation_chunk(batch, len(noise), noise.device)
        for start in range(0, len(noise), chunk):
            out.append(net.generate(noise[start:start + chunk]))
    model.train(was_training)
    return np.concatenate(out)
