"""Hostile and careless input to the newest features, each class of failure once, with values
other than the ones that first showed it: IDX files that declare more than they hold or than
memory holds, labels and splits that cannot be trained on, a data folder named relative to the
working directory, run files that are not regular files, samples that do not pair, JSON that is
not strict, a sweep record edited by hand, messages that would span lines, and predictions of
configs a run refuses."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import struct
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import twoclocks.core.memory as memory
from test_image_agree import halves  # noqa: F401 (a fixture: two finished runs on the halves)
from test_image_tasks import write_idx_set
from twoclocks.analysis.agree import agreement_table
from twoclocks.cli import main as cli
from twoclocks.commands import json_text
from twoclocks.config import build_config
from twoclocks.core.io import read_bytes, write_json
from twoclocks.data import check_training_set_size
from twoclocks.errors import ConfigError, TwoClocksError, one_line
from twoclocks.evaluate import load_outcomes
from twoclocks.prediction.fitted import predict_overrides
from twoclocks.sweeps.spec import load_recorded_spec
from twoclocks.tasks import make_task
from twoclocks.tasks.images import idx, sources
from twoclocks.tasks.images.idx import idx_bytes, read_idx
from twoclocks.training.rundir import RunDir


def strict(text: str):
    def refuse(constant):
        raise AssertionError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def draw_first(root: Path, **params):
    return make_task("mnist", root=str(root), **params).sample(1, np.random.default_rng(0))


# ----- IDX files: sizes are checked before anything is allocated --------------------------------
@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(2**12, 2**32 - 1), min_size=2, max_size=6), st.sampled_from([0x08, 0x0B, 0x0E]))
def test_a_header_that_declares_more_than_memory_is_one_line(tmp_path_factory, sizes, code):
    path = tmp_path_factory.mktemp("idx") / "x"
    path.write_bytes(bytes([0, 0, code, len(sizes)]) + struct.pack(f">{len(sizes)}I", *sizes) + b"\0" * 64)
    with pytest.MonkeyPatch.context() as mp, pytest.raises(TwoClocksError, match="memory") as info:
        mp.setattr(memory, "available_ram", lambda: 1 << 20)  # any header here declares 16 MiB or more
        read_idx(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("ndim", [33, 64, 200])
def test_more_dimensions_than_an_array_has_is_not_an_idx_file(tmp_path, ndim):
    path = tmp_path / "x"
    path.write_bytes(bytes([0, 0, 8, ndim]) + struct.pack(f">{ndim}I", *[1] * ndim) + b"\0")
    with pytest.raises(TwoClocksError, match="not an IDX file"):
        read_idx(path)


def test_a_gzip_file_that_holds_far_more_than_its_header_is_read_no_further(tmp_path, monkeypatch):
    header = bytes([0, 0, 8, 2]) + struct.pack(">2I", 5, 7)
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(header + b"\0" * (8 << 20)))  # 8 MiB behind a 35-byte array
    monkeypatch.setattr(memory, "available_ram", lambda: 1 << 20)
    with pytest.raises(TwoClocksError, match=r"longer than its header says \(36 bytes"):
        read_idx(path)


@pytest.mark.parametrize(
    "labels,words",
    [
        (np.full(40, 2.0, np.float64), "float64 labels"),
        (np.full(40, np.inf, np.float32), "float32 labels"),
        (np.full(40, -7, np.int16), "a label -7"),
        (np.full(40, 12, np.uint8), "a label 12"),
    ],
)
def test_labels_that_are_not_classes_are_one_line(tmp_path, labels, words):
    write_idx_set(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    with pytest.raises(TwoClocksError, match=words):
        draw_first(tmp_path)


@pytest.mark.parametrize("stem", ["train-images-idx3-ubyte", "t10k-images-idx3-ubyte"])
def test_a_split_without_images_is_one_line(tmp_path, stem):
    write_idx_set(tmp_path)
    (tmp_path / stem).write_bytes(idx_bytes(np.zeros((0, 28, 28), np.uint8)))
    (tmp_path / stem.replace("images-idx3", "labels-idx1")).write_bytes(idx_bytes(np.zeros(0, np.uint8)))
    with pytest.raises(TwoClocksError, match="holds no images"):
        draw_first(tmp_path)


def test_a_half_without_images_is_one_line(tmp_path):
    write_idx_set(tmp_path, n_train=1)
    with pytest.raises(ConfigError, match="task.split=B .* holds no image"):
        draw_first(tmp_path, split="B")


def test_a_relative_data_folder_is_recorded_absolute(tmp_path, monkeypatch):
    write_idx_set(tmp_path / "data" / "m")
    monkeypatch.chdir(tmp_path / "data")
    cfg = build_config(["task=mnist", "task.root=./m/../m"])
    assert cfg.task["root"] == str(tmp_path / "data" / "m")
    monkeypatch.chdir(tmp_path)  # a resumed run elsewhere reads the same folder
    assert make_task("mnist", root=cfg.task["root"]).train_split.shape == (40, 14, 14)


# ----- run files that are not regular files -----------------------------------------------------
@pytest.mark.skipif(not Path("/dev/zero").exists() or not hasattr(os, "mkfifo"), reason="needs /dev/zero and FIFOs")
def test_a_link_to_a_device_or_a_fifo_is_refused_before_it_is_read(tmp_path):
    (tmp_path / "dev").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "folder").mkdir()
    for name in ("dev", "fifo", "folder"):
        with pytest.raises(TwoClocksError, match="not a regular file"):
            read_bytes(tmp_path / name)


@pytest.mark.parametrize(("dtype", "gz"), [(np.uint8, True), (np.uint8, False), (np.int16, True)])
def test_reading_an_idx_file_holds_no_more_than_the_memory_check_budgets(tmp_path, dtype, gz):
    """The check budgets twice the declared data: reading stays within it, but for the chunks
    it reads at a time (it was 3x the data)."""
    array = np.zeros((20000, 28, 28), dtype)
    path = tmp_path / "x"
    path.write_bytes(gzip.compress(idx_bytes(array), compresslevel=1) if gz else idx_bytes(array))
    tracemalloc.start()
    read = read_idx(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert np.array_equal(read, array) and peak <= 2 * array.nbytes + 4 * idx.CHUNK


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("kind", ["folder", "fifo", "dangling link"])
def test_an_idx_name_that_is_no_regular_file_is_not_called_missing(tmp_path, kind):
    write_idx_set(tmp_path)
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.unlink()
    {"folder": path.mkdir, "fifo": lambda: os.mkfifo(path), "dangling link": lambda: path.symlink_to(tmp_path / "x")}[
        kind
    ]()
    with pytest.raises(TwoClocksError, match="t10k-labels-idx1-ubyte is not a regular file"):
        draw_first(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(20, np.uint8))))
    assert draw_first(tmp_path).shape == (1, 14, 14)  # a regular spelling beside it is read


@pytest.mark.parametrize("n_test", [1, 2, 3])
def test_a_held_out_split_too_small_for_the_frechet_floor_is_one_line_before_a_run(tmp_path, capsys, n_test):
    write_idx_set(tmp_path / "d", n_train=40, n_test=n_test)
    out = tmp_path / "run"
    args = ["run", "task=mnist", f"task.root={tmp_path / 'd'}", "task.size=7", "data.N=8", "train.steps=20"]
    assert cli([*args, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"holds {n_test} images, fewer than the 4" in err, err
    assert not out.exists()


def test_a_task_root_that_is_a_file_is_called_so(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match="task.root: .* is not a folder"):
        draw_first(tmp_path / "f")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_metrics_file_that_is_a_fifo_is_not_called_missing(halves, tmp_path):  # noqa: F811
    run = shutil.copytree(halves[0], tmp_path / "run")
    (run / "metrics.parquet").unlink()
    os.mkfifo(run / "metrics.parquet")
    with pytest.raises(TwoClocksError, match="metrics.parquet is not a regular file"):
        RunDir(run).load_metrics()


# ----- agree: samples that do not pair ------------------------------------------------------------
def test_samples_that_do_not_pair_are_one_line(halves, tmp_path):  # noqa: F811
    b = tmp_path / "b"
    shutil.copytree(halves[1], b)
    step, path = RunDir(b).sample_files()[-1]
    z = dict(np.load(path))
    n = len(z["valid"])
    short = {k: (v[: n - 3] if v.ndim and len(v) == n else v) for k, v in z.items()}
    short["shape"] = np.array([n - 3, *z["shape"][1:]])
    with open(path, "wb") as fh:
        np.savez(fh, **short)
    assert len(load_outcomes(path).cells) == n - 3
    with pytest.raises(TwoClocksError, match="do not pair up"):
        agreement_table(halves[0], b)
    z["packed"], z["cells"] = np.array(False), np.full((n, 14, 14), 9, np.uint8)
    with open(path, "wb") as fh:
        np.savez(fh, **z)
    with pytest.raises(TwoClocksError, match="grey levels"):
        agreement_table(halves[0], b)


@pytest.mark.parametrize("shape", [(10**12, 8), (2**20, 2**11), (3, 2**31)])
def test_a_samples_file_declaring_more_than_memory_is_one_line_before_loading(tmp_path, monkeypatch, shape):
    """Its arrays' headers are read first: a small compressed file can declare terabytes."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": shape})
    path = tmp_path / "step_00000010.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("cells.npy", header.getvalue() + bytes(64))
    monkeypatch.setattr(memory, "available_ram", lambda: 2**30)
    with pytest.raises(TwoClocksError, match=r"needs about .* more than the 1.0 GiB available") as err:
        load_outcomes(path)
    assert "\n" not in str(err.value)


def test_a_samples_member_that_is_no_array_is_refused_unread(tmp_path):
    """numpy would hand a member not named .npy over as its raw bytes, decompressed whole."""
    path = tmp_path / "step_00000010.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("cells", bytes(2**20))
    with pytest.raises(TwoClocksError, match="holds 'cells', which is no array"):
        load_outcomes(path)


def test_packed_cells_longer_than_the_outcomes_are_refused_before_they_are_unpacked(halves, tmp_path):  # noqa: F811
    """A few kilobytes of zeros that would unpack to 8x their size: refused on the lengths."""
    step, path = RunDir(halves[0]).sample_files()[-1]
    z = dict(np.load(path))
    z["cells"] = np.zeros((2**22, z["cells"].shape[1]), np.uint8)
    bomb = tmp_path / "bomb.npz"
    np.savez_compressed(bomb, **z)
    tracemalloc.start()
    with pytest.raises(TwoClocksError, match="different lengths"):
        load_outcomes(bomb)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 3 * z["cells"].nbytes  # read once (and its copy), never unpacked


def test_every_json_file_of_an_image_run_is_strict_and_still_read(halves, tmp_path, capsys):  # noqa: F811
    """An unknown population is null in summary.json, not NaN, which parsers other than
    Python's refuse; every reader still reads it."""
    files = sorted(halves[0].rglob("*.json"))
    assert any(f.name == "summary.json" for f in files)
    for path in files:
        strict(path.read_text())
    assert json.loads((halves[0] / "summary.json").read_text())["log2_population"] is None
    copy = shutil.copytree(halves[0], tmp_path / "run")
    assert cli(["report", str(copy)]) == 0 and cli(["compare", str(copy), "--out", str(tmp_path / "c.png")]) == 0
    assert "population unknown" not in capsys.readouterr().err


@pytest.mark.parametrize(("split", "levels"), [("all", 2), ("A", 2), ("B", 4)])
def test_a_data_set_bounds_data_n_by_its_distinct_images_for_run_and_predict(tmp_path, capsys, split, levels):
    task = make_task("digits", split=split, levels=levels)
    pool = task.train_split[task.pool_index]
    distinct = len({image.tobytes() for image in pool})  # brute force, beside np.unique's rows
    assert task.distinct_items() == distinct <= len(pool)
    words = ["task=digits", f"task.split={split}", f"task.levels={levels}", f"data.N={distinct + 1}"]
    for command in (["run", *words, "--out", str(tmp_path / "r")], ["predict", *words]):
        assert cli(command) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"more than the {distinct:,} distinct items" in err, err
    assert not (tmp_path / "r").exists()
    # a data.path file brings its own items: the data set's count does not bound them
    check_training_set_size(task, distinct + 1, drawn=False)
    with pytest.raises(ConfigError, match="needs at least 2 training items"):
        check_training_set_size(task, 1, drawn=False)
    for command in (
        ["run", "task=digits", "data.N=1", "--out", str(tmp_path / "r")],
        ["predict", "task=digits", "data.N=1"],
    ):
        assert cli(command) == 1  # the ratio criterion reads a second-nearest training image
        assert "needs at least 2 training items" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


# ----- --json is strict JSON -----------------------------------------------------------------------
@given(st.recursive(st.floats() | st.integers() | st.text(max_size=3) | st.none(), lambda c: st.lists(c, max_size=3)))
def test_json_text_is_strict_whatever_the_numbers(value):
    strict(json_text({"value": value}))


def test_tasks_json_of_a_task_without_a_rule_is_strict(capsys):
    assert cli(["tasks", "task=digits", "task.levels=3", "--N", "7", "--json"]) == 0
    (row,) = strict(capsys.readouterr().out)
    assert row["log2_population"] is None and row["mem_chance"] is None


# ----- a sweep record edited by hand -------------------------------------------------------------
GOOD_SPEC = {"base": {"data.N": 8}, "grids": [], "seeds": [0]}


@pytest.mark.parametrize(
    "spec,execution",
    [
        (GOOD_SPEC, {"workers": "three"}),
        (GOOD_SPEC, {"threads": 0}),
        (GOOD_SPEC, {"executor": "slurm"}),
        (GOOD_SPEC, {"group": "no"}),
        (GOOD_SPEC, {"unheard_of": 2}),
        (GOOD_SPEC, ["workers", 2]),
        ({**GOOD_SPEC, "grids": {"data.N": [8]}}, {}),
        ({**GOOD_SPEC, "grids": [["data.N"]]}, {}),
        ({**GOOD_SPEC, "base": "data.N=8"}, {}),
        ({**GOOD_SPEC, "seeds": -2}, {}),
    ],
)
def test_a_sweep_record_is_checked_as_a_spec_file_is(tmp_path, spec, execution):
    write_json(tmp_path / "sweep.json", {"spec": spec, "execution": execution, "points": []})
    with pytest.raises(TwoClocksError) as info:
        load_recorded_spec(tmp_path)
    assert "\n" not in str(info.value)


def test_a_sound_sweep_record_keeps_its_options(tmp_path):
    write_json(tmp_path / "sweep.json", {"spec": GOOD_SPEC, "execution": {"workers": 3, "group": True}})
    spec = load_recorded_spec(tmp_path)
    assert (spec.workers, spec.group, spec.seeds) == (3, True, [0])


# ----- messages are one line ---------------------------------------------------------------------
@given(st.text())
def test_one_line_is_one_printable_line(text):
    line = one_line(text)
    assert line.isprintable() and (line == text) == text.isprintable()


def test_a_value_with_line_breaks_is_quoted_on_one_line(tmp_path, capsys):
    assert cli(["run", "task=mnist", "task.root=/no\r\nsuch\tfolder\x1b[2J", "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\\r\\n" in err and "\x1b" not in err
    assert not (tmp_path / "r").exists()


# ----- predictions of configs a run refuses ------------------------------------------------------
@pytest.mark.parametrize(
    "overrides,count",
    [
        ({"task": "ca", "task.width": 5, "data.N": 33}, 32),
        ({"task": "mirror", "task.n": 3, "task.axes": "both", "data.N": 17}, 16),
        ({"task": "queens", "task.n": 6, "data.N": 5}, 4),
    ],
)
def test_a_training_set_larger_than_the_population_is_not_predicted(overrides, count):
    with pytest.raises(ConfigError, match=f"larger than the population .*\\({count} valid items\\)"):
        predict_overrides(overrides)


def test_a_training_set_of_the_whole_population_is_predicted():
    assert predict_overrides({"task": "queens", "task.n": 8, "data.N": 92}).clocks


def test_sources_checks_live_in_one_place():
    assert sources.check_images.__module__ == sources.check_labels.__module__ == sources.__name__
