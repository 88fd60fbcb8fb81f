"""train.tensorboard: each evaluation's metrics and every step's loss as TensorBoard scalars,
resumed without repeats."""

from __future__ import annotations

import pytest

from conftest import TINY
from twoclocks.config import build_config
from twoclocks.training.group import train_group
from twoclocks.training.rundir import RunDir
from twoclocks.training.runner import resume_run, start_run

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402


def scalars(run_dir, tag: str) -> list[tuple[int, float]]:
    acc = EventAccumulator(str(RunDir(run_dir).tensorboard_dir))
    acc.Reload()
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def test_evaluations_become_scalars(tmp_path):
    _, summary = start_run(build_config([*TINY, "train.tensorboard=true"]), tmp_path / "r", progress=False)
    metrics = RunDir(tmp_path / "r").load_metrics()
    valid = scalars(tmp_path / "r", "run/valid")
    assert [s for s, _ in valid] == metrics["step"].tolist()
    assert [v for _, v in valid] == pytest.approx(metrics["valid"].tolist())
    assert len(scalars(tmp_path / "r", "run/loss")) == len(metrics)


def assert_step_losses(run_dir) -> None:
    """One train/loss scalar per training step, whose means over the steps between evaluations
    are the evaluations' losses."""
    losses = scalars(run_dir, "train/loss")
    metrics = RunDir(run_dir).load_metrics()
    assert [s for s, _ in losses] == list(range(1, int(metrics["step"].iloc[-1]) + 1))
    previous = 0
    for step, loss in zip(metrics["step"], metrics["loss"]):
        window = [v for s, v in losses if previous < s <= step]
        assert sum(window) / len(window) == pytest.approx(loss, rel=1e-5)
        previous = step


def test_every_step_has_its_loss(tmp_path):
    start_run(build_config([*TINY, "train.tensorboard=true"]), tmp_path / "r", progress=False)
    assert_step_losses(tmp_path / "r")


def test_members_of_a_group_log_their_step_losses(tmp_path):
    cfgs = [build_config([*TINY, "train.tensorboard=true", f"seed={s}"]) for s in range(2)]
    train_group(cfgs, [tmp_path / "g0", tmp_path / "g1"])
    for d in ("g0", "g1"):
        assert_step_losses(tmp_path / d)
    assert scalars(tmp_path / "g0", "train/loss") != scalars(tmp_path / "g1", "train/loss")


def test_off_by_default(tmp_path):
    start_run(build_config(TINY), tmp_path / "r", progress=False)
    assert not RunDir(tmp_path / "r").tensorboard_dir.exists()


def test_resume_does_not_repeat_steps(tmp_path, monkeypatch):
    from twoclocks.training.trainer import Trainer

    cfg = build_config([*TINY, "train.tensorboard=true"])
    original = Trainer.evaluate_and_record
    calls = {"n": 0}

    def crash_on_third(self):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(Trainer, "evaluate_and_record", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        start_run(cfg, tmp_path / "r", progress=False)
    monkeypatch.setattr(Trainer, "evaluate_and_record", original)
    resume_run(tmp_path / "r", progress=False)
    steps = [s for s, _ in scalars(tmp_path / "r", "run/valid")]
    assert steps == sorted(set(steps)) == RunDir(tmp_path / "r").load_metrics()["step"].tolist()
    assert_step_losses(tmp_path / "r")
