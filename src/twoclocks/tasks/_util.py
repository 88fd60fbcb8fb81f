"""Small helpers shared by the task zoo: parameter checks, bit vectors, random permutations.

All randomness comes from a numpy Generator passed in by the caller; nothing here touches
global random state.
"""

from __future__ import annotations

import numpy as np

from twoclocks.core.domains import closed
from twoclocks.errors import ConfigError, quote

# Grid sides of the tasks: items of up to 64 x 64 cells (the copy index and the models hold
# every item in memory; a side of 10^5 would ask for tens of GB before any check fails).
SIDE = closed(1, 64, "items of up to 64 x 64 cells")
MAX_ENUMERATE_LOG2 = 18  # enumerate() returns None above 2^18 items (reference.MAX_ENUMERATED)


def check_int_range(field: str, value: int, lo: int, hi: int | None = None, why: str = "") -> None:
    """Raise ConfigError unless `value` is an integer in [lo, hi] (hi=None: no upper bound)."""
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    ok = ok and value >= lo and (hi is None or value <= hi)
    if not ok:
        span = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        suffix = f" ({why})" if why else ""
        raise ConfigError(f"task.{field} must be an integer {span}{suffix}, got {quote(value)}")


def bit_vectors(k: int) -> np.ndarray:
    """All 2^k binary vectors of length k as uint8 (2^k, k); row i holds the bits of i (LSB first)."""
    codes = np.arange(2**k, dtype=np.int64)
    return ((codes[:, None] >> np.arange(k)) & 1).astype(np.uint8)


def random_permutations(rng: np.random.Generator, shape: tuple[int, ...], k: int) -> np.ndarray:
    """Independent uniform permutations of range(k): int64 (*shape, k).

    Argsort of i.i.d. uniforms is uniform over permutations (ties have probability ~0) and,
    unlike a Python loop over `rng.permutation`, is one vectorised call.
    """
    return np.argsort(rng.random((*shape, k)), axis=-1)


def lines_are_permutations(lines: np.ndarray, k: int) -> np.ndarray:
    """Whether each line holds every value of range(k) exactly once.

    lines: integer (n, L, k), L lines of k cells per item. Returns bool (n, L).
    """
    return (np.sort(np.asarray(lines), axis=-1) == np.arange(k)).all(axis=-1)
