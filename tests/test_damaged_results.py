"""A sweep over train.steps=auto and a number writes its results table; a report of an
incomplete sweep says how many points are pending; a summary.json whose clock is not a number
(NaN, infinite, text) is a damaged file, one line naming the file and the key, for every reader."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import twoclocks as tc
from conftest import TINY
from twoclocks import cli
from twoclocks.clocks import clock_names
from twoclocks.core.io import read_table, write_table
from twoclocks.errors import TwoClocksError
from twoclocks.records.schema import step_keys
from twoclocks.training.rundir import RunDir

VALUES = st.one_of(
    st.integers(-(2**40), 2**40), st.floats(allow_nan=False), st.text(max_size=8), st.booleans(), st.none()
)


@given(st.lists(VALUES, min_size=1, max_size=12))
@settings(deadline=None)
def test_a_column_of_mixed_kinds_is_written_and_read_back(tmp_path_factory, values):
    path = tmp_path_factory.mktemp("t") / "t.parquet"
    write_table(path, pd.DataFrame({"train.steps": pd.Series(values, dtype=object), "n": range(len(values))}))
    back = read_table(path)["train.steps"].tolist()
    for v, b in zip(values, back):
        assert (b is None or b != b) if v is None else (b == v or b == str(v)), (values, back)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """A finished sweep over train.steps=auto (capped at 60 steps) and 60."""
    out = tmp_path_factory.mktemp("mixed") / "sweep"
    grid = ["train.max_steps=60", "--grid", "train.steps=auto,60", "--workers", "1", "--out", str(out)]
    assert cli.main(["sweep", *TINY, *grid]) == 0
    return out


def test_a_sweep_over_auto_and_a_number_finishes(sweep):
    results = read_table(sweep / "results.parquet")
    assert list(results["status"]) == ["finished", "finished"]
    assert sorted(results["train.steps"]) == ["60", "auto"] and list(results["max_step"]) == [60, 60]


def test_a_report_of_an_incomplete_sweep_says_what_is_pending(sweep, tmp_path, capsys):
    partial = shutil.copytree(sweep, tmp_path / "partial")
    results = read_table(partial / "results.parquet")
    write_table(partial / "results.parquet", results.iloc[:1])  # the other point still running
    assert cli.main(["report", str(partial)]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "1 point(s) pending" in err, err
    page = (partial / "report" / "index.html").read_text()
    assert "2 points, 1 finished, 0 failed, 1 pending: the sweep is incomplete" in page
    assert "2 points, 1 finished" in tc.load_sweep(partial)._repr_html_()
    assert cli.main(["report", str(sweep)]) == 0 and capsys.readouterr().err == ""
    assert "2 points, 2 finished, 0 failed." in (sweep / "report" / "index.html").read_text()


def damage(run_dir: Path, key: str, value: object) -> None:
    path = run_dir / "summary.json"
    summary = json.loads(path.read_text())
    summary[key] = value
    path.write_text(json.dumps(summary))  # NaN and Infinity as Python's json writes them


@settings(max_examples=30, deadline=None)
@given(key=st.sampled_from([*clock_names(), "max_step"]), value=st.sampled_from([math.nan, math.inf, -math.inf, "1e3"]))
def test_a_clock_that_is_not_a_number_is_a_damaged_file(sweep, tmp_path_factory, key, value):
    run_dir = shutil.copytree(next((sweep / "runs").iterdir()), tmp_path_factory.mktemp("r") / "r")
    damage(run_dir, key, value)
    with pytest.raises(TwoClocksError, match=f"summary.json is damaged: {key} is"):
        RunDir(run_dir).load_summary()


@settings(max_examples=30, deadline=None)
@given(key=st.sampled_from(sorted(step_keys())), value=st.sampled_from([0, -5, -0.5, -1e9]))
def test_a_step_that_is_not_positive_is_a_damaged_file(sweep, tmp_path_factory, key, value):
    run_dir = shutil.copytree(next((sweep / "runs").iterdir()), tmp_path_factory.mktemp("r") / "r")
    damage(run_dir, key, [value, value] if key.endswith("_ci") else value)
    with pytest.raises(TwoClocksError, match=f"summary.json is damaged: {key} is .*not a positive step count"):
        RunDir(run_dir).load_summary()


@settings(max_examples=30, deadline=None)
@given(
    key=st.sampled_from([*clock_names(), "max_step", "peak_valid", "peak_valid_step", "mem_chance", "thresholds"]),
    value=st.sampled_from([[], [5], [1, 2, 3], {}, "5"]),
)
def test_a_list_or_a_table_where_a_number_belongs_is_a_damaged_file(sweep, tmp_path_factory, key, value):
    assume(not (key == "thresholds" and value == {}))  # no threshold recorded: the defaults, as read
    run_dir = shutil.copytree(next((sweep / "runs").iterdir()), tmp_path_factory.mktemp("r") / "r")
    damage(run_dir, key, value)
    with pytest.raises(TwoClocksError, match=f"summary.json is damaged: {key} is"):
        RunDir(run_dir).load_summary()


def test_a_reached_clock_without_its_epochs_is_a_damaged_file(sweep, tmp_path, capsys):
    run_dir = shutil.copytree(next((sweep / "runs").iterdir()), tmp_path / "r")
    damage(run_dir, "tau_mem", 5)
    damage(run_dir, "tau_mem_epochs", None)
    for words in (["report", str(run_dir)], ["compare", str(run_dir), str(run_dir)]):
        assert cli.main(words) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "tau_mem_epochs is null while tau_mem is reached" in err, err


def test_every_reader_says_a_damaged_summary_in_one_line(sweep, tmp_path, capsys):
    run_dir = shutil.copytree(next((sweep / "runs").iterdir()), tmp_path / "r")
    damage(run_dir, "tau_rule", math.nan)
    for words in (["report", str(run_dir)], ["compare", str(run_dir), str(run_dir), "--out", str(tmp_path / "c.png")]):
        assert cli.main(words) == 1
        out, err = capsys.readouterr()
        assert err.count("\n") == 1 and "summary.json is damaged: tau_rule is nan" in err and "nan" not in out, err
    assert "summary.json is damaged: tau_rule is nan" in tc.load(run_dir)._repr_html_()
    assert not (run_dir / "report").exists() and not (tmp_path / "c.png").exists()
