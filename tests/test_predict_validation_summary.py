"""The coverage summary of benchmarks/predict_validation.py (--summary): per group of held-out
factors and clock, counted against a loop over the held-out predictions; strict JSON."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from benchmark_scripts import load_script
from twoclocks.prediction.variables import CLOCKS


def scored_table(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for factor in ("data.N", "train.batch", "train.lr"):
        for clock in CLOCKS:
            for _ in range(int(rng.integers(3, 9))):
                right = bool(rng.random() < 0.2)
                source = str(rng.choice(["reference cpu", "reference optim"]))
                row = {"factor": factor, "clock": clock, "right": right, "left": False, "source": source}
                row["error"] = np.nan if right else float(rng.random())
                for q in (80, 95):
                    row[f"covered{q}"] = bool(rng.random() < q / 100)
                    row[f"covered{q}_law"] = bool(rng.random() < 0.5)
                rows.append(row)
    return pd.DataFrame(rows)


def test_the_summary_counts_each_group_of_factors_as_a_loop_does():
    module = load_script("predict_validation")
    scored = scored_table()
    summary = module.coverage_summary(scored)
    json.dumps(summary, allow_nan=False)  # strict JSON
    for group, factors in module.GROUPS.items():
        for clock in CLOCKS:
            got = summary["groups"][group]["clocks"][clock]
            rows = [r for r in scored.to_dict("records") if r["factor"] in factors and r["clock"] == clock]
            assert got["n"] == len(rows) and got["censored"] == sum(r["right"] for r in rows)
            if not rows:  # the rules, with no rule held out
                assert got["coverage80"] is None and got["coverage80_on_target"] is None
                continue
            for q, (lo, hi) in module.TARGETS.items():
                cover = sum(r[f"covered{q}"] for r in rows) / len(rows)
                assert got[f"coverage{q}"] == round(cover, 4)
                assert got[f"coverage{q}_law"] == round(sum(r[f"covered{q}_law"] for r in rows) / len(rows), 4)
                assert got[f"coverage{q}_on_target"] == (lo <= cover <= hi)
                measured = [r[f"covered{q}"] for r in rows if not r["right"]]
                expected = round(sum(measured) / len(measured), 4) if measured else None
                assert got[f"coverage{q}_measured"] == expected
            errors = sorted(r["error"] for r in rows if not np.isnan(r["error"]))
            assert got["median_abs_log10_err"] == (round(float(np.median(errors)), 4) if errors else None)
    for source in ("reference cpu", "reference optim"):
        got = summary["sources"][source]["clocks"]["tau_mem"]
        rows = [r for r in scored.to_dict("records") if r["source"] == source and r["clock"] == "tau_mem"]
        assert got["n"] == len(rows) and got["coverage95"] == round(sum(r["covered95"] for r in rows) / len(rows), 4)
    assert summary["groups"]["optimiser"]["clocks"]["tau_mem"]["n"] > 0
    assert summary["groups"]["rule"]["clocks"]["tau_mem"]["n"] == 0
