"""`twoclocks predict --json` is strict JSON: a value that does not exist is null, never NaN or
Infinity (which a strict parser refuses)."""

from __future__ import annotations

import json
import math

import pytest

from predict_tables import synthetic_runs
from twoclocks.cli import main as cli_main
from twoclocks.prediction import fitted
from twoclocks.prediction.predict import ClockPrediction, Laws


def strict(text: str) -> dict:
    def refuse(name: str) -> None:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def laws() -> Laws:
    return Laws.fit(synthetic_runs(), draws=10)


@pytest.mark.parametrize("steps", ["auto", "2500"])
def test_predict_json_parses_strictly(laws, monkeypatch, capsys, steps):
    monkeypatch.setattr(fitted, "reference_laws", lambda: laws)
    assert cli_main(["predict", "data.N=24", "task.G=2", f"train.steps={steps}", "--json"]) == 0
    out = strict(capsys.readouterr().out)
    within = [c["p_within_steps"] for c in out["clocks"].values()]
    if steps == "auto":  # no budget to be within: the probability does not exist
        assert within == [None] * 4 and out["steps"] is None
    else:
        assert all(0.0 <= p <= 1.0 for p in within) and out["steps"] == 2500


def test_a_bound_beyond_a_float_is_null():
    p = ClockPrediction("tau_rule", "power", 3.0e5, {0.8: (10.0, math.inf), 0.95: (math.nan, math.inf)}, math.nan)
    out = strict(json.dumps(p.to_dict(), allow_nan=False))
    assert out == {
        "form": "power",
        "median": 3.0e5,
        "p_within_steps": None,
        "unreached_above": None,
        "not_predicted": None,
        "interval_80": [10.0, None],
        "interval_95": [None, None],
    }
