"""train.stop_at is declared once (twoclocks.clocks.stopat.STOP_AT): a choice added there is a value the
config accepts, a stop that training honours, a budget that train.steps=auto sizes and a
filter on the runs that fits and claims take as observations of tau_mem."""

from __future__ import annotations

import pandas as pd
import pytest

import twoclocks.clocks.stopat as stopat
from twoclocks.config import build_config
from twoclocks.errors import ConfigError
from twoclocks.prediction.autobudget import budget_from, budget_record
from twoclocks.prediction.predict import ClockPrediction, Prediction
from twoclocks.prediction.variables import waited_for
from twoclocks.sweeps.claims.registry import measuring_mem
from twoclocks.training.stopping import stop_reason, wanted_curves


@pytest.fixture
def near(monkeypatch):
    """A new choice: stop once near copies (tau_mem_near) are settled."""
    monkeypatch.setitem(stopat.STOP_AT, "near", stopat.StopAt(lambda: ("tau_mem_near",)))


def metrics(mem_near: list[float]) -> list[dict]:
    """Evaluations at steps 10, 20, 40, ...: nothing learned, no exact copies, near copies as given."""
    return [
        {"step": 10 * 2**i, "valid": 0.0, "constraint_acc": 0.0, "mem": 0.0, "mem_chance": 0.0}
        | {"mem_near": m, "mem_near_chance": 0.05}
        for i, m in enumerate(mem_near)
    ]


def test_the_config_accepts_a_declared_choice_and_names_it_when_refusing_another(near):
    assert build_config(["train.stop_at=near"]).train.stop_at == "near"
    with pytest.raises(ConfigError, match=r"^train.stop_at must be one of none, rule, mem, near, got 'far'$"):
        build_config(["train.stop_at=far"])


def test_training_waits_for_the_clocks_the_choice_names(near):
    cfg = build_config(["train.stop_at=near"])
    # excess over chance: 0, 0.05, 0.25, 0.35 against theta_mem = 0.1: held from the third evaluation
    rows = metrics([0.05, 0.1, 0.3, 0.4])
    [(name, curve, theta)] = wanted_curves(cfg, pd.DataFrame(rows))
    assert name == "tau_mem_near" and theta == cfg.clocks.theta_mem
    assert curve == pytest.approx([0.0, 0.05, 0.25, 0.35])
    assert stop_reason(cfg, rows[:3]) is None  # held at the third evaluation, not yet confirmed
    assert stop_reason(cfg, rows) == "tau_mem_near settled (train.stop_at=near)"
    # the same curves do not stop a run waiting for exact copies
    assert stop_reason(build_config(["train.stop_at=mem"]), rows) is None


def prediction(uppers: dict[str, float]) -> Prediction:
    return Prediction(
        clocks={
            c: ClockPrediction(c, "law", u / 2, {0.8: (u / 4, u / 1.5), 0.95: (u / 8, u)}, 0.5)
            for c, u in uppers.items()
        },
        window_log10=(1.0, 0.5, 1.5),
        p_window_open=0.5,
        steps=None,
        fitted_on="the test",
    )


def test_auto_budget_sizes_by_the_choices_clocks(monkeypatch):
    monkeypatch.setitem(stopat.STOP_AT, "low", stopat.StopAt(lambda: ("tau_rule_low",)))
    laws = prediction({"tau_rule": 9000.0, "tau_rule_low": 1234.0, "tau_group": 500.0, "tau_mem": 70000.0})
    assert budget_from(laws, "low", 0) == 1300  # 1234 rounded up to two significant digits
    assert budget_from(laws, "none", 0) == 70000
    cfg = build_config(["train.stop_at=low"])
    assert budget_record(laws, cfg, 1300)["waits_for"] == ["tau_rule_low"]
    monkeypatch.setitem(stopat.STOP_AT, "near", stopat.StopAt(lambda: ("tau_mem_near",)))
    with pytest.raises(ConfigError, match="the laws have no tau_mem_near to size train.stop_at=near by"):
        budget_from(laws, "near", 0)


def test_runs_stopped_before_tau_mem_are_no_observation_of_it(near):
    table = pd.DataFrame(
        {
            "train.stop_at": ["none", "rule", "mem", "near", float("nan")],
            "tau_mem": [None, None, 5e4, None, 7e4],
            "tau_mem_censored": [True, True, False, True, False],
        }
    )
    assert waited_for(table, "tau_mem").tolist() == [True, False, True, False, True]
    assert waited_for(table, "tau_rule").all()
    assert measuring_mem(table)["train.stop_at"].fillna("-").tolist() == ["none", "mem", "-"]
