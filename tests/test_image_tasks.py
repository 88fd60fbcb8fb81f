"""Image data sets as tasks without a rule: the IDX reader on files the tests write (and on
Debian's Fashion-MNIST where installed), quantisation against a per-cell loop, the digits'
fixed split, training sets as prefixes of one seeded permutation, the disjoint halves, and
one-line errors for every bad parameter or file."""

from __future__ import annotations

import gzip
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from twoclocks.data import draw_training_set
from twoclocks.errors import ConfigError, TwoClocksError
from twoclocks.tasks import TASKS, make_task
from twoclocks.tasks.images import sources
from twoclocks.tasks.images.idx import idx_bytes, parse_idx, read_idx
from twoclocks.tasks.images.task import halves

IMAGE_TASKS = [name for name, cls in TASKS.items() if not cls.has_rule]


def write_idx_set(folder: Path, n_train: int = 40, n_test: int = 20, gz: bool = False, dotted: bool = False):
    """A tiny MNIST-shaped data set of random images; returns (train, train labels, test, test labels)."""
    rng = np.random.default_rng(0)
    arrays = [
        rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, size=n_train).astype(np.uint8),
        rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, size=n_test).astype(np.uint8),
    ]
    folder.mkdir(parents=True, exist_ok=True)
    for stem, array in zip(sources.IDX_FILES, arrays):
        name = stem.replace("-idx", ".idx") if dotted else stem
        data = idx_bytes(array)
        (folder / (name + ".gz" if gz else name)).write_bytes(gzip.compress(data) if gz else data)
    return arrays


def test_the_image_tasks_are_registered_without_a_rule():
    assert set(IMAGE_TASKS) == {"digits", "mnist", "fashion_mnist"}
    for name in IMAGE_TASKS:
        task = make_task(name)  # reads no file: `twoclocks tasks` lists them anywhere
        assert task.kind == "image" and not task.population_known and task.mem_chance(16) == 0.0


def test_idx_round_trip_of_every_type():
    for dtype in (np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64):
        array = np.arange(24, dtype=dtype).reshape(2, 3, 4)
        back = parse_idx(idx_bytes(array))
        assert back.dtype == np.dtype(dtype) and (back == array).all()


def test_idx_header_by_hand():
    data = bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6])
    assert parse_idx(data).tolist() == [[1, 2, 3], [4, 5, 6]]


@pytest.mark.parametrize(
    "data,problem",
    [
        (b"\x00\x00", "truncated"),
        (b"\x89PNG\r\n\x1a\n", "not an IDX file"),  # wrong magic
        (bytes([0, 0, 8, 3, 0, 0, 0, 1]), "truncated"),  # header cut short
        (bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]), "truncated"),  # body cut short
        (bytes([0, 0, 8, 1, 0, 0, 0, 1, 1, 2]), "longer than its header says"),
        (bytes([0, 0, 7, 1, 0, 0, 0, 1, 1]), "not an IDX file"),  # unknown type code
    ],
)
def test_damaged_idx_is_one_line(tmp_path, data, problem):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(data)
    with pytest.raises(TwoClocksError, match=problem) as info:
        read_idx(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_damaged_gzip_is_one_line(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((5, 4), np.uint8)))[:-12])
    with pytest.raises(TwoClocksError, match="damaged gzip") as info:
        read_idx(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("gz,dotted", [(False, False), (True, False), (True, True)])
def test_mnist_from_a_folder_of_idx_files(tmp_path, gz, dotted):
    train, ytrain, test, ytest = write_idx_set(tmp_path / "d", gz=gz, dotted=dotted)
    task = make_task("mnist", root=str(tmp_path / "d"), size=14, levels=3)
    assert task.train_split.shape == (40, 14, 14) and task.heldout.shape == (20, 14, 14)
    assert (task.train_split == sources.quantise(train, 255, 14, 3)).all()
    assert (task.splits.test_labels == ytest).all() and task.train_split.max() <= 2


def test_a_missing_idx_file_names_the_file_and_the_folder(tmp_path):
    write_idx_set(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(ConfigError) as info:
        make_task("mnist", root=str(tmp_path)).sample(1, np.random.default_rng(0))
    message = str(info.value)
    assert "t10k-labels-idx1-ubyte" in message and str(tmp_path) in message and "\n" not in message
    with pytest.raises(ConfigError, match="task.root=DIR"):
        make_task("mnist").sample(1, np.random.default_rng(0))


def test_idx_files_that_are_not_mnist_are_one_line(tmp_path):
    write_idx_set(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((20, 14, 14), np.uint8)))
    with pytest.raises(TwoClocksError, match="28x28"):
        make_task("mnist", root=str(tmp_path)).sample(1, np.random.default_rng(0))
    write_idx_set(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(39, np.uint8)))
    with pytest.raises(TwoClocksError, match="labels of shape"):
        make_task("mnist", root=str(tmp_path)).sample(1, np.random.default_rng(0))


@pytest.mark.parametrize(
    "name,params,field",
    [
        ("digits", {"levels": 1}, "task.levels"),
        ("digits", {"levels": 18}, "task.levels"),
        ("digits", {"size": 6}, "task.size"),
        ("mnist", {"size": 13}, "task.size"),
        ("mnist", {"split": "C"}, "task.split"),
        ("mnist", {"root": " "}, "task.root"),
    ],
)
def test_bad_parameters_are_one_line(name, params, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")) as info:
        make_task(name, **params)
    assert "\n" not in str(info.value)


def test_quantise_matches_a_per_cell_loop():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    images[0, :2, :2] = [[0, 255], [255, 0]]  # a block whose mean is exactly one half
    for size, levels in ((28, 2), (14, 2), (14, 5), (7, 17)):
        got = sources.quantise(images, 255, size, levels)
        f = 28 // size
        for n in range(3):
            for i in range(size):
                for j in range(size):
                    mean = Fraction(int(images[n, i * f : (i + 1) * f, j * f : (j + 1) * f].sum()), f * f * 255)
                    level = int(mean * (levels - 1) + Fraction(1, 2))  # floor, halves up
                    assert got[n, i, j] == level
    assert sources.quantise(images, 255, 14, 2)[0, 0, 0] == 1  # the half rounds up


def test_digits_split_and_levels():
    splits = sources.load("digits")
    assert len(splits.train) == 1198 and len(splits.test) == sources.DIGITS_TEST == 599
    task = make_task("digits", levels=17)
    assert (task.train_split == splits.train).all()  # 17 levels are the digits' own 0..16
    assert (make_task("digits", levels=2).train_split == (splits.train >= 8)).all()
    assert make_task("digits", size=4).heldout.shape == (599, 4, 4)


def test_training_sets_are_prefixes_of_one_seeded_permutation():
    task = make_task("digits", levels=4)
    sets = {N: draw_training_set(task, N, np.random.default_rng(3)) for N in (16, 64, 512)}
    assert (sets[64][:16] == sets[16]).all() and (sets[512][:64] == sets[64]).all()
    order = np.random.default_rng(3).permutation(1198)
    assert (sets[512] == task.train_split[order[:512]]).all()  # no duplicates at 4 levels
    again = draw_training_set(task, 64, np.random.default_rng(3))
    assert (again == sets[64]).all()
    assert not (draw_training_set(task, 64, np.random.default_rng(4)) == sets[64]).all()
    many = task.sample(3000, np.random.default_rng(0))  # more than one pass
    assert len(many) == 3000 and len(np.unique(many[:1198].reshape(1198, -1), axis=0)) == 1198


def test_halves_are_disjoint_balanced_and_cover():
    labels = sources.load("digits").train_labels
    a, b = halves(labels)
    assert len(np.intersect1d(a, b)) == 0 and len(a) + len(b) == len(labels)
    assert (np.abs(np.bincount(labels[a], minlength=10) - np.bincount(labels[b], minlength=10)) <= 1).all()
    task_a, task_b = make_task("digits", split="A"), make_task("digits", split="B")
    assert (task_a.pool_index == a).all() and (task_b.pool_index == b).all()
    seen_a = {x.tobytes() for x in task_a.sample(600, np.random.default_rng(0))}
    assert seen_a <= {x.tobytes() for x in task_a.train_split[a]}
    assert task_a.content_hash() != task_b.content_hash()


@pytest.mark.skipif(not sources.DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_the_debian_files():
    task = make_task("fashion_mnist", size=14, levels=2)
    assert task.train_split.shape == (60000, 14, 14) and task.heldout.shape == (10000, 14, 14)
    counts = np.bincount(task.splits.train_labels, minlength=10)
    assert (counts == 6000).all()
    assert task.train_split.dtype == np.uint8 and set(np.unique(task.train_split)) == {0, 1}
