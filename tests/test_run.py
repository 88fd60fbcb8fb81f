"""End-to-end runs: files, resume identity (including kill -9), and bad input."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import TINY, copy_run, crash_at_step, kill_after_evaluations, run_cli
from twoclocks import cli
from twoclocks.config import build_config
from twoclocks.errors import CheckpointError, TrainingDiverged
from twoclocks.training import checkpoint
from twoclocks.training.rundir import RunDir
from twoclocks.training.runner import resume_run, start_run
from twoclocks.training.trainer import Trainer

TIMING = ["train_seconds", "eval_seconds"]


def deterministic(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=[c for c in TIMING if c in df]).reset_index(drop=True)


def test_run_directory_contents(tiny_run):
    run_dir = tiny_run  # start_run(build_config(TINY)), shared
    for name in (
        "config.json",
        "metrics.parquet",
        "summary.json",
        "train_set.npz",
        "plots/clocks.png",
        "checkpoints/last.pt",
    ):
        assert (run_dir / name).is_file(), name
    df = pd.read_parquet(run_dir / "metrics.parquet")
    assert list(df["step"]) == sorted(df["step"]) and df["step"].iloc[-1] == 60
    for col in (
        "valid",
        "constraint_acc",
        "mem",
        "mem_chance",
        "novel_valid",
        "unique_novel_valid",
        "nn_hamming_mean",
        "nn_hamming_q50",
        "loss",
        "eval_seconds",
        "valid_lo",
        "valid_hi",
    ):
        assert col in df, col
    s = json.loads((run_dir / "summary.json").read_text())
    for key in (
        "tau_rule",
        "tau_mem",
        "tau_rule_censored",
        "tau_mem_censored",
        "window_log10",
        "train_seconds",
        "eval_seconds",
        "wall_seconds",
        "config",
    ):
        assert key in s, key
    assert len(list((run_dir / "samples").glob("*.npz"))) == len(df)
    assert len(RunDir(run_dir).snapshots()) == len(df)


def test_same_seed_same_metrics(tiny_run, tmp_path):
    _, b = start_run(build_config(TINY), tmp_path / "b", progress=False)
    da = deterministic(pd.read_parquet(tiny_run / "metrics.parquet"))
    db = deterministic(pd.read_parquet(tmp_path / "b" / "metrics.parquet"))
    pd.testing.assert_frame_equal(da, db)
    _, c = start_run(build_config(TINY + ["seed=1"]), tmp_path / "c", progress=False)
    dc = deterministic(pd.read_parquet(tmp_path / "c" / "metrics.parquet"))
    assert not np.allclose(da["loss"], dc["loss"])


def test_crash_and_resume_is_identical(tiny_run, tmp_path, monkeypatch):
    with crash_at_step(monkeypatch, Trainer):
        start_run(build_config(TINY), tmp_path / "crashed", progress=False)
    assert not (tmp_path / "crashed" / "summary.json").exists()
    resume_run(tmp_path / "crashed", progress=False)
    pd.testing.assert_frame_equal(
        deterministic(pd.read_parquet(tiny_run / "metrics.parquet")),
        deterministic(pd.read_parquet(tmp_path / "crashed" / "metrics.parquet")),
    )
    a = torch.load(tiny_run / "checkpoints" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "crashed" / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_kill_dash_nine_then_resume_is_identical(tmp_path):
    """A real SIGKILL in the middle of training (after the third evaluation, at step 26, past
    the checkpoint of step 20); --resume in a fresh process ends with the metrics of a run that
    was never killed (this one's)."""
    args = TINY + ["train.steps=300", "eval.points=8", "train.checkpoint_every=20"]
    start_run(build_config(args), tmp_path / "full", progress=False)
    killed_dir = tmp_path / "killed"
    kill_after_evaluations(args, killed_dir, evaluations=3)
    assert not (killed_dir / "summary.json").exists(), "run finished before it could be killed"
    assert RunDir(killed_dir).has_checkpoint(), "run killed before its first checkpoint"
    resumed = run_cli("run", "--resume", str(killed_dir), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    pd.testing.assert_frame_equal(
        deterministic(pd.read_parquet(tmp_path / "full" / "metrics.parquet")),
        deterministic(pd.read_parquet(killed_dir / "metrics.parquet")),
    )
    sa = json.loads((tmp_path / "full" / "summary.json").read_text())
    sb = json.loads((killed_dir / "summary.json").read_text())
    for key in ("tau_rule", "tau_mem", "window_log10", "peak_novel_valid_step"):
        assert sa[key] == sb[key], key


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    from twoclocks.models.edm import EDMDiffusion

    original = EDMDiffusion.loss
    calls = {"n": 0}

    def poisoned(self, batch, gen):
        calls["n"] += 1
        loss = original(self, batch, gen)
        return loss * float("nan") if calls["n"] > 45 else loss

    monkeypatch.setattr(EDMDiffusion, "loss", poisoned)
    with pytest.raises(TrainingDiverged, match="NaN"):
        start_run(build_config(TINY), tmp_path / "r", progress=False)
    state = checkpoint.load(tmp_path / "r" / "checkpoints" / "last.pt")
    assert state["step"] <= 45
    assert all(torch.isfinite(v).all() for v in state["model"].values())


@pytest.mark.parametrize(
    "args,needle",
    [
        (["task=sudokuu"], "unknown task"),  # also in a subprocess, as a user runs it
        (["model=rnn"], "unknown model"),
        (["task.G=5"], "task.G=5 does not divide"),
        (["task.n=2", "task.G=2", "data.N=5", "model.patch=1"], "data.N=5 is larger than the population"),
        (["train.steps=0"], "train.steps must be positive"),
        (["train.batch=0"], "train.batch must be positive"),
        (["train.wat=1"], "unknown config key"),
        (["model.patch=4"], "model.patch=4 does not divide"),
    ],
)
def test_bad_input_one_line_error_no_run_dir(tmp_path, capsys, args, needle):
    """`twoclocks run ARGS` in this process; the first case also in a fresh one (nothing else
    on stderr then either: no warning at import)."""
    out = tmp_path / "r"
    code = cli.main(["run", *args, "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], err
    assert not out.exists()
    if args == ["task=sudokuu"]:
        res = run_cli("run", *args, "--out", str(out), "--quiet", timeout=120)
        assert res.returncode == code and res.stderr == err and not out.exists(), res.stderr


def test_unwritable_output_dir(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "f").write_text("x")  # a file where a directory is needed
    res = run_cli("run", *TINY, "--out", str(locked / "f" / "run"), "--quiet", timeout=120)
    assert res.returncode != 0 and "not writable" in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_corrupt_checkpoint_on_resume(tiny_run, tmp_path):
    run_dir = copy_run(tiny_run, tmp_path / "r")
    (run_dir / "summary.json").unlink()  # pretend it stopped before finishing
    last = run_dir / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        resume_run(run_dir, progress=False)
    res = run_cli("run", "--resume", str(run_dir), "--quiet", timeout=120)
    assert res.returncode != 0 and "corrupt or truncated" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_existing_nonempty_out_is_refused(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "keep.txt").write_text("mine")
    res = run_cli("run", *TINY, "--out", str(tmp_path / "r"), "--quiet", timeout=120)
    assert res.returncode != 0 and "already exists" in res.stderr
    assert (tmp_path / "r" / "keep.txt").read_text() == "mine"


def test_widths_that_are_not_multiples_of_four(tmp_path):
    # width 30 with 2 heads is valid: the position embedding pads its odd channels with zeros
    _, s = start_run(build_config(TINY + ["model.width=30", "train.steps=20"]), tmp_path / "r", progress=False)
    assert s["status"] == "finished"
