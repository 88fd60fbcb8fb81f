"""Training on a file of items (`data.path`): exactly those items, checked against the run's
task, kept by content hash; a kill -9 resumes to the same metrics on the same items, an edited
file is refused, and every bad file is one line, exit 1, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import twoclocks as tc
from conftest import (
    KILLABLE,
    TINY,
    crash_at_step,
    each_bad_input_is_one_line,
    kill_after_evaluations,
    run_cli,
    run_metrics,
)
from plugin_files import RULE
from twoclocks import cli
from twoclocks.config import build_config
from twoclocks.tasks import make_task
from twoclocks.training.experiment import build_experiment
from twoclocks.training.rundir import RunDir
from twoclocks.training.runner import resume_run, train_new
from twoclocks.training.trainer import Trainer


def parity_items(count: int, seed: int = 3) -> np.ndarray:
    """`count` distinct valid 6x6 images of G = 2 parity, uint8."""
    return make_task("parity", G=2).sample(count * 4, np.random.default_rng(seed))[:count]


@pytest.fixture
def items_file(tmp_path: Path) -> Path:
    items = np.unique(parity_items(40), axis=0)[:12]
    np.random.default_rng(0).shuffle(items)
    path = tmp_path / "items.npy"
    np.save(path, items)
    return path


def test_a_run_trains_on_exactly_the_file_s_first_n_items(tmp_path, items_file):
    run = tc.run([*TINY, f"data.path={items_file}", "data.N=5"], out=tmp_path / "r", progress=False)
    assert np.array_equal(run.train_set, np.load(items_file)[:5])
    data = run.config.data
    assert data.path == str(items_file.resolve()) and data.N == 5 and len(data.hash) == 16
    every = build_config([f"data.path={items_file}"])  # without data.N: every item of the file
    assert every.data.N == 12


def test_an_npz_with_a_cells_array_works_as_a_run_s_train_set_does(tmp_path, items_file):
    first = tc.run([*TINY, f"data.path={items_file}", "data.N=6"], out=tmp_path / "a", progress=False)
    again = build_config([f"data.path={first.path / 'train_set.npz'}"])  # train_set.npz: cells and task_hash
    assert again.data.N == 6
    second = tc.run(
        [*TINY, f"data.path={first.path / 'train_set.npz'}", "data.N=6"], out=tmp_path / "b", progress=False
    )
    pd.testing.assert_frame_equal(run_metrics(first.path), run_metrics(second.path))


def test_a_data_file_run_resumes_after_kill_9_to_the_same_metrics_on_the_same_items(tmp_path, items_file):
    args = [*KILLABLE, f"data.path={items_file}"]
    full = tc.run(args, out=tmp_path / "full", progress=False)
    kill_after_evaluations(args, tmp_path / "killed", evaluations=2)
    assert not (tmp_path / "killed" / "summary.json").exists(), "the run ended before it was killed"
    resumed = run_cli("run", "--resume", str(tmp_path / "killed"), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    pd.testing.assert_frame_equal(run_metrics(full.path), run_metrics(tmp_path / "killed"))
    assert np.array_equal(tc.load(tmp_path / "killed").train_set, np.load(items_file)[:8])  # TINY: data.N=8


def test_a_changed_data_file_is_refused_on_resume_in_one_line(tmp_path, items_file):
    tc.run([*TINY, f"data.path={items_file}"], out=tmp_path / "r", progress=False)
    (tmp_path / "r" / "summary.json").unlink()  # unfinished: resuming must check the file
    before = run_metrics(tmp_path / "r")
    np.save(items_file, np.load(items_file)[::-1])
    done = run_cli("run", "--resume", str(tmp_path / "r"))
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "changed since the run was configured" in done.stderr and str(items_file) in done.stderr
    pd.testing.assert_frame_equal(before, run_metrics(tmp_path / "r"))


def test_items_given_to_build_experiment_are_the_items_a_resumed_run_trains_on(tmp_path, monkeypatch):
    """The internal route: a run started on given items and interrupted continues on them,
    never on a new draw from the task's sampler."""
    cfg = build_config(TINY)
    items = parity_items(8, seed=11)
    full = RunDir(tmp_path / "full")
    full.create()
    train_new(build_experiment(cfg, train_cells=items), full, progress=False)
    crashed = RunDir(tmp_path / "crashed")
    crashed.create()
    with crash_at_step(monkeypatch, Trainer, step=37):
        train_new(build_experiment(cfg, train_cells=items), crashed, progress=False)
    resume_run(crashed.path, progress=False)
    assert np.array_equal(crashed.load_train_set(), items)
    pd.testing.assert_frame_equal(run_metrics(full.path), run_metrics(crashed.path))
    drawn = build_experiment(cfg).train_cells
    assert not np.array_equal(drawn, items)  # the config alone would have drawn others


def test_a_rule_that_does_not_know_its_population_says_so_and_takes_data_population(tmp_path, items_file, capsys):
    rule = tmp_path / "myrule.py"
    rule.write_text(RULE)
    np.save(tmp_path / "rows.npy", make_task("parity", n=4, G=4).sample(6, np.random.default_rng(0)))
    args = [*TINY, f"task={rule}:CountlessRowParity", f"data.path={tmp_path / 'rows.npy'}", "data.N=6"]
    code = cli.main(["run", *args, "--out", str(tmp_path / "unknown")])
    out = capsys.readouterr()
    assert code == 0 and "population of countless_row_parity(n=4) is unknown" in out.err
    assert "mem_chance=0.00e+00 (population unknown: taken as 0)" in out.out
    summary = json.loads((tmp_path / "unknown" / "summary.json").read_text())
    assert summary["mem_chance"] == 0.0
    given = tc.run([*args, "data.population=4096"], out=tmp_path / "given", progress=False)
    assert given.summary["mem_chance"] == pytest.approx(6 / 4096)


def bad_files(folder: Path) -> list[tuple[list[str], str]]:
    good = parity_items(8)
    np.save(folder / "small.npy", good[:3])
    np.save(folder / "shape.npy", np.zeros((4, 5, 5), np.uint8))
    np.save(folder / "flat.npy", np.zeros((4, 36), np.uint8))
    np.save(folder / "values.npy", good * 2)
    np.save(folder / "floats.npy", good.astype(np.float32))
    np.save(folder / "repeats.npy", np.concatenate([good[:4], good[:2]]))
    broken = good.copy()
    broken[5, 0, 0] ^= 1
    np.save(folder / "broken.npy", broken)
    np.savez(folder / "two.npz", a=good, b=good)
    (folder / "garbage.npy").write_bytes(b"not an array")
    (folder / "items.txt").write_text("0 1\n")
    return [
        ([f"data.path={folder / 'missing.npy'}"], "no such file"),
        ([f"data.path={folder / 'items.txt'}"], "expected a .npy or .npz file"),
        ([f"data.path={folder / 'garbage.npy'}"], "unreadable"),
        ([f"data.path={folder / 'two.npz'}"], "name the items' array 'cells'"),
        ([f"data.path={folder / 'flat.npy'}"], "expected items of shape (n, H, W)"),
        ([f"data.path={folder / 'floats.npy'}"], "expected integer cells"),
        ([f"data.path={folder / 'small.npy'}", "data.N=8"], "data.N=8 but data.path"),
        ([f"data.path={folder / 'shape.npy'}", "data.N=4"], "items are 5x5"),
        ([f"data.path={folder / 'values.npy'}"], "cell value 2 is not below"),
        ([f"data.path={folder / 'repeats.npy'}", "data.N=6"], "2 of the first 6 items repeat earlier ones"),
        ([f"data.path={folder / 'broken.npy'}"], "1 of the first 8 items break the rule"),
        ([f"data.path={folder / 'small.npy'}", "data.hash=0123456789abcdef"], "changed since the run"),
        (["data.hash=0123456789abcdef"], "data.hash is set but data.path is not"),
        (["data.population=100"], "knows its population"),
    ]


def test_every_bad_data_input_is_one_line_exit_1_and_writes_nothing(tmp_path, capsys, monkeypatch):
    files = tmp_path / "files"
    files.mkdir()
    each_bad_input_is_one_line(tmp_path, monkeypatch, capsys, bad_files(files))


def test_a_sweep_over_data_n_of_a_file_refuses_an_n_beyond_it_before_writing(tmp_path, items_file, capsys):
    """The first as a user runs it (a fresh process), the second in this one."""
    done = run_cli("sweep", *TINY, f"data.path={items_file}", "--grid", "data.N=4,20", "--out", str(tmp_path / "s"))
    assert done.returncode == 1 and "data.N=20 but data.path" in done.stderr, done.stderr
    assert not (tmp_path / "s").exists()
    code = cli.main(
        ["sweep", *TINY, f"data.path={items_file}", "task.G=3", "--seeds", "2", "--out", str(tmp_path / "s")]
    )
    err = capsys.readouterr().err
    assert code == 1 and "break the rule of parity(n=6, G=3" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "s").exists()
