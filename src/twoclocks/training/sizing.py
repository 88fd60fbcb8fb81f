"""How many runs one process trains as a group (K), from a member's memory and the device's.

A member of a group (`twoclocks.training.group`) costs, on the device, its parameter state
(fp32 weights, their gradients, AdamW's two moments and the bf16 copies autocast makes) and
the activations its forward saves for the backward. The first is counted from the parameter
count; the second is measured: one forward of a single run at `train.batch` on the CPU under
`saved_tensors_hooks`, summing the distinct storages it saves. The CPU path of the DiT saves
its attention matrices (SDPA on CUDA saves less), so this is an upper bound there.

K is then the largest count whose footprint fits in a fraction of the device's free memory
(CUDA: `torch.cuda.mem_get_info`), capped at a measured working point: where K stops paying.
On a CPU memory never binds at these sizes; the cap is what the group benchmarks measured
(docs/performance.md, "Many seeds at once"). Every choice is overridable (`--group-size K`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from twoclocks.config import RunConfig, apply_overrides
from twoclocks.training.footprint import ACTIVATION_HEADROOM, PARAM_STATE_BYTES, saved_bytes

MEMORY_FRACTION = 0.8  # of the free device memory; the rest is the allocator's slack
RESERVE_BYTES = 1 << 30  # CUDA context, cuBLAS workspaces, one member's evaluation
# Caps (working points), per device type. CPU: the step benchmark gains from K=4 to K=8 and
# not beyond (bench --group, docs/performance.md). CUDA: the ladder of benchmarks/gpu_check.py
# decides; 64 is the working point the GPU targets are stated at, until measured.
MAX_GROUP = {"cpu": 8, "cuda": 64}


@dataclass
class MemberFootprint:
    params: int
    param_bytes: int  # PARAM_STATE_BYTES per parameter
    activation_bytes: int  # saved for the backward by one forward at train.batch

    @property
    def total_bytes(self) -> int:
        return int(self.param_bytes + ACTIVATION_HEADROOM * self.activation_bytes)


def member_footprint(cfg: RunConfig) -> MemberFootprint:
    """The device memory one member of a group needs while it trains (see the module docstring)."""
    from twoclocks.training.experiment import build_experiment

    exp = build_experiment(apply_overrides(cfg, {"train.device": "cpu"}))
    n = exp.model.num_params()
    saved = saved_bytes(exp.model, exp.model.encode(exp.train_cells), cfg.train.batch, cfg, exp.device)
    return MemberFootprint(n, n * PARAM_STATE_BYTES, saved)


def free_device_memory(device: torch.device) -> int | None:
    """Free bytes on a CUDA device; None where memory does not bound K (a CPU)."""
    if device.type != "cuda":
        return None
    return int(torch.cuda.mem_get_info(device)[0])


def group_size(
    footprint: MemberFootprint, device_type: str, free_bytes: int | None, share: float = 1.0
) -> tuple[int, str]:
    """(K, why): the most members whose footprint fits in MEMORY_FRACTION of `share` (the
    fraction of the device this group may use, e.g. a Ray task's GPU fraction) of the free
    memory, less RESERVE_BYTES, capped at MAX_GROUP of the device type."""
    cap = MAX_GROUP.get(device_type, MAX_GROUP["cuda"])
    mb = footprint.total_bytes / 2**20
    if free_bytes is None:
        return cap, f"K={cap}: the {device_type} cap (memory not a bound or not visible; {mb:.0f} MiB per member)"
    budget = free_bytes * share * MEMORY_FRACTION - RESERVE_BYTES
    fits = max(1, int(budget // max(1, footprint.total_bytes)))
    if fits >= cap:
        return cap, f"K={cap}: the {device_type} cap; memory would allow {fits:,} ({mb:.0f} MiB per member)"
    return fits, (
        f"K={fits}: {fits} member(s) of {mb:.0f} MiB fit in {MEMORY_FRACTION:.0%} of "
        f"{share:g} x {free_bytes / 2**30:.1f} GiB free"
    )


def auto_group_size(cfg: RunConfig, device: torch.device | None = None, share: float = 1.0) -> tuple[int, str]:
    """K for runs of this config on `device` (default: the config's), and why."""
    from twoclocks.training.experiment import resolve_device

    device = device or resolve_device(cfg.train.device)
    return group_size(member_footprint(cfg), device.type, free_device_memory(device), share)
