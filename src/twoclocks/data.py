"""Training sets of N distinct valid items, the index that tells whether a generated item
copies one of them, and the fixed item sets of the likelihood metrics.

Exact-match lookup hashes each item's cells to 64 bits (a vectorised polynomial hash over the
cell bytes), finds the candidates with the same hash through a bucket table on the hash's top
bits (sorted training hashes, about two buckets per item), and then confirms every candidate
by comparing the cells themselves, so a hash collision can never count as memorisation. All of
it is vectorised over the queries: ~1e7 lookups/s against 1e5 items (docs/performance.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from twoclocks.encoding import cell_words, hash_cells, mix_words
from twoclocks.errors import ConfigError
from twoclocks.tasks.base import Task


def check_training_set_size(task: Task, N: int, drawn: bool = True, read: bool = False) -> float:
    """The task's population size; a one-line ConfigError if N distinct valid items cannot
    exist (checked before any work: by a run, and by a sweep for every point when planned).
    `drawn`, `read`: as `Task.check_size` (by default what it can tell without reading a
    user's files)."""
    if N <= 0:
        raise ConfigError(f"data.N must be a positive integer, got {N}")
    task.check_size(N, drawn, read)
    # Compare with the exact count when there is one: 2**log2(10) rounds to 9.999...
    population = task.population if task.population is not None else 2.0**task.log2_population
    if task.log2_population < 62 and N > population:
        raise ConfigError(
            f"data.N={N} is larger than the population of {task.describe()} ({population:.0f} valid items)"
        )
    return population


def draw_training_set(task: Task, N: int, rng: np.random.Generator) -> np.ndarray:
    """N distinct valid items, uint8 (N, H, W), in a random order.

    Draws i.i.d. from `task.sample` and drops duplicates until N distinct items are found;
    when N is more than half the population and it can be enumerated, picks N of the
    enumerated items without replacement instead (rejection would be slow there).
    """
    population = check_training_set_size(task, N, read=True)  # drawing reads a data set's images
    if task.log2_population < 24 and N > population / 2:
        everything = task.enumerate()
        if everything is not None:
            return everything[rng.permutation(len(everything))[:N]]
    items: list[np.ndarray] = []
    seen: set[int] = set()
    tries = 0
    while len(items) < N:
        batch = task.sample(max(64, 2 * (N - len(items))), rng)
        for item, key in zip(batch, hash_cells(batch)):
            if key not in seen:
                seen.add(int(key))
                items.append(item)
                if len(items) == N:
                    break
        tries += 1
        if tries > 10_000:
            raise ConfigError(f"could not draw data.N={N} distinct items from {task.describe()}")
    return np.stack(items)


def packed_columns(cells: np.ndarray, bits: int) -> np.ndarray:
    """uint64 (k, n): each item's cells packed into k words, word-major: 8 cells per byte for
    binary cells (bits=1: a parity image is one word), 2 per byte for bits <= 4, else one.
    Injective on items whose values are below 2**bits."""
    flat: np.ndarray = np.ascontiguousarray(cells, dtype=np.uint8)
    flat = flat.reshape(len(flat), int(np.prod(flat.shape[1:], dtype=np.int64)))
    if bits == 1:
        flat = np.packbits(flat, axis=1)
    elif bits <= 4:
        if flat.shape[1] % 2:
            flat = np.concatenate([flat, np.zeros((len(flat), 1), np.uint8)], axis=1)
        flat = flat[:, 0::2] | (flat[:, 1::2] << 4)
    return np.ascontiguousarray(cell_words(flat).T)


def _unpack_bucket(entries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bucket table entries (start << 32 | count) -> (start, end) positions."""
    start = entries >> 32
    return start, start + (entries & 0xFFFFFFFF)


class TrainingIndex:
    """Answers, for generated items: is it a training item, and how far is the nearest one?"""

    CHUNK = 1 << 15  # queries per pass of `match`: its temporaries then stay in cache

    def __init__(self, train_cells: np.ndarray, num_values: int):
        self.cells = np.ascontiguousarray(train_cells, dtype=np.uint8)
        self.num_values = num_values
        self._cell_bits = max(1, int(np.ceil(np.log2(num_values)))) if num_values <= 256 else 8
        if self._cell_bits < 8 and self.cells.size and self.cells.max() >= 2**self._cell_bits:
            self._cell_bits = 8  # values beyond num_values: fall back to whole bytes
        columns = packed_columns(self.cells, self._cell_bits)  # (k, N)
        hashes = mix_words(columns)
        self.order = np.argsort(hashes, kind="stable")
        self.sorted_hashes = hashes[self.order]
        self._sorted_columns = columns[:, self.order]
        # Bucket table on the top `bits` bits of the hash: the items of bucket b are at the
        # sorted positions starts[b]:starts[b+1]; ~2 buckets per item keeps them short.
        # One int64 per bucket, start << 32 | count, so a lookup is a single gather.
        self._bits = int(np.ceil(np.log2(max(2, len(self.cells))))) + 1
        top = self.sorted_hashes >> np.uint64(64 - self._bits)
        starts = np.searchsorted(top, np.arange(2**self._bits + 1, dtype=np.uint64)).astype(np.int64)
        self._buckets = (starts[:-1] << 32) | np.diff(starts)
        self._onehot: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.cells)

    def match(self, cells: np.ndarray) -> np.ndarray:
        """int64 (n,): index of the identical training item, or -1.

        Among identical training items (an index may be built on duplicates) the first in
        hash order is returned, which is the lowest index of the equal items.
        """
        cells = np.ascontiguousarray(cells, dtype=np.uint8)
        out = np.full(len(cells), -1, dtype=np.int64)
        for start in range(0, len(cells), self.CHUNK):
            chunk = cells[start : start + self.CHUNK]
            ok = None
            if self._cell_bits < 8 and chunk.size and chunk.max() >= 2**self._cell_bits:
                ok = (chunk.reshape(len(chunk), -1) < 2**self._cell_bits).all(axis=1)
                chunk = np.where(ok.reshape(-1, *([1] * (chunk.ndim - 1))), chunk, 0)
            found = self._match_packed(packed_columns(chunk, self._cell_bits))
            out[start : start + len(chunk)] = found if ok is None else np.where(ok, found, -1)
        return out

    def _match_packed(self, columns: np.ndarray) -> np.ndarray:
        """Training index (or -1) of each packed query, columns (k, n).

        Items of one word need no comparison of cells after the hash: on a single word the
        hash (xor, multiply by an odd constant, xorshift) is a bijection, so equal hashes
        are equal words and, the packing being injective, equal items. Longer items are
        confirmed word by word.
        """
        h = mix_words(columns)
        pos, end = _unpack_bucket(self._buckets[(h >> np.uint64(64 - self._bits)).astype(np.intp)])
        out = np.full(len(h), -1, dtype=np.int64)
        # One round per position inside the buckets (a handful): every query still open
        # checks its next candidate, the hash first and then, if needed, every word.
        query = np.nonzero(pos < end)[0]
        pos, end = pos[query], end[query]
        while len(query):
            hq = h[query]
            cand = self.sorted_hashes[pos]
            hit = np.nonzero(cand == hq)[0]
            open_ = (pos + 1 < end) & (cand <= hq)  # sorted buckets: later hashes only grow
            if len(hit) and len(columns) > 1:
                ps, qs = pos[hit], query[hit]
                equal = np.ones(len(hit), dtype=bool)
                for word, sorted_word in zip(columns, self._sorted_columns):
                    equal &= sorted_word[ps] == word[qs]
                hit = hit[equal]
            out[query[hit]] = self.order[pos[hit]]
            open_[hit] = False
            keep = np.nonzero(open_)[0]
            query, pos, end = query[keep], pos[keep] + 1, end[keep]
        return out

    def nearest_hamming(self, cells: np.ndarray, chunk: int = 4096) -> np.ndarray:
        """int64 (n,): number of cells that differ from the nearest training item.

        Agreement counts are one-hot dot products, so this is one matmul per chunk.
        """
        if self._onehot is None:
            self._onehot = self._one_hot(self.cells)
        out = []
        d = self.cells[0].size
        for start in range(0, len(cells), chunk):
            q = self._one_hot(cells[start : start + chunk])
            agree = q @ self._onehot.T  # (chunk, N)
            out.append(d - agree.max(dim=1).values.round().long())
        return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.int64)

    def _one_hot(self, cells: np.ndarray) -> torch.Tensor:
        c = torch.as_tensor(np.asarray(cells, dtype=np.int64)).reshape(len(cells), -1)
        return torch.nn.functional.one_hot(c, self.num_values).reshape(len(cells), -1).float()


# ----- fixed item sets for likelihood metrics (GPT, masked diffusion) ------------------------
SEED_LIKELIHOOD = 4_000_037  # offset on the data seed for the held-out / corrupted item sets
HELDOUT_ITEMS = 256  # held-out valid items (and as many corrupted ones)
TRAIN_ITEMS_MAX = 1024  # the train set uses at most this many training items (a fixed prefix)


@dataclass(frozen=True)
class ItemSets:
    """uint8 (n, H, W) item sets and the two reference log-likelihoods (nats per item)."""

    train: np.ndarray
    heldout: np.ndarray
    invalid: np.ndarray
    log2_population: float  # a perfect rule learner scores -ln(population) on valid items
    num_train: int  # a perfect copier scores -ln(N) on training items

    def as_dict(self) -> dict[str, np.ndarray]:
        return {"train": self.train, "heldout": self.heldout, "invalid": self.invalid}


def likelihood_sets(
    task: Task,
    train_cells: np.ndarray,
    index: TrainingIndex,
    data_seed: int,
    n_heldout: int = HELDOUT_ITEMS,
    max_tries: int = 50,
) -> ItemSets:
    """train (a prefix of at most TRAIN_ITEMS_MAX training items), heldout (distinct valid
    items not in the training set) and invalid (each heldout item with one cell changed so the
    task rejects it).

    Drawn from their own numpy generator seeded by the data seed, so they are identical for
    every run on the same training set and never touch the training or sampling streams.
    Small populations may yield fewer than n_heldout items (or none: the metric is then NaN).
    """
    rng = np.random.default_rng(data_seed + SEED_LIKELIHOOD)
    found: list[np.ndarray] = []
    seen: set[int] = set()
    for _ in range(max_tries):
        if len(found) >= n_heldout:
            break
        cand = task.sample(2 * n_heldout, rng)
        cand = cand[index.match(cand) < 0]
        for item, key in zip(cand, hash_cells(cand)):
            if int(key) not in seen and len(found) < n_heldout:
                seen.add(int(key))
                found.append(item)
    shape = train_cells.shape[1:]
    heldout = np.stack(found) if found else np.zeros((0, *shape), np.uint8)
    return ItemSets(
        train=train_cells[:TRAIN_ITEMS_MAX],
        heldout=heldout,
        invalid=corrupt(heldout, task, rng),
        log2_population=task.log2_population,
        num_train=len(train_cells),
    )


def corrupt(cells: np.ndarray, task: Task, rng: np.random.Generator, tries: int = 20) -> np.ndarray:
    """Each item with one random cell changed to another value, kept only once the task calls
    it invalid (retrying other cells: for some rules one change can keep an item valid).
    uint8 (n, H, W) -> uint8 (m, H, W), m <= n."""
    K, n = task.num_values, len(cells)
    out = cells.copy()
    todo = np.ones(n, dtype=bool)
    for _ in range(tries):
        idx = np.nonzero(todo)[0]
        if len(idx) == 0:
            break
        flat = cells[idx].reshape(len(idx), -1).copy()
        pos = rng.integers(0, flat.shape[1], size=len(idx))
        shift = rng.integers(1, K, size=len(idx))  # never 0: the value really changes
        rows = np.arange(len(idx))
        flat[rows, pos] = (flat[rows, pos].astype(np.int64) + shift) % K
        out[idx] = flat.reshape(-1, *cells.shape[1:])
        todo[idx] = task.is_valid(out[idx])
    return out[~todo]
