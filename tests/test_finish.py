"""A run directory's state (RunDir.state) decides, once, how it is finished: skipped, resumed,
started again from its inputs, or started. The CLI's resume, a sweep's worker and a group
(member by member) all go through that decision and end with the same outputs."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from conftest import SMALL
from twoclocks.config import build_config
from twoclocks.errors import TwoClocksError
from twoclocks.sweeps.worker import run_point
from twoclocks.training.group import train_group
from twoclocks.training.rundir import RunDir, State
from twoclocks.training.runner import finish, resume_run, start_run

TIMINGS = ["train_seconds", "eval_seconds"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("finish") / "run"
    start_run(build_config(SMALL), out, progress=False)
    return out


def copy(src, dst) -> RunDir:
    shutil.copytree(src, dst)
    return RunDir(dst)


def metrics(rd: RunDir) -> pd.DataFrame:
    return rd.load_metrics().drop(columns=TIMINGS)


def test_the_states_of_a_run_directory(finished, tmp_path):
    assert RunDir(tmp_path / "none").state() is State.ABSENT
    rd = copy(finished, tmp_path / "run")
    assert rd.state() is State.FINISHED
    rd.clocks_plot.unlink()  # an output lost: last.pt restores it
    assert rd.state() is State.CHECKPOINTED
    shutil.rmtree(rd.checkpoints_dir)
    assert rd.state() is State.INPUTS
    rd.clear()
    assert rd.state() is State.ABSENT


def inputs_only(finished, dst) -> RunDir:
    """What a kill before the first checkpoint leaves: config.json and the training set."""
    rd = copy(finished, dst)
    rd.clear(keep=rd.INPUTS)
    return rd


def test_every_caller_starts_a_run_with_inputs_only_again_from_them(finished, tmp_path):
    cfg = build_config(SMALL)
    by_cli = inputs_only(finished, tmp_path / "cli")
    resume_run(by_cli.path, progress=False)
    by_worker = inputs_only(finished, tmp_path / "worker")
    outcome = run_point(cfg.to_dict(), str(by_worker.path))
    assert outcome["status"] == "finished" and outcome["action"] == "restarted"
    assert run_point(cfg.to_dict(), str(by_worker.path))["action"] == "skipped"
    for rd in (by_cli, by_worker):
        pd.testing.assert_frame_equal(metrics(rd), metrics(RunDir(finished)))


def test_a_group_decides_member_by_member(finished, tmp_path):
    cfgs = [build_config(SMALL), build_config([*SMALL, "seed=1"])]
    dirs = [inputs_only(finished, tmp_path / "a"), RunDir(tmp_path / "b")]  # inputs only, absent
    train_group(cfgs, [d.path for d in dirs])
    assert [d.state() for d in dirs] == [State.FINISHED, State.FINISHED]
    pd.testing.assert_frame_equal(metrics(dirs[0]), metrics(RunDir(finished)))


def test_a_directory_of_another_config_is_refused_whatever_its_state(finished, tmp_path):
    other = build_config([*SMALL, "data.N=4"])
    rd = inputs_only(finished, tmp_path / "run")
    with pytest.raises(TwoClocksError, match="holds a run of another config"):
        rd.finishable_state(other)
    outcome = run_point(other.to_dict(), str(rd.path))
    assert outcome["status"] == "failed" and "another config" in outcome["error"]
    with pytest.raises(TwoClocksError, match="not a twoclocks run directory"):
        finish(RunDir(tmp_path / "empty"))
