"""train.precision=auto: resolved per device when a run is built, recorded in its saved config,
said in its first lines, and no part of a sweep point's identity."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import TINY
from twoclocks.config import build_config
from twoclocks.errors import ConfigError
from twoclocks.sweeps.spec import SweepSpec, config_hash, expand
from twoclocks.training import experiment
from twoclocks.training.runner import start_run


@pytest.mark.parametrize(("native", "expected"), [(True, "bf16"), (False, "fp32")])
def test_auto_is_bf16_only_where_the_device_computes_it_natively(monkeypatch, native, expected):
    monkeypatch.setattr(experiment, "native_bf16", lambda device: native)
    exp = experiment.build_experiment(build_config([*TINY, "train.device=cpu"]))
    assert build_config([]).train.precision == "auto"
    assert exp.cfg.train.precision == expected
    assert f"precision {expected} (cpu {'with' if native else 'without'} native bf16)" in exp.notes()


@pytest.mark.parametrize("native", [True, False])
def test_the_saved_config_holds_the_resolved_precision(tmp_path, monkeypatch, native):
    monkeypatch.setattr(experiment, "native_bf16", lambda device: native)
    cfg = build_config([*TINY, "train.steps=10", "eval.points=2"])
    run_dir, summary = start_run(cfg, tmp_path / "r", progress=False)
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["train"]["precision"] == ("bf16" if native else "fp32")
    assert summary["config"]["train"]["precision"] == saved["train"]["precision"]


def test_an_explicit_precision_is_kept_and_bf16_without_native_support_says_it_is_slow(monkeypatch):
    monkeypatch.setattr(experiment, "native_bf16", lambda device: False)
    for precision in ("bf16", "fp32"):
        exp = experiment.build_experiment(build_config([*TINY, "train.device=cpu", f"train.precision={precision}"]))
        assert exp.cfg.train.precision == precision
    slow = experiment.build_experiment(build_config([*TINY, "train.device=cpu", "train.precision=bf16"]))
    notes = [n for n in slow.notes() if "precision" in n]
    assert len(notes) == 1 and "train.precision=fp32" in notes[0] and "slower" in notes[0]


def test_a_cuda_device_is_asked_whether_it_computes_bf16(monkeypatch):
    for supported in (True, False):
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda supported=supported: supported)
        assert experiment.native_bf16(torch.device("cuda")) is supported


def test_precision_is_no_part_of_a_points_identity():
    hashes = {config_hash(build_config([f"train.precision={p}"])) for p in ("auto", "bf16", "fp32")}
    assert len(hashes) == 1
    # hashed at the old default, bf16, so that sweeps made before keep their hashes: the default
    # config's hash as it was when bf16 was the default
    assert hashes == {"c16853cd768477d64922158b6ecf03e79967d037d3feebe96fea2dc2007f036a"}


def test_a_grid_over_precision_is_refused_in_one_line():
    spec = SweepSpec(base={"train.steps": 10}, grids=[{"train.precision": ["bf16", "fp32"]}])
    with pytest.raises(ConfigError, match=r"^train.precision says how a point runs"):
        expand(spec)


def test_an_unknown_precision_is_refused():
    with pytest.raises(ConfigError, match="train.precision must be one of"):
        build_config(["train.precision=fp16"])
