"""The image data sets, read as they are shipped, and the one way they become cells.

Each source gives four arrays: train and test images, uint8 (n, side, side) with values in
[0, maxval], and their labels, int64 (n,). Nothing is downloaded:

- digits: scikit-learn's 8x8 handwritten digits (1,797 images, values 0..16, shipped inside
  scikit-learn). It has no test split of its own; the fixed split here keeps the file's first
  1,198 images for training and its last 599 (one third) as the test split, with no random
  draw, so that every machine and every run holds out the same images.
- mnist, fashion_mnist: the four standard IDX files (`train-images-idx3-ubyte`,
  `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each `.gz` or
  not, also spelled with a dot before `idx`) in a folder `task.root`. Fashion-MNIST's default
  folder is where Debian's `dataset-fashion-mnist` puts them.

`quantise` turns images into cells: `side/size`-fold mean pooling, then `levels` grey levels.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twoclocks.errors import ConfigError, TwoClocksError
from twoclocks.tasks.images.idx import find_file, read_idx

DIGITS_TEST = 599  # the last third of scikit-learn's 1,797 digits is the test split
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
# File stems of an IDX data set, in the order (train images, train labels, test images, test labels).
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@dataclass(frozen=True)
class Splits:
    """A data set as shipped: uint8 images (n, side, side) in [0, maxval] and int64 labels (n,)."""

    train: np.ndarray
    train_labels: np.ndarray
    test: np.ndarray
    test_labels: np.ndarray
    maxval: int

    @functools.cached_property
    def digest(self) -> str:
        """sha256 (16 hex digits) of the four arrays as read, shapes included: the same data set
        gives the same digest whether its files are gzipped or not."""
        h = hashlib.sha256()
        for array in (self.train, self.train_labels, self.test, self.test_labels):
            h.update(repr(array.shape).encode())
            h.update(np.ascontiguousarray(array).tobytes())
        return h.hexdigest()[:16]


@dataclass(frozen=True)
class Source:
    """One data set: its native side, the number of classes, and the folder it is read from
    when `task.root` is not given (None: the user must give it)."""

    name: str
    title: str
    side: int
    classes: int = 10
    default_root: Path | None = None

    @property
    def from_files(self) -> bool:
        return self.name != "digits"


SOURCES = {
    s.name: s
    for s in (
        Source("digits", "scikit-learn digits", 8),
        Source("mnist", "MNIST", 28),
        Source("fashion_mnist", "Fashion-MNIST", 28, default_root=DEBIAN_FASHION),
    )
}
# The Fréchet floor splits the held-out images into two halves of at least two (a covariance).
MIN_HELDOUT = 4


def load(name: str, root: str | None = None) -> Splits:
    """The data set `name` (a key of SOURCES); its IDX files from `root` (or its default)."""
    source = SOURCES[name]
    if not source.from_files:
        return _digits()
    folder = idx_root(source, root)
    return _idx_splits(source, str(folder), _stamp(folder))


def _stamp(folder: Path) -> tuple:
    """What tells that the files in `folder` changed (path, size, modification time), so that
    the in-memory copy of a data set is never stale."""
    paths = [find_file(folder, _spellings(stem)) for stem in IDX_FILES]
    return tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in paths if p is not None)


def idx_root(source: Source, root: str | None) -> Path:
    """The folder the IDX files of `source` are read from, checked to hold all four."""
    if root is None and source.default_root is None:
        raise ConfigError(
            f"task={source.name} needs task.root=DIR, a folder holding the {source.title} IDX files "
            f"({', '.join(IDX_FILES)}; .gz or not)"
        )
    folder = Path(root) if root is not None else source.default_root
    assert folder is not None
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"task.root: {folder} is not a folder (it should hold the {source.title} IDX files)")
    for stem in IDX_FILES:
        if find_file(folder, _spellings(stem)) is None:
            where = "task.root" if root is not None else f"task.root (default {folder})"
            raise ConfigError(f"{where}: no {stem} (or {stem}.gz) in {folder}, one of the {source.title} IDX files")
    return folder


def _spellings(stem: str) -> tuple[str, str]:
    """`train-images-idx3-ubyte` and `train-images.idx3-ubyte`: both circulate."""
    head, _, tail = stem.rpartition("-idx")
    return stem, f"{head}.idx{tail}"


@functools.lru_cache(maxsize=2)
def _idx_splits(source: Source, root: str, stamp: tuple) -> Splits:
    """The four IDX files of `source` in `root`, checked against each other (kept in memory
    while `stamp` holds: a run builds its task several times)."""
    arrays = []
    for stem in IDX_FILES:
        path = find_file(Path(root), _spellings(stem))
        if path is None:  # removed since idx_root looked
            raise ConfigError(f"task.root: no {stem} (or {stem}.gz) in {root}")
        arrays.append((path, read_idx(path)))
    (p_train, train), (p_ytrain, ytrain), (p_test, test), (p_ytest, ytest) = arrays
    for path, images, least in ((p_train, train, 1), (p_test, test, MIN_HELDOUT)):
        check_images(path, images, source, least)
    for path, labels, images in ((p_ytrain, ytrain, train), (p_ytest, ytest, test)):
        check_labels(path, labels, len(images), source)
    return _frozen(Splits(train, ytrain.astype(np.int64), test, ytest.astype(np.int64), 255))


def check_images(path: Path, images: np.ndarray, source: Source, least: int = 1) -> None:
    """One line unless `images` are at least `least` uint8 images of the source's side."""
    if images.dtype != np.uint8 or images.shape[1:] != (source.side, source.side):
        raise TwoClocksError(
            f"{path} holds {images.dtype} images of shape {images.shape[1:]}, "
            f"{source.title} images are uint8 {source.side}x{source.side}"
        )
    if not len(images):
        raise TwoClocksError(f"{path} holds no images")
    if len(images) < least:
        raise TwoClocksError(f"{path} holds {len(images)} images, fewer than the {least} a held-out split needs")


def check_labels(path: Path, labels: np.ndarray, n: int, source: Source) -> None:
    """One line unless `labels` are n integer class labels of the source."""
    if not np.issubdtype(labels.dtype, np.integer):
        raise TwoClocksError(f"{path} holds {labels.dtype} labels, {source.title} labels are integers")
    if labels.ndim != 1 or len(labels) != n:
        raise TwoClocksError(f"{path} holds labels of shape {labels.shape}, its images are {n}")
    if len(labels) and (labels.min() < 0 or labels.max() >= source.classes):
        bad = labels.min() if labels.min() < 0 else labels.max()
        raise TwoClocksError(f"{path} holds a label {bad}, {source.title} has classes 0..{source.classes - 1}")


@functools.lru_cache(maxsize=1)
def _digits() -> Splits:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.asarray(bunch.images).round().astype(np.uint8)  # stored as floats 0.0..16.0
    labels = np.asarray(bunch.target, dtype=np.int64)
    cut = len(images) - DIGITS_TEST
    return _frozen(Splits(images[:cut], labels[:cut], images[cut:], labels[cut:], 16))


def _frozen(splits: Splits) -> Splits:
    """The cached arrays are shared by every task built from them: make them read-only."""
    for array in (splits.train, splits.train_labels, splits.test, splits.test_labels):
        array.setflags(write=False)
    return splits


def quantise(images: np.ndarray, maxval: int, size: int, levels: int) -> np.ndarray:
    """uint8 images (n, side, side) in [0, maxval] -> uint8 cells (n, size, size) in [0, levels).

    Each cell is the mean of an f x f block (f = side / size) of intensities x = value / maxval,
    rounded to the nearest of `levels` evenly spaced grey levels, halves up:
    level = floor(x (levels - 1) + 1/2). Computed on integer sums, so a mean that lies exactly
    halfway between two levels always rounds up (no floating-point ties).
    """
    n, side = len(images), images.shape[-1]
    f = side // size
    sums = images
    if f > 1:  # block sums, one axis at a time (uint16 holds 16 x 255)
        sums = images.astype(np.uint16).reshape(n, size, f, side).sum(axis=2, dtype=np.uint16)
        sums = sums.reshape(n, size, size, f).sum(axis=3, dtype=np.uint16)
    q = f * f * maxval
    every_sum = np.arange(q + 1, dtype=np.int64)
    level_of = ((2 * every_sum * (levels - 1) + q) // (2 * q)).astype(np.uint8)
    return level_of[sums]


def intensity(cells: np.ndarray, levels: int) -> np.ndarray:
    """uint8 cells (n, H, W) -> float32 (n, H, W) in [0, 1]: the grey level each cell stands for."""
    return np.asarray(cells, dtype=np.float32) / np.float32(levels - 1)
