"""Predicting a config's clocks: laws fitted on runs drawn from a known law predict it, warn in
words outside the fitted runs, refuse what they never saw, and size train.steps=auto."""

from __future__ import annotations

import math

import numpy as np
import pytest

from predict_tables import LAW, SIGMA, synthetic_runs
from twoclocks.config import build_config, fixed_steps
from twoclocks.errors import ConfigError
from twoclocks.prediction.autobudget import ceil2, resolve_steps
from twoclocks.prediction.predict import Laws, predict_config
from twoclocks.sweeps.spec import config_hash

BASE = ["model.width=64", "model.heads=4", "eval.samples=512"]


@pytest.fixture(scope="module")
def laws() -> Laws:
    return Laws.fit(synthetic_runs())


def cfg(*overrides: str):
    return build_config([*BASE, *overrides])


def test_prediction_recovers_the_generating_law(laws):
    p = predict_config(laws, cfg("data.N=16", "task.G=2", "train.steps=100000"))
    for clock, (a, b) in LAW.items():
        truth = 10 ** (a + b * math.log10(16))
        c = p.clocks[clock]
        assert abs(math.log10(c.median / truth)) < 0.05, clock
        lo, hi = c.intervals[0.95]
        assert lo < truth < hi
        # The 95% interval is about +-1.96 sigma wide (sigma estimated from 30 runs, plus the
        # parameters' uncertainty); without the runs' scatter it would be a third of that.
        assert 0.75 < math.log10(hi / lo) / (2 * 1.96 * SIGMA) < 1.6
    assert p.p_window_open > 0.99
    assert p.warnings == []


def test_censored_runs_enter_as_lower_bounds(laws):
    # At N = 64 most tau_mem runs are censored at 20,000 steps: the law still says ~23,000.
    table = laws.runs.table
    assert table.loc[table["data.N"] == 64, "tau_mem_censored"].mean() > 0.5
    p = predict_config(laws, cfg("data.N=64", "task.G=2", "train.steps=5000"))
    truth = 10 ** (LAW["tau_mem"][0] + LAW["tau_mem"][1] * math.log10(64))
    assert abs(math.log10(p.clocks["tau_mem"].median / truth)) < 0.08
    assert p.clocks["tau_mem"].p_within < 0.01  # "not on this budget" is a prediction
    assert p.clocks["tau_rule"].p_within > 0.99


def test_extrapolation_is_said_in_words_for_each_variable(laws):
    p = predict_config(laws, cfg("data.N=256", "task.G=4", "model.depth=2", "train.warmup=50"))
    text = "\n".join(p.warnings)
    assert "data.N=256 is 4x above the largest data.N fitted for dit on parity (64)" in text
    assert "the rule's size (task.G=4: log2 population 27.0 bits) is outside the 18.0-24.0 bits" in text
    assert "model.depth=2: every fitted run has model.depth=4" in text
    assert "train.warmup=50: no fitted run has it" in text
    assert len(p.warnings) == 4
    assert "warning: data.N=256" in "\n".join(p.lines())


# A rule never fitted is predicted by its features (tests/test_predict_rules.py).
@pytest.mark.parametrize(("override", "field"), [("model=gpt", "model.family=gpt")])
def test_a_family_never_fitted_is_refused_in_one_line(laws, override, field):
    with pytest.raises(ConfigError) as exc:
        predict_config(laws, build_config([override]))
    assert str(exc.value).startswith(f"{field}: no fitted run has it") and "\n" not in str(exc.value)


def test_a_clock_no_run_reached_has_no_law():
    runs = synthetic_runs(Ns=(256,), budget=100)
    with pytest.raises(ConfigError, match=r"^tau_rule: only 0 of 6 fitted runs reached it"):
        Laws.fit(runs)


def test_steps_auto_is_the_upper_end_of_the_95_interval_of_the_clock_waited_for(laws):
    auto = cfg("data.N=16", "task.G=2", "train.steps=auto", "train.stop_at=mem")
    resolved, record = resolve_steps(auto, laws)
    hi = predict_config(laws, auto).clocks["tau_mem"].intervals[0.95][1]
    assert resolved.train.steps == ceil2(hi) and hi <= resolved.train.steps < hi * 1.1
    assert record["steps"] == resolved.train.steps and "tau_mem" in record["rule"]
    assert record["prediction"]["clocks"]["tau_mem"]["interval_95"][1] == pytest.approx(hi)
    rule, _ = resolve_steps(cfg("data.N=16", "task.G=2", "train.steps=auto", "train.stop_at=rule"), laws)
    his = [predict_config(laws, auto).clocks[c].intervals[0.95][1] for c in ("tau_rule", "tau_rule_low", "tau_group")]
    assert rule.train.steps == ceil2(max(his))
    capped, record = resolve_steps(
        cfg("data.N=16", "train.steps=auto", "train.stop_at=mem", "train.max_steps=500"), laws
    )
    assert capped.train.steps == 500 and "capped by train.max_steps" in record["rule"]
    fixed, none = resolve_steps(cfg("train.steps=1234"), laws)
    assert fixed.train.steps == 1234 and none is None


def test_steps_auto_is_a_config_value_that_leaves_old_hashes_alone():
    assert build_config(["train.steps=auto"]).train.steps == "auto"
    with pytest.raises(ConfigError, match="train.steps must be a positive integer or auto"):
        build_config(["train.steps=fast"])
    with pytest.raises(ConfigError, match="train.steps=auto"):
        fixed_steps(build_config(["train.steps=auto"]))
    assert config_hash(build_config(["task.G=3", "data.N=64"])).startswith("0f4925b9bc2172a6")
    assert config_hash(build_config(["train.max_steps=9000"])) != config_hash(build_config([]))


def test_ceil2_rounds_up_to_two_significant_digits():
    assert [ceil2(x) for x in (7.2, 100.0, 5371.0, 5400.0, 12001.0)] == [8, 100, 5400, 5400, 13000]
    assert np.all(np.diff([ceil2(x) for x in np.geomspace(10, 1e6, 200)]) >= 0)


def test_a_run_with_steps_auto_trains_its_budget_and_keeps_the_prediction(laws, tiny_overrides, tmp_path, monkeypatch):
    from twoclocks.config import RunConfig, apply_overrides, parse_overrides
    from twoclocks.prediction import autobudget
    from twoclocks.training.rundir import RunDir
    from twoclocks.training.runner import resume_run, start_run, summary_lines

    monkeypatch.setattr(autobudget, "default_laws", lambda cfg: (laws, None))
    overrides = parse_overrides([*tiny_overrides, "train.steps=auto", "train.max_steps=40", "train.stop_at=mem"])
    auto = apply_overrides(RunConfig(), {**overrides, "model.width": 64})
    run_dir, summary = start_run(auto, tmp_path / "r", resolve=autobudget.resolve_steps)
    assert RunDir(run_dir).load_config().train.steps == 40 == summary["steps"]
    assert summary["steps_auto"]["steps"] == 40 and "capped by train.max_steps" in summary["steps_auto"]["rule"]
    assert summary["steps_auto"]["prediction"]["clocks"]["tau_mem"]["interval_95"][1] > 40
    assert "train.steps=auto: 40 steps, the upper end of the 95% interval of tau_mem" in "\n".join(
        summary_lines(summary)
    )
    # A finished run resumed (its outputs restored) keeps the record: it is in the run directory.
    RunDir(run_dir).summary_path.unlink()
    _, again = resume_run(run_dir, progress=False)
    assert again["steps_auto"] == summary["steps_auto"]
    # Killed before its first checkpoint (what a kill then leaves: the inputs, budget.json
    # among them), it starts again from its saved config, whose steps are resolved: the
    # record of how they were sized must survive the restart.
    rd = RunDir(run_dir)
    rd.clear(keep=(rd.CONFIG, rd.TRAIN_SET, rd.BUDGET))
    _, restarted = resume_run(run_dir, progress=False)
    assert restarted["steps_auto"] == summary["steps_auto"] and restarted["steps"] == 40


def test_a_sweep_point_with_steps_auto_is_the_run_its_budget_was_resolved_into():
    from twoclocks.records.formats import same_point

    point = build_config(["train.steps=auto", "data.N=8"])
    assert same_point(build_config(["train.steps=3400", "data.N=8"]), point)
    assert not same_point(build_config(["train.steps=3400", "data.N=16"]), point)
    assert not same_point(build_config(["train.steps=3400"]), build_config(["train.steps=3000"]))
