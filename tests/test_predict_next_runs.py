"""benchmarks/predict_next_runs.py: the candidates are the reference's rules, a training set of
half a rule's population or more is no candidate, and the rankings read what they say."""

from __future__ import annotations

import math

import pandas as pd

from benchmark_scripts import load_script

nxt = load_script("predict_next_runs")


def test_candidates_are_the_rules_of_the_reference_with_their_knobs():
    rules = nxt.rules_of_reference()
    expected = {"sparse_parity", "linear_code", "hamming_weight", "mirror", "ca", "queens", "latin", "sudoku"}
    assert set(rules) == expected
    assert "task.size=4" in rules["sudoku"] and "task.n=6" in rules["latin"]


def test_half_the_population_or_more_is_no_candidate():
    # rule 90 has 64 valid rows: N = 32 is half of them; Sudoku 4x4 has 288 grids
    assert nxt.candidate(nxt.rules_of_reference()["ca"], 32, 64, {}) is None
    assert nxt.candidate(nxt.rules_of_reference()["sudoku"], 256, 64, {}) is None


def test_decades_of_an_interval():
    assert nxt.decades((10.0, 1000.0)) == 2.0
    assert nxt.decades((math.nan, 5.0)) == math.inf


def test_rankings(capsys):
    table = pd.DataFrame(
        {
            "task": ["a", "b", "c"],
            "N": [64, 64, 64],
            "width": [64, 64, 64],
            "tau_rule_median": [math.nan, math.nan, 100.0],
            "tau_rule_low_median": [1000.0, 100.0, 50.0],
            "tau_mem_median": [10_000.0, 10_000.0, 10_000.0],
            "tau_mem_width95": [0.5, 1.0, 2.0],
            "cost": [1e4, 1e6, 1e4],
        }
    )
    nxt.rank(table, 5)
    mem, rule = capsys.readouterr().out.split("\n\n")
    # widest per decade of cost: c (2.0 / 4), b (1.0 / 6), a (0.5 / 4)
    assert [line.split()[0] for line in mem.splitlines()[2:]] == ["c", "b", "a"]
    # tau_rule predicted for c: not a candidate; b's low clock leads tau_mem by 2 decades, a's by 1
    assert [line.split()[0] for line in rule.splitlines()[2:]] == ["b", "a"]
