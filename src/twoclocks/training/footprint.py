"""The memory a run needs, estimated and checked before anything is written, so that a config
too big for the machine is one line instead of an out-of-memory kill or a partial directory.

`check_planned` runs before the training set is drawn or the model built: the training set
from data.N and the encoded size of an item, the parameters (with AdamW's state) from the model
built on torch's "meta" device, which has shapes but no storage. `check_built` adds what needs
the real model: the activations a forward saves, measured at a few items and scaled to
train.batch, and evaluation's samples and generation chunk. Each is compared with the free
memory of the run's device (`twoclocks.core.memory`); `training.sizing` uses the same terms to size
a group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from twoclocks.config import RunConfig
from twoclocks.core.memory import available_bytes, check_fits
from twoclocks.encoding import Encoding
from twoclocks.errors import TwoClocksError
from twoclocks.models.base import GenerativeModel
from twoclocks.tasks.base import Task
from twoclocks.training.numerics import generation_chunk, precision_context

# Bytes per parameter: fp32 weight + fp32 gradient + two fp32 AdamW moments + a bf16 copy.
PARAM_STATE_BYTES = 4 + 4 + 8 + 2
# The backward holds activation gradients next to the saved activations, and the allocator
# fragments: count the saved bytes 1.5 times.
ACTIVATION_HEADROOM = 1.5
# Drawing N distinct items holds a Python int (in a set) and an array view (in a list) per item,
# and the training index keeps hashes, order and buckets: about 540 bytes per 36-cell item
# measured at N=10^6 (peak RSS less the interpreter's), beside the cells drawn twice over.
ITEM_OVERHEAD_BYTES = 512
DRAWN_COPIES = 3
SEED_PROBE = 5_000_011  # the stream of the probe batch (the run's own streams are left untouched)


def saved_bytes(model: GenerativeModel, x: torch.Tensor, batch: int, cfg: RunConfig, device: torch.device) -> int:
    """Bytes the forward of `model.loss` saves for the backward on a batch of `batch` items drawn
    from the encoded items `x` (first dimension: items), counting each storage once."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    gen = torch.Generator(device).manual_seed(cfg.seed + SEED_PROBE)
    batch_x = x[torch.randint(len(x), (batch,), generator=gen, device=device)]
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        with precision_context(device, cfg.train.precision):
            loss = model.loss(batch_x, gen)
    del loss
    return sum(saved.values())


# Activations are measured at a small batch and scaled: what a forward saves grows with the
# batch in proportion (attention grows with the tokens, not the batch).
PROBE_BATCH = 2
ENCODED_COPIES = 3  # generation holds the noise, the running state and the result of each sample


@dataclass
class RunFootprint:
    """Bytes a run needs, by part; the parts known before the model is built are set first."""

    training_set: int  # uint8 cells plus the encoded copy the trainer indexes
    params: int  # PARAM_STATE_BYTES per parameter
    activations: int = 0  # ACTIVATION_HEADROOM x saved at train.batch
    evaluation: int = 0  # the generated samples and one generation chunk's activations

    def terms(self) -> dict[str, float]:
        return {
            "the training set": self.training_set,
            "parameters and optimiser state": self.params,
            "activations at train.batch": self.activations,
            "evaluation samples": self.evaluation,
        }


def training_set_bytes(n: int, cells: int, encoded: float) -> int:
    """Bytes of n items of `cells` uint8 cells and `encoded` bytes each once encoded, with what
    drawing and indexing them holds (ITEM_OVERHEAD_BYTES, DRAWN_COPIES)."""
    return int(n * (DRAWN_COPIES * cells + encoded + ITEM_OVERHEAD_BYTES))


def planned_footprint(cfg: RunConfig, task: Task, encoding: Encoding) -> RunFootprint:
    """The footprint's training set and parameters, from the config alone: the model is built on
    torch's "meta" device (shapes, no storage) on two sampled items. A builder that cannot build
    on "meta" gives no parameter count here; it is then counted once built (`check_built`)."""
    from twoclocks.models import build_model

    probe = task.sample(PROBE_BATCH, np.random.default_rng(0))
    try:
        with torch.device("meta"):
            model = build_model(cfg.model, encoding, probe)
            per_item = model.encode(probe).nbytes // len(probe)
        params = model.num_params()
    except TwoClocksError:
        raise
    except Exception:  # a plugin family that needs real tensors to be built
        return RunFootprint(training_set_bytes(cfg.data.N, task.num_cells, 4 * task.num_cells), 0)
    return RunFootprint(training_set_bytes(cfg.data.N, task.num_cells, per_item), params * PARAM_STATE_BYTES)


def check_planned(cfg: RunConfig, task: Task, encoding: Encoding, device: torch.device) -> RunFootprint:
    """`planned_footprint`, refused in one line when it exceeds the memory available."""
    footprint = planned_footprint(cfg, task, encoding)
    check_fits(footprint.terms(), available_bytes(device.type), "this run", f"this {device.type}")
    return footprint


def check_built(cfg: RunConfig, model: GenerativeModel, cells: np.ndarray, device: torch.device) -> None:
    """The whole footprint of a built run (its activations measured at PROBE_BATCH items and
    scaled to train.batch; evaluation at eval.samples), refused in one line when it exceeds
    the memory available. `cells`: the training set, uint8 (N, H, W)."""
    probe = model.encode(cells[:PROBE_BATCH])
    per_item_saved = saved_bytes(model, probe, PROBE_BATCH, cfg, device) / PROBE_BATCH
    per_item = probe.nbytes / len(probe)
    chunk = min(generation_chunk(cfg.eval.batch, cfg.eval.samples, device), cfg.eval.samples)
    footprint = RunFootprint(
        training_set=training_set_bytes(len(cells), cells[0].nbytes, per_item),
        params=model.num_params() * PARAM_STATE_BYTES,
        activations=int(ACTIVATION_HEADROOM * per_item_saved * cfg.train.batch),
        evaluation=int(cfg.eval.samples * per_item * ENCODED_COPIES + chunk * per_item_saved),
    )
    check_fits(footprint.terms(), available_bytes(device.type), "this run", f"this {device.type}")
