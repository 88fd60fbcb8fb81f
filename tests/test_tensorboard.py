"""train.tensorboard: each evaluation's metrics as TensorBoard scalars, resumed without repeats."""

from __future__ import annotations

import pytest

from conftest import TINY
from twoclocks.config import build_config
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
