"""Image data sets as tasks without a rule: digits, MNIST and Fashion-MNIST.

A task without a rule (`has_rule = False`) fits the Task interface as follows:

- items are the data set's images as cells: `task.size` x `task.size` grey levels in
  [0, task.levels) (`sources.quantise`);
- `sample(n, rng)` draws from the train split (or one of its halves, `task.split`) in the
  order of seeded permutations, without replacement inside each pass over it; the training set
  a run draws (`data.draw_training_set`: the first N distinct items of `sample`) is therefore
  the first N distinct items of one seeded permutation of the train split, and the set for a
  smaller N is a prefix of the set for a larger one;
- validity is the generalisation probe's verdict: `constraints` is one column, "the probe
  recognises the image" (its top class has probability >= 0.9, `probe.CONFIDENT`), so
  `is_valid` and `constraint_acc` are that verdict;
- the population is unknown (NaN): no count of "valid images" exists. The chance level of
  each copy criterion is measured instead, on the held-out images (`heldout`, the data set's
  own test split) against the training set (`twoclocks.imagemetrics`).

`task.split=A|B` replaces the train split by one of two fixed disjoint halves of it (cut by a
fixed seeded permutation, alternating within each class, so both halves hold each class
equally often, to within one image), for two models that should agree once they generalise.
It is a task parameter rather than a data field because it changes the distribution that is
sampled, which is what a task defines: the two halves are two tasks, with two content hashes,
and `twoclocks agree` can tell from the task sections that two runs used complementary halves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, ClassVar

import numpy as np

import twoclocks.tasks.images.sources as sources
from twoclocks.errors import ConfigError, quote
from twoclocks.tasks._util import check_int_range
from twoclocks.tasks.base import Task
from twoclocks.tasks.images.probe_spec import ProbeData, ProbeSpec

if TYPE_CHECKING:
    from twoclocks.tasks.images.probe import Probe

SPLITS = ("all", "A", "B")  # the whole train split, or one of its two fixed halves
MAX_LEVELS = 17  # the digits' own 0..16; more levels only lengthen the one-hot encodings
MIN_SIZE = 4  # the probe pools twice
SEED_HALVES = 7_000_003  # the fixed permutation that cuts a train split into halves A and B


@dataclass
class DigitsParams:
    levels: int = 2  # grey levels of a cell: 2 = binarised, up to 17 (the digits' own 0..16)
    size: int = 8  # image side in cells: 8 (the digits' own) or 4 (2x2 means)
    split: str = "all"  # all | A | B: the train split, or one of its two fixed disjoint halves


@dataclass
class IdxParams:
    levels: int = 2  # grey levels of a cell: 2 = binarised, up to 17
    size: int = 14  # image side in cells: 28 (native), 14 or 7 (means over 2x2 or 4x4 pixels)
    split: str = "all"  # all | A | B: the train split, or one of its two fixed disjoint halves
    root: str | None = None  # folder of the IDX files; None = the data set's default folder

    def __post_init__(self) -> None:
        # Kept absolute, so that a resumed run or a sweep worker started elsewhere reads the same
        # folder (a relative name would name another one, or none).
        if isinstance(self.root, str) and self.root.strip():
            self.root = os.path.abspath(os.path.expanduser(self.root))


class ImageTask(Task):
    """An image data set at a size and number of grey levels (see the module docstring)."""

    kind = "image"
    knob = "levels"
    has_rule = False
    min_items = 2  # the ratio criterion reads the second-nearest training image
    source: ClassVar[str]  # a key of sources.SOURCES
    probe_spec: ClassVar[ProbeSpec]

    def __init__(self, params):
        super().__init__(params)
        side = sources.SOURCES[self.source].side
        check_int_range("levels", params.levels, 2, MAX_LEVELS)
        sizes = [s for s in range(MIN_SIZE, side + 1) if side % s == 0]
        if params.size not in sizes:
            native = f"{self.source} ({side}x{side} images)"
            raise ConfigError(f"task.size must be one of {sizes} for {native}, got {quote(params.size)}")
        if params.split not in SPLITS:
            raise ConfigError(f"task.split must be one of {SPLITS}, got {quote(params.split)}")
        root = getattr(params, "root", None)
        if root is not None and (not isinstance(root, str) or not root.strip()):
            raise ConfigError(f"task.root must be a folder name, got {quote(root)}")

    @property
    def shape(self) -> tuple[int, int]:
        return (self.params.size, self.params.size)

    @property
    def num_values(self) -> int:
        return self.params.levels

    # ----- the data -----------------------------------------------------------------------
    @cached_property
    def splits(self) -> sources.Splits:
        """The data set as shipped (read on first use: building a task reads no file)."""
        return sources.load(self.source, getattr(self.params, "root", None))

    def source_digest(self) -> str | None:
        """The files' digest (their held-out split and the probe's training data, which a run's
        later evaluations read); None for the digits, shipped inside scikit-learn."""
        return self.splits.digest if sources.SOURCES[self.source].from_files else None

    def _cells(self, images: np.ndarray) -> np.ndarray:
        return sources.quantise(images, self.splits.maxval, self.params.size, self.params.levels)

    @cached_property
    def train_split(self) -> np.ndarray:
        """uint8 (n, size, size): the data set's whole train split as cells."""
        return self._cells(self.splits.train)

    @cached_property
    def heldout(self) -> np.ndarray:
        """uint8 (n, size, size): the data set's test split as cells, the held-out images."""
        return self._cells(self.splits.test)

    @cached_property
    def pool_index(self) -> np.ndarray:
        """int64 (m,): the positions in the train split that `sample` draws from."""
        labels = self.splits.train_labels
        if self.params.split == "all":
            return np.arange(len(labels))
        pool = halves(labels)[SPLITS.index(self.params.split) - 1]
        if not len(pool):
            raise ConfigError(
                f"task.split={self.params.split} of {self.describe()} holds no image (the train split has 1)"
            )
        return pool

    def distinct_items(self, read: bool = True) -> int | None:
        """The distinct images of the pool after quantisation (a data set holds duplicates)."""
        if not read and sources.SOURCES[self.source].from_files:
            return None
        pool = self.train_split[self.pool_index]
        return len(np.unique(pool.reshape(len(pool), -1), axis=0))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """uint8 (n, size, size): items of the pool in the order of seeded permutations of it
        (one permutation per pass, so the first n items of a first pass are distinct)."""
        pool = self.pool_index
        passes = [rng.permutation(len(pool)) for _ in range(-(-n // len(pool)))]
        order = np.concatenate(passes)[:n] if passes else np.zeros(0, np.int64)
        return self.train_split[pool[order]]

    def intensity(self, cells: np.ndarray) -> np.ndarray:
        """uint8 (n, H, W) -> float32 (n, H, W) in [0, 1]: the grey levels as intensities."""
        return sources.intensity(cells, self.params.levels)

    # ----- validity: the probe ---------------------------------------------------------------
    def probe(self) -> Probe:
        """The data set's classifier at this size and these levels, trained on the whole
        train split (whatever task.split says, so both halves are judged alike); trained on
        first use and cached (`probe.get_probe`)."""
        from twoclocks.tasks.images.probe import get_probe  # torch: only once items are judged

        s = self.splits
        data = ProbeData(
            f"{self.source}-{self.params.size}px-{self.params.levels}lv",
            self.params.levels,
            sources.SOURCES[self.source].classes,
            self.train_split,
            s.train_labels,
            self.heldout,
            s.test_labels,
        )
        return get_probe(data, self.probe_spec)

    def constraints(self, cells: np.ndarray) -> np.ndarray:
        """bool (n, 1): the probe recognises the image."""
        return self.probe().recognisable(cells)[:, None]


def halves(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint sorted index sets that cover range(len(labels)): a fixed seeded permutation,
    sorted by label (stably), dealt alternately, so each class splits evenly."""
    order = np.random.default_rng(SEED_HALVES).permutation(len(labels))
    order = order[np.argsort(labels[order], kind="stable")]
    return np.sort(order[0::2]), np.sort(order[1::2])


class Digits(ImageTask):
    name = "digits"
    Params = DigitsParams
    source = "digits"
    # 1,198 images: 100 passes of 32 are 3,800 steps, ~15 s on one CPU thread
    probe_spec = ProbeSpec(epochs=100, batch=32)


class MNIST(ImageTask):
    name = "mnist"
    Params = IdxParams
    source = "mnist"
    probe_spec = ProbeSpec(epochs=4, batch=128)


class FashionMNIST(ImageTask):
    name = "fashion_mnist"
    Params = IdxParams
    source = "fashion_mnist"
    probe_spec = ProbeSpec(epochs=4, batch=128)
