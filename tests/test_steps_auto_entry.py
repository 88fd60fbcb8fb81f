"""train.steps=auto is sized where a run starts (the run command, tc.run, a sweep's driver), by
a resolver the entry point passes down: building an experiment, a run or a sweep below the
prediction layer never imports the laws."""

from __future__ import annotations

import dataclasses

import pytest

from conftest import TINY
from twoclocks.config import RunConfig, build_config
from twoclocks.core.io import read_json
from twoclocks.errors import ConfigError
from twoclocks.sweeps.executors import run_sweep
from twoclocks.sweeps.plan import plan
from twoclocks.sweeps.spec import spec_from_args
from twoclocks.training.experiment import build_experiment
from twoclocks.training.runner import start_run

BUDGET = 30
AUTO = [o for o in TINY if not o.startswith(("data.N", "train.steps", "train.threads"))] + ["train.steps=auto"]


def fixed_budget(cfg: RunConfig) -> tuple[RunConfig, dict]:
    """A stand-in for the laws: every auto config gets BUDGET steps and a record shaped as the
    prediction layer's."""
    record = {
        "steps": BUDGET,
        "waits_for": ["tau_mem"],
        "rule": "a fixed test budget",
        "max_steps": cfg.train.max_steps,
        "prediction": {"clocks": {"tau_mem": {"median": 20.0, "interval_95": [10.0, 29.0]}}},
    }
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=BUDGET)), record


def test_an_auto_config_builds_without_being_sized():
    """Counting parameters or sizing a group builds the experiment of a sweep point as it is:
    no laws are fitted for it, and the config keeps saying auto (`tests/test_layout.py` checks
    that nothing below the prediction layer imports it)."""
    exp = build_experiment(build_config(AUTO + ["data.N=8"]))
    assert exp.cfg.train.steps == "auto" and exp.budget is None and exp.model.num_params() > 0


def test_a_run_of_steps_auto_without_a_resolver_is_refused_before_any_file(tmp_path):
    with pytest.raises(ConfigError, match=r"^train.steps=auto needs the predicted clocks") as exc:
        start_run(build_config(AUTO + ["data.N=8"]), tmp_path / "r", progress=False)
    assert "\n" not in str(exc.value) and not (tmp_path / "r").exists()


@pytest.mark.parametrize("group", [False, True])
def test_a_sweep_sizes_steps_auto_with_the_resolver_its_driver_passes(tmp_path, group):
    spec = spec_from_args(AUTO, ["data.N=8"], 2)
    spec.group, spec.workers = group, 1
    outcome = run_sweep(spec, tmp_path / "s", progress=False, resolve=fixed_budget)
    assert outcome.failed == 0
    for run in sorted((tmp_path / "s" / "runs").iterdir()):
        summary = read_json(run / "summary.json")
        assert read_json(run / "config.json")["train"]["steps"] == BUDGET == summary["steps"]
        assert read_json(run / "budget.json") == summary["steps_auto"] == fixed_budget(build_config(AUTO))[1]


def test_a_sweep_of_steps_auto_without_a_resolver_records_one_line_per_point(tmp_path):
    spec = spec_from_args(AUTO, ["data.N=8"], 1)
    spec.workers = 1
    outcome = run_sweep(spec, tmp_path / "s", progress=False)
    failures = read_json(tmp_path / "s" / "failures.json")
    assert outcome.failed == 1
    assert [f["error"] for f in failures.values()] == [
        "ConfigError: train.steps=auto needs the predicted clocks: start the run with twoclocks run, tc.run or a sweep"
    ]


def test_a_plan_counts_the_budgets_its_resolver_gives():
    spec = spec_from_args(AUTO, ["data.N=8,16"], 2)
    _, loads = plan(spec, resolve=fixed_budget)
    assert sum(w.run_steps for w in loads.values()) == 4 * BUDGET
    with pytest.raises(ConfigError, match="train.steps=auto needs the predicted clocks"):
        plan(spec)
