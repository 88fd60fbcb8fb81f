"""A measurement field (eval.samples) at a value no fitted run had widens the intervals by its
measured effect, sd = k sqrt(|1/M - 1/M_fit|), and says so, instead of the same interval with a
warning."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from test_predict_rules import RULES, cfg, rule_runs
from twoclocks.prediction import measurement
from twoclocks.prediction.measurement import measured_effects, measurement_spread
from twoclocks.prediction.predict import Laws, predict_config

EFFECT = {"eval.samples": {"per_clock": {"tau_mem": 2.0, "tau_rule": 1.0}, "source": "a test"}}


@pytest.fixture
def effect(monkeypatch):
    monkeypatch.setattr(measurement, "measured_effects", lambda: EFFECT)


def test_the_spread_grows_with_the_distance_in_one_over_M(effect):
    table = pd.DataFrame({"eval.samples": [256, 256, 1024]})
    spread, said = measurement_spread({"eval.samples": 512}, table)
    assert spread["tau_mem"] == pytest.approx(2.0 * math.sqrt(1 / 512 - 1 / 1024))  # 1024 is nearer in 1/M
    assert spread["tau_rule"] == pytest.approx(1.0 * math.sqrt(1 / 512 - 1 / 1024))
    text = said["eval.samples"]
    assert len(said) == 1 and "eval.samples=512" in text and "256, 1024" in text and "read at 1024" in text
    assert measurement_spread({"eval.samples": 1024}, table) == ({}, {})  # a value a fitted run had
    assert measurement_spread({"eval.samples": 64}, table)[0]["tau_mem"] == pytest.approx(
        2.0 * math.sqrt(1 / 64 - 1 / 256)
    )


def test_a_prediction_at_another_eval_samples_is_wider_and_says_by_how_much(effect):
    laws = Laws.fit(rule_runs(rules=RULES[:3]), draws=10)  # every run at eval.samples=512

    def width(*overrides: str) -> tuple[float, list[str]]:
        p = predict_config(laws, cfg("task=mirror", "data.N=16", *overrides))
        lo, hi = p.clocks["tau_mem"].intervals[0.95]
        return math.log10(hi / lo), p.warnings

    same, warnings = width()
    other, said = width("eval.samples=128")
    sd = 2.0 * math.sqrt(1 / 128 - 1 / 512)
    assert other == pytest.approx(3.92 * math.hypot(same / 3.92, sd), rel=0.1)  # 95%: +-1.96 sd, in quadrature
    assert not any("eval.samples" in w for w in warnings)
    assert any("eval.samples=128" in w and "added to the intervals" in w for w in said), said
    assert not any("not in the law" in w and "eval.samples" in w for w in said), said


def test_the_shipped_effects_cover_every_predicted_clock():
    measured_effects.cache_clear()
    effects = measured_effects()
    assert set(effects) == {"eval.samples"}
    per_clock = effects["eval.samples"]["per_clock"]
    assert set(per_clock) == {"tau_rule", "tau_rule_low", "tau_group", "tau_mem"}
    assert all(0 < k < 20 for k in per_clock.values())


@pytest.mark.parametrize("family", ["dit", "gpt", "mdm"])
def test_the_first_samples_of_an_evaluation_are_those_of_a_smaller_one(family):
    # What benchmarks/eval_samples_effect.py rests on: the clocks of an evaluation of M' samples
    # are read from the first M' outcomes of one of M, because sample i has the same noise.
    import torch

    from twoclocks.config import build_config
    from twoclocks.training.experiment import build_experiment

    exp = build_experiment(build_config([f"model={family}", "model.width=16", "model.depth=1", "model.heads=2"]))

    def noise(M: int) -> torch.Tensor:
        return exp.model.make_sample_noise(M, torch.Generator().manual_seed(5))

    assert torch.equal(noise(512)[:256], noise(256)) and torch.equal(noise(512)[:128], noise(128))
