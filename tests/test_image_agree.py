"""`twoclocks agree`: two runs on the halves of an image data set (tiny IDX files the test
writes), their agreement per step against a loop over the saved samples, and the pairs it
refuses in one line."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from conftest import TINY
from test_image_tasks import write_idx_set
from twoclocks.analysis.agree import agreement_table, regained
from twoclocks.cli import main as cli
from twoclocks.config import build_config
from twoclocks.errors import TwoClocksError
from twoclocks.evaluate import load_outcomes
from twoclocks.training.rundir import RunDir
from twoclocks.training.runner import start_run


@pytest.fixture(scope="module")
def halves(tmp_path_factory):
    root = tmp_path_factory.mktemp("agree")
    cache = pytest.MonkeyPatch()
    cache.setenv("XDG_CACHE_HOME", str(root / "cache"))
    write_idx_set(root / "d", n_train=40, n_test=20)
    base = [*TINY, "task=mnist", f"task.root={root / 'd'}", "task.size=14", "train.steps=30"]
    runs = [start_run(build_config([*base, f"task.split={h}"]), root / h, progress=False)[0] for h in "AB"]
    yield runs
    cache.undo()


def test_agreement_per_step_is_the_fraction_of_identical_pairs(halves):
    res = agreement_table(*halves)
    files = [dict(RunDir(r).sample_files()) for r in halves]
    assert list(res.table["step"]) == sorted(files[0])
    for _, row in res.table.iterrows():
        a, b = (load_outcomes(f[int(row["step"])]).cells for f in files)
        same = [np.array_equal(a[i], b[i]) for i in range(len(a))]
        dist = [np.sqrt(((a[i].astype(float) - b[i].astype(float)) ** 2).sum()) for i in range(len(a))]
        assert row["agree"] == pytest.approx(np.mean(same)) and row["agree_l2"] == pytest.approx(np.mean(dist))


def test_a_run_against_its_own_samples_agrees_from_the_first_step(halves, tmp_path, capsys):
    twin = tmp_path / "twin"
    shutil.copytree(halves[0], twin)
    config = json.loads((twin / "config.json").read_text())
    config["task"]["split"] = "B"
    (twin / "config.json").write_text(json.dumps(config))
    res = agreement_table(halves[0], twin)
    assert (res.table["agree"] == 1).all() and (res.table["agree_l2"] == 0).all()
    assert res.tau == res.table["step"].iloc[0] and res.left_censored and res.start_lost is None
    assert cli(["agree", str(halves[0]), str(twin)]) == 0
    out = capsys.readouterr().out
    assert "tau_agree = " in out and "left-censored" in out


STEPS = np.array([10, 20, 40, 80, 160, 320])


@pytest.mark.parametrize(
    ("curve", "expected"),
    [
        # the shared start agrees, loses it at 40, regains it between 80 and 160 and holds
        ([0.9, 0.7, 0.1, 0.3, 0.7, 0.8], (80 * 2 ** ((0.5 - 0.3) / 0.4), False)),
        # the shared start's agreement is lost and never regained: not the first evaluation
        ([0.9, 0.8, 0.2, 0.1, 0.1, 0.0], (None, False)),
        # never below: the first evaluation, left-censored
        ([0.9, 0.8, 0.9, 0.6, 0.7, 0.9], (10.0, True)),
        # below from the start (other starts): the plain held crossing, the last evaluation
        # holding without a successor
        ([0.0, 0.1, 0.2, 0.6, 0.4, 0.6], (160 * 2**0.5, False)),
        ([0.0, 0.1, 0.2, 0.6, 0.6, 0.6], (40 * 2**0.75, False)),
    ],
)
def test_agreement_counts_only_after_the_shared_start_is_lost(curve, expected):
    tau, left = regained(STEPS, np.array(curve), 0.5)
    assert left == expected[1]
    assert (tau is None) == (expected[0] is None)
    if tau is not None:
        assert tau == pytest.approx(expected[0])


def test_runs_that_are_not_two_halves_are_refused_in_one_line(halves, tmp_path):
    with pytest.raises(TwoClocksError, match="task.split=A and task.split=B"):
        agreement_table(halves[0], halves[0])
    other = tmp_path / "other"
    shutil.copytree(halves[1], other)
    config = json.loads((other / "config.json").read_text())
    config["eval"]["noise_seed"] = 99
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(TwoClocksError, match="sampling noise"):
        agreement_table(halves[0], other)


def test_an_evaluation_kept_by_one_run_only_is_skipped_and_said(halves, tmp_path, capsys):
    b = tmp_path / "b"
    shutil.copytree(halves[1], b)
    step, path = RunDir(b).sample_files()[0]
    path.unlink()
    res = agreement_table(halves[0], b)
    assert res.unpaired == [step] and step not in set(res.table["step"])
    assert cli(["agree", str(halves[0]), str(b)]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"kept by one run only, skipped: step {step:,}" in err, err
