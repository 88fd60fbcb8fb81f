"""The batch law is chosen on the batch levels a fit can be tested on: in a one-at-a-time design
(most runs at batch 64 over several rules and N, a few at batch 16 and 128 at one N), holding out
batch 64 would leave that small slice to predict everything else, so its fold is no test of the
batch law and is not scored (`laws.informative_fold`)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from test_predict_rules import OFFSET, cfg, rule_runs, truth
from twoclocks.prediction.laws import informative_fold
from twoclocks.prediction.predict import Laws, predict_config
from twoclocks.prediction.reference import Runs


def one_at_a_time(exponent: float) -> Runs:
    base = rule_runs(rules=("parity", "mirror", "sparse_parity"), Ns=(8, 16, 32, 64), seeds=2, seed=1)
    varied = rule_runs(rules=("parity",), Ns=(16,), batches=(16, 128), seeds=3, exponent=exponent, seed=2)
    return Runs(pd.concat([base.table, varied.table], ignore_index=True), ("one at a time",))


@pytest.mark.parametrize(("exponent", "chosen"), [(-1.0, "per_sample"), (-0.6, "free")])
def test_the_batch_law_is_chosen_on_the_levels_it_can_be_tested_on(exponent, chosen):
    laws = Laws.fit(one_at_a_time(exponent), draws=5)
    law = laws.laws["tau_mem"]
    assert ("log2_batch" in dict(law.design.fixed)) == (chosen == "per_sample"), law.heldout
    p = predict_config(laws, cfg("task=parity", "data.N=16", "train.batch=32"))
    expected = truth("tau_mem", 2.0, 16) + exponent * math.log10(32 / 64) + OFFSET["parity"]
    assert abs(math.log10(p.clocks["tau_mem"].median) - expected) < 0.08


def test_a_level_most_runs_have_is_not_a_fold():
    assert informative_fold(np.array([True, False, False, True]))  # half: a fold
    assert not informative_fold(np.array([True, True, True, False]))
    assert informative_fold(np.array([False, False, False, True]))
