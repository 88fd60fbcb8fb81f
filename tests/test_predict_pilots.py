"""A rule of one's own predicted from a few pilot runs of it, fitted with the reference and never
imported; and the validation of that route (each rule held out as if it were a user's)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from test_predict_rules import OFFSET, rule_runs, truth
from twoclocks.cli import main as cli_main
from twoclocks.core.io import write_table
from twoclocks.plugins import file_hash
from twoclocks.prediction import fitted, pilots
from twoclocks.prediction.laws import BOOTSTRAP
from twoclocks.prediction.pilot_validation import pilot_records, pilot_split
from twoclocks.prediction.predict import Laws
from twoclocks.prediction.variables import CLOCKS

RULE_FILE = """
from pathlib import Path
Path(__file__).with_suffix(".imported").write_text("imported")
"""
OWN = "linear_code"  # the rule the pilot runs are of (order 3), under a file's name


@pytest.fixture
def setup(tmp_path, monkeypatch):
    """A reference of four rules, and pilot runs (N = 8, 16, 2 seeds) of a fifth named by a
    file that leaves a marker when imported; few bootstrap refits; a cache of the test's own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fit = Laws.fit
    monkeypatch.setattr(
        Laws, "fit", staticmethod(lambda runs, forms=None, draws=BOOTSTRAP, **kw: fit(runs, forms, 8, **kw))
    )
    every = rule_runs(Ns=(8, 16, 32, 64), seed=4)
    reference = type(every)(every.table[every.table["task"] != OWN].reset_index(drop=True), ("synthetic reference",))
    monkeypatch.setattr(pilots, "reference_runs", lambda: reference)
    monkeypatch.setattr(fitted, "reference_runs", lambda: reference)  # no shipped calibration for it
    rule = tmp_path / "myrule.py"
    rule.write_text(RULE_FILE)
    own = every.table[(every.table["task"] == OWN) & (every.table["data.N"] <= 16)]
    own = own.assign(**{"task": f"{rule}:Mine", "task.source": file_hash(rule), "task.width": 7})
    write_table(tmp_path / "pilot" / "results.parquet", own.drop(columns=["source"]), parents=True)
    monkeypatch.chdir(tmp_path)
    return rule


def test_a_rule_of_ones_own_is_predicted_from_its_pilot_runs_without_importing_it(setup, capsys):
    args = ["predict", "task=./myrule.py:Mine", "task.width=7", "model.width=64", "data.N=64", "--from", "pilot"]
    assert cli_main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    order = 3.0  # linear_code's, which the laws never see: the pilots give the rule's offset
    for clock in CLOCKS:
        c = out["clocks"][clock]
        expected = truth(clock, order, 64) + OFFSET[OWN]
        assert abs(math.log10(c["median"]) - expected) < 0.15, clock
        assert c["interval_95"][0] < 10**expected < c["interval_95"][1], clock
    assert "synthetic reference" in out["fitted_on"] and "sweep pilot" in out["fitted_on"]
    assert not setup.with_suffix(".imported").exists()


def test_a_rule_of_ones_own_says_what_it_needs_in_one_line(setup, capsys):
    cases = {
        ("task=./myrule.py:Mine", "task.width=9", "--from", "pilot"): "no pilot run had task.width=9",
        ("task=./myrule.py:Mine",): "give the laws 2-3 pilot runs of it",
        ("task=./other.py:Mine", "--from", "pilot"): "no run of the --from sweeps is of this rule",
    }
    for args, text in cases.items():
        assert cli_main(["predict", *args]) == 1
        err = capsys.readouterr().err.strip()
        assert text in err and "\n" not in err, err
    assert not setup.with_suffix(".imported").exists()


@pytest.mark.parametrize("k", [2, 3])
def test_each_rule_held_out_as_a_users_is_predicted_from_k_pilot_configs(k):
    runs = rule_runs(Ns=(8, 16, 32, 64), seed=5)
    scored = pilot_records(runs, k, draws=8)
    assert set(scored["level"]) == set(runs.table["task"])
    held = scored[scored["clock"] == "tau_mem"]
    assert len(held) == 5 * (4 - k) * 2  # rules x configs beyond the pilots x seeds
    assert held["error"].median() < 0.1  # the pilots' offset carries the rule; N is the reference's
    assert 0.6 <= held["covered95"].mean()


def test_the_pilots_are_the_smallest_configs_of_the_rule_renamed():
    runs = rule_runs(Ns=(8, 16, 32), seed=6)
    train, test = pilot_split(runs.table, "mirror", 2)
    pilot_rows = train[train["task"] == "pilot:mirror"]
    assert sorted(pilot_rows["data.N"].unique()) == [8, 16] and len(pilot_rows) == 4
    assert set(test["data.N"]) == {32} and set(test["task"]) == {"pilot:mirror"}
    assert not np.isin("mirror", train["task"]).any()
    assert pilot_split(runs.table, "mirror", 3) is None
