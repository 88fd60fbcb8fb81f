"""What memory a machine has for a run, and the one-line refusal of a run that would not fit.

The estimates themselves are made where their terms are known (`training.sizing` for a run,
`itemfile` for a file's declared arrays); this module only says what is available and words
the refusal, so that every such refusal names its biggest term and the figure alike.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from twoclocks.errors import ConfigError

MEMINFO = Path("/proc/meminfo")


def available_ram() -> int | None:
    """Bytes of RAM this process could still get: MemAvailable (free plus reclaimable cache),
    else the free pages by sysconf; None where neither is known."""
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def available_bytes(device_type: str) -> int | None:
    """Free bytes where a run's tensors live: the CUDA device's (`torch.cuda.mem_get_info`),
    else the host's RAM."""
    if device_type == "cuda":
        import torch

        return int(torch.cuda.mem_get_info()[0])
    return available_ram()


def gib(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB"


def check_fits(terms: Mapping[str, float], available: int | None, what: str, where: str) -> None:
    """A one-line ConfigError when the `terms` (name -> bytes) add up to more than `available`
    bytes of `where` (e.g. "cpu RAM"): it names `what` needs it, the total and its biggest term."""
    total = sum(terms.values())
    if available is None or total <= available:
        return
    name, biggest = max(terms.items(), key=lambda kv: kv[1])
    raise ConfigError(
        f"{what} needs about {gib(total)} of memory, more than the {gib(available)} available on "
        f"{where}; the biggest part is {name} ({gib(biggest)})"
    )
