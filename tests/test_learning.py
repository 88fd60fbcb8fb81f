"""Real training: the rule is learned (default suite), and the embedded default shows both
clocks in order (slow: `python -m pytest -m slow`)."""

import pandas as pd
import pytest

from twoclocks.config import build_config
from twoclocks.training.runner import start_run

# A small DiT on G=2 parity: learns the rule in a few hundred steps (~15 s on one core).
FAST_LEARNER = [
    "model.width=64",
    "model.depth=2",
    "model.heads=2",
    "train.steps=450",
    "eval.points=5",
    "eval.samples=256",
    "data.N=64",
    "train.threads=1",
    "eval.keep_checkpoints=last",
]


def test_dit_learns_group_parity(tmp_path):
    run_dir, summary = start_run(build_config(FAST_LEARNER), tmp_path / "r", progress=False)
    df = pd.read_parquet(run_dir / "metrics.parquet")
    assert df["valid"].iloc[0] < 0.1  # untrained: noise is not rule-valid
    assert df["valid"].iloc[-1] > 0.9  # trained: the rule is learned
    assert not summary["tau_rule_censored"]
    assert summary["tau_rule"] < 450
    assert df["mem"].iloc[-1] < 0.1  # 64 items are not memorised this early


@pytest.mark.slow
def test_embedded_default_shows_both_clocks(tmp_path):
    run_dir, s = start_run(build_config([]), tmp_path / "default", progress=False)
    assert not s["tau_rule_censored"] and not s["tau_mem_censored"]
    assert s["tau_rule"] < s["tau_mem"]
    assert s["window_log10"] > 0.5
    assert s["peak_novel_valid"] > 0.9


@pytest.mark.slow
def test_tau_mem_grows_with_N(tmp_path):
    base = ["train.steps=6000", "eval.points=20", "eval.samples=256", "eval.keep_checkpoints=last"]
    taus = {}
    for N in (8, 32):
        _, s = start_run(build_config(base + [f"data.N={N}"]), tmp_path / f"N{N}", progress=False)
        taus[N] = s["tau_mem"] if s["tau_mem"] is not None else float("inf")
    assert taus[8] < taus[32]
