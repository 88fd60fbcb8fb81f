"""`python -m twoclocks.prediction.export --upgrade NAME`: a shipped reference written before the
rule clocks on `valid` were read against chance (format 5) is brought to it from its curves,
checked run by run before anything is written."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from twoclocks.clocks import CHANCE
from twoclocks.core.io import read_json
from twoclocks.errors import TwoClocksError
from twoclocks.prediction.export import main, upgrade_reference
from twoclocks.prediction.reference import CURVES, PROVENANCE, REFERENCE_DIR, RESULTS
from twoclocks.records.formats import FORMAT, FORMAT_KEY


@pytest.fixture
def older_rules(tmp_path):
    """The shipped reference across rules as format 4 wrote it: sparse parity's tau_rule_low at
    its first evaluation, where chance put it (the other rules' clocks do not move)."""
    folder = shutil.copytree(REFERENCE_DIR / "rules", tmp_path / "rules")
    table = pd.read_parquet(folder / RESULTS)
    sparse = table["task"] == "sparse_parity"
    older = table.assign(**{FORMAT_KEY: 4})
    older.loc[sparse, "tau_rule_low"] = 10.0
    older.to_parquet(folder / RESULTS)
    return folder, table


def test_an_older_reference_is_read_again_against_chance(older_rules):
    folder, shipped = older_rules
    assert main(["--out", str(folder.parent), "--upgrade", folder.name]) == 0
    got = pd.read_parquet(folder / RESULTS)
    pd.testing.assert_frame_equal(got, shipped)  # what the shipped reference holds, run for run
    assert (got[FORMAT_KEY] == FORMAT).all()
    assert read_json(folder / PROVENANCE)["upgraded"][-1].endswith("of 10 runs read against chance")
    assert upgrade_reference(folder) == 0  # already current: nothing moves, nothing is written


def test_a_curve_that_does_not_give_back_its_run_is_refused_before_writing(older_rules):
    folder, _ = older_rules
    curves = pd.read_parquet(folder / CURVES)
    curves.loc[curves["point"] == curves["point"].iloc[0], "mem"] = 0.0  # no copies: another tau_mem
    curves.to_parquet(folder / CURVES)
    before = (folder / RESULTS).read_bytes()
    with pytest.raises(TwoClocksError, match=r"curve gives tau_mem"):
        upgrade_reference(folder)
    assert (folder / RESULTS).read_bytes() == before
    assert CHANCE not in pd.read_parquet(folder / RESULTS)
