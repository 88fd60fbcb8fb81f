"""benchmarks/chance_validity.py: the chance validity it reads from a run's recorded population
and its rule's features is the rate at which uniformly random grids pass the rule (counted
here by brute force), and its crossings are the clocks' own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmark_scripts import load_script
from test_predict_rules import rule_runs
from twoclocks.prediction.variables import table_variables
from twoclocks.tasks import make_task


@pytest.mark.parametrize("name", ["sparse_parity", "hamming_weight", "parity"])
def test_the_chance_validity_is_the_rate_random_grids_pass(name):
    module = load_script("chance_validity")
    table = rule_runs(rules=(name,), Ns=(8,), seeds=1).table
    c = 2.0 ** float(module.log2_chance(table_variables(table))[0])
    task = make_task(name)
    n = 400_000
    grids = np.random.default_rng(0).integers(0, task.num_values, (n, *task.shape), dtype=np.uint8)
    passed = float(np.mean(task.is_valid(grids)))
    assert abs(passed - c) <= 5 * np.sqrt(c * (1 - c) / n) + 1 / n, (name, passed, c)


def test_a_curve_at_chance_ticks_as_measured_and_not_when_corrected():
    module = load_script("chance_validity")
    steps = np.array([10, 20, 40, 80, 160, 320])
    curve = pd.DataFrame({"step": steps, "valid": [0.52, 0.5, 0.55, 0.7, 0.8, 0.85]})
    clocks = module.clocks_of(curve, 0.5)
    measured, corrected = clocks["tau_rule_low"]
    assert measured == 10  # held from the first evaluation: chance alone
    assert corrected is not None and 80 < corrected < 160  # (valid - 0.5) / 0.5 >= 0.5: valid >= 0.75
    assert clocks["tau_rule"] == (None, None)
