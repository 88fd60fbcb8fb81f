"""The reference results shipped with the package: `twoclocks predict` works from them with no
sweep of one's own, refuses what they never ran, and `compare --reference` finds a run's seeds."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from conftest import run_cli
from twoclocks import cli
from twoclocks.analysis.compare import Run, reference_like
from twoclocks.config import RunConfig, apply_overrides
from twoclocks.errors import TwoClocksError
from twoclocks.prediction.fitted import predict_clocks
from twoclocks.prediction.reference import (
    REFERENCE_DIR,
    provenance,
    reference_curves,
    reference_runs,
    shipped_names,
)
from twoclocks.prediction.variables import CLOCKS


def config_of(row: pd.Series) -> RunConfig:
    """The config of a reference run, from its results row."""
    keys = [
        k for k in row.index if (k == "task" or "." in k) and not (isinstance(row[k], float) and math.isnan(row[k]))
    ]
    keys = [k for k in keys if not k.startswith("task.") or k.removeprefix("task.") in _task_fields(row["task"])]
    plain = {k: row[k].item() if hasattr(row[k], "item") else row[k] for k in keys if k != "task"}
    return apply_overrides(RunConfig(), {"task": row["task"], **plain})


def _task_fields(name: str) -> set[str]:
    from dataclasses import fields

    from twoclocks.tasks import TASKS

    return {f.name for f in fields(TASKS[name].Params)}


def test_a_reference_is_installed_with_its_provenance_and_curves():
    names = shipped_names()
    assert names, f"no reference results under {REFERENCE_DIR}"
    for name in names:
        record = provenance(name)
        assert len(record["commit"]) == 40 and record["command"].startswith("twoclocks ")
        table = reference_runs((name,)).table
        assert record["runs"] == len(table) > 0
        curves = reference_curves(name)
        assert set(curves["point"]) == set(table["point"])
        assert {"step", "valid", "mem", "constraint_acc"} <= set(curves.columns)


def test_predict_on_a_fresh_install_prints_the_four_clocks_with_intervals(tmp_path: Path, monkeypatch, capsys):
    """In this process (the laws fitted once for the tests here); the refusal below runs in a
    fresh one."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["predict", "data.N=48"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for clock in CLOCKS:
        assert any(line.startswith(clock + " ") and "80% [" in line and "95% [" in line for line in lines), clock
    assert any(line.startswith("fitted on ") and "reference" in line for line in lines)
    assert any(line.startswith("P(window open) = ") for line in lines)


def test_predict_refuses_a_family_no_reference_ran_in_one_line(tmp_path: Path):
    out = run_cli("predict", "model=mlp", cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.strip() == (
        "twoclocks: error: model.family=mlp: no fitted run has it (the fit has "
        + ", ".join(sorted(set(reference_runs().table["model.family"])))
        + "); cannot predict"
    )


def test_each_shipped_family_is_predicted_near_its_own_runs():
    table = reference_runs().table
    for family, runs in table.groupby("model.family"):
        cfg = config_of(runs.iloc[0])
        p = predict_clocks(cfg)
        assert set(p.clocks) == set(CLOCKS)
        for c in CLOCKS:
            lo, hi = p.clocks[c].intervals[0.95]
            assert 0 < lo < p.clocks[c].median < hi, (family, c)


def test_compare_reference_finds_every_seed_of_a_run_config():
    row = reference_runs().table.iloc[0]
    cfg = config_of(row)
    run = Run(Path("r"), "mine", pd.DataFrame(), {"config": cfg.to_dict()})
    seeds = reference_like(run)
    table = reference_runs().table
    same = table[(table["data.N"] == row["data.N"]) & (table["model.family"] == row["model.family"])]
    same = same[same["task.G"] == row["task.G"]] if "task.G" in same else same
    assert {r.summary["seed"] for r in seeds} <= set(same["seed"])
    assert len(seeds) >= 2 and all(not r.metrics.empty for r in seeds)
    other = apply_overrides(cfg, {"data.N": 3})
    with pytest.raises(TwoClocksError, match="no shipped reference run has its config"):
        reference_like(Run(Path("r"), "mine", pd.DataFrame(), {"config": other.to_dict()}))


def test_compare_reference_finds_the_shipped_words_runs_of_a_words_config():
    from twoclocks.prediction.reference import PILOT_DIR

    table = reference_runs(("words",), PILOT_DIR).table
    row = table[(table["model.family"] == "gpt") & (table["data.N"] == 128) & (table["task.length"] == 6)].iloc[0]
    run = Run(Path("r"), "mine", pd.DataFrame(), {"config": config_of(row).to_dict()})
    seeds = reference_like(run)
    assert sorted(r.summary["seed"] for r in seeds) == [0, 1, 2]
    assert all(r.label.startswith("reference words") and not r.metrics.empty for r in seeds)
