"""A claim is one registered definition: a tenth one, registered here, appears in every output
that lists claims (reproduce's text and dry run, claims.json and claims.csv, the report)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from test_reproduce import results
from twoclocks.cli import main as cli_main
from twoclocks.sweeps.claims import registry
from twoclocks.sweeps.claims.evaluate import evaluate_claims, rules_text
from twoclocks.sweeps.claims.paper import along, increases
from twoclocks.sweeps.claims.registry import ClaimDefinition, register

TENTH = ClaimDefinition(
    10,
    "tau_mem grows with N at every {knob}",
    "main, measuring tau_mem",
    "tau_mem vs data.N, slope > 0 (a test's own claim)",
    along(("data.N",), "mem", increases),
    missing="no runs vary data.N",
)


@pytest.fixture
def tenth_claim():
    register(TENTH)
    yield TENTH
    registry.CLAIMS.remove(TENTH)


def test_a_registered_claim_is_judged_and_written_everywhere(sweep_dir, tmp_path, capsys, tenth_claim):
    assert cli_main(["reproduce", "--scale", "tiny", "--out", str(sweep_dir), "--no-run", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "(10) tau_mem grows with N at every G" in text and "supported" in text.split("(10) ")[1].splitlines()[0]
    written = json.loads((sweep_dir / "claims.json").read_text())
    assert [c["id"] for c in written["claims"]] == list(range(1, 11))
    tenth = written["claims"][-1]
    assert tenth["verdict"] == "supported" and tenth["basis"] == "censoring bounds alone"
    assert list(tenth["by_clock"]) == ["tau_rule"]  # the synthetic table has tau_rule only
    assert "10. tau_mem grows with N at every G: tau_mem vs data.N, slope > 0" in written["rules"]
    assert written["rules"] == rules_text()
    assert list(pd.read_csv(sweep_dir / "claims.csv")["id"]) == list(range(1, 11))
    assert "tau_mem grows with N at every G" in (sweep_dir / "report" / "index.html").read_text()
    assert cli_main(["reproduce", "--scale", "tiny", "--out", str(tmp_path / "d"), "--dry-run", "--no-bench"]) == 0
    assert "(10) tau_mem grows with N at every G -- tau_mem vs data.N" in capsys.readouterr().out


def test_a_knob_claim_is_judged_on_learned_slices_and_listed_as_one(tenth_claim, monkeypatch):
    knob = ClaimDefinition(
        11, "tau_rule rises with {knob}", "main", "slope > 0", along(("knob",), "rule", increases), True
    )
    register(knob)
    try:
        claims = {c.id: c for c in evaluate_claims(results())}
        assert claims[11].basis == "fits on learned rules" and claims[11].all_slices.startswith("supported")
        assert "Claims 1, 3, 6, 11 compare levels of the knob" in rules_text()
    finally:
        registry.CLAIMS.remove(knob)
    assert [c.id for c in evaluate_claims(results())] == list(range(1, 11))


def test_a_claim_number_is_registered_once_and_reads_a_known_cut():
    with pytest.raises(ValueError, match="registered twice"):
        register(registry.CLAIMS[0])
    with pytest.raises(ValueError, match="reads 'nothing'"):
        register(ClaimDefinition(12, "x", "nothing", "", along(("data.N",), "mem", increases)))
