"""Near copies: the ball of valid items around a valid item and the chance level it gives, the
mem_near curve, and tau_mem_near for a run written before it was measured, read off its saved
samples without retraining and without writing anything."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pandas as pd
import pytest

import twoclocks as tc
from conftest import copy_run
from twoclocks.core.io import write_json, write_table
from twoclocks.data import TrainingIndex
from twoclocks.evaluate import NEAR_HAMMING, near_chance, near_copies
from twoclocks.tasks.parity import GroupParity, ParityParams
from twoclocks.training.rundir import RunDir

NEAR_KEYS = [f"tau_mem_near{s}" for s in ("", "_censored", "_left_censored", "_ci", "_epochs")]


@pytest.mark.parametrize("G,layout", [(2, "contiguous"), (4, "random"), (8, "blocks")])
def test_ball_counts_every_valid_item_within_d(G, layout):
    task = GroupParity(ParityParams(n=4, G=G, layout=layout))
    codes = np.packbits(task.enumerate().reshape(-1, 16), axis=1).view(">u2").ravel()  # 16 bits each
    popcount = np.array([bin(v).count("1") for v in range(2**16)])
    centres = np.random.default_rng(0).choice(len(codes), 32, replace=False)
    dist = popcount[codes[centres, None] ^ codes[None, :]]  # (32, population)
    for d in range(6):
        counts = (dist <= d).sum(axis=1)
        assert counts.min() == counts.max() == task.near_ball(d), d


def test_chance_level_of_near_copies():
    task = GroupParity(ParityParams(G=2))  # 2^18 items, 18 pairs
    assert task.near_ball(2) == 19 and task.near_ball(4) == 1 + 18 + 153
    assert task.near_chance(64, 0) == pytest.approx(task.mem_chance(64))
    # valid items lie at least 2 apart: within 1 of a training item means being one
    assert task.near_chance(1024, NEAR_HAMMING) == pytest.approx(task.mem_chance(1024))
    assert task.near_chance(1024, 2) == pytest.approx(1 - np.prod(1 - 19 / (2**18 - np.arange(1024))))


def test_chance_level_estimated_when_no_count_is_known(monkeypatch):
    task = GroupParity(ParityParams(n=4, G=2))  # 256 items
    train = task.enumerate()[np.random.default_rng(0).choice(256, 64, replace=False)]
    index = TrainingIndex(train, 2)
    exact = near_chance(task, index)
    monkeypatch.setattr(GroupParity, "near_ball", lambda self, d: None)
    estimate = near_chance(task, index)
    assert exact == pytest.approx(0.25) and estimate == pytest.approx(exact, abs=0.03) and estimate != exact
    assert near_chance(task, index) == estimate  # once per index: the same draws


def test_near_copy_fraction():
    m = near_copies(np.array([0, 1, 2, 5, 1, 0, 3, 9]), 0.01)
    assert m["mem_near"] == 4 / 8 and m["mem_near_lo"] < 0.5 < m["mem_near_hi"] and m["mem_near_chance"] == 0.01


def digest(rd: RunDir) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(rd.path.rglob("*")) if p.is_file()}


def test_a_run_without_near_copies_gets_them_from_its_samples(tiny_run, tmp_path):
    run = copy_run(tiny_run, tmp_path / "run")
    rd = RunDir(run)
    summary = json.loads(rd.summary_path.read_text())
    metrics = rd.load_metrics()
    assert {"mem_near", "mem_near_lo", "mem_near_hi", "mem_near_chance"} <= set(metrics)
    assert (metrics["mem_near"] >= metrics["mem"]).all() and set(NEAR_KEYS) <= set(summary)
    # the run as an earlier version wrote it: no near-copy curve, no near-copy clock
    old_metrics = metrics.drop(columns=[c for c in metrics if c.startswith("mem_near")])
    write_table(rd.metrics_path, old_metrics)
    old_summary = {k: v for k, v in summary.items() if not k.startswith("tau_mem_near")}
    write_json(rd.summary_path, old_summary)
    before = digest(rd)
    loaded, curve = rd.load_finished()
    assert digest(rd) == before  # nothing written
    assert {k: loaded[k] for k in NEAR_KEYS} == {k: json.loads(json.dumps(summary[k])) for k in NEAR_KEYS}
    assert {k: loaded[k] for k in old_summary} == old_summary
    pd.testing.assert_frame_equal(curve[metrics.columns], metrics, check_like=True)
    loaded_run = tc.load(run)  # the Python API reads the same
    assert loaded_run.summary == loaded and "mem_near" in loaded_run.metrics and digest(rd) == before
    # without its samples there is nothing to read them from: the run loads as it is
    for _, path in rd.sample_files()[-1:]:
        path.unlink()
    loaded, curve = rd.load_finished()
    assert loaded == old_summary and "mem_near" not in curve


def test_claims_are_judged_at_each_memorisation_level(tmp_path):
    from test_reproduce import results
    from twoclocks.sweeps.claims.evaluate import claims_text, evaluate_claims, write_claims

    table = results(mem_G=0.0, families=("dit",))  # exact copies at 30 N, whatever G
    G = table["task.G"].to_numpy(dtype=float)
    table["tau_mem_near"] = table["tau_mem"] * G**-2.0 / 4  # near copies far earlier at higher G
    table["tau_mem_near_censored"] = table["tau_mem_near_left_censored"] = False
    claims = {c.id: c for c in evaluate_claims(table)}
    assert [list(c.by_mem) for c in claims.values()] == [["tau_mem", "tau_mem_near"]] * len(claims)
    three, six = claims[3], claims[6]
    assert three.by_mem["tau_mem"]["verdict"] == three.verdict == "supported"
    assert three.by_mem["tau_mem_near"]["verdict"] == "not supported" and three.mem_robust is False
    assert "tau_mem_near" in three.by_mem["tau_mem_near"]["evidence"]
    # windows are recomputed against the near-copy clock, which comes before tau_rule in more runs
    vanished = [re.search(r"vanished in (\d+)/", e)[1] for e in (six.evidence, six.by_mem["tau_mem_near"]["evidence"])]
    assert int(vanished[0]) < int(vanished[1])
    assert claims[2].mem_robust and claims[2].across_mem.endswith("(the same evidence at each)")  # reads no copying
    write_claims(list(claims.values()), tmp_path)
    assert {"verdict_tau_mem", "verdict_tau_mem_near"} <= set(pd.read_csv(tmp_path / "claims.csv").columns)
    assert "Robust to the memorisation level" in claims_text(list(claims.values()))
