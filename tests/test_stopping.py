"""train.stop_at: a run stops at the evaluation that settles its wanted clocks and reports exactly
the clocks of the full run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from twoclocks.config import build_config
from twoclocks.errors import ConfigError
from twoclocks.training.group import train_group
from twoclocks.training.rundir import RunDir
from twoclocks.training.runner import start_run
from twoclocks.training.stopping import confirmed, stop_reason

# Learns G=2 parity by step ~150-210, so that a stop at the rule is confirmed at step 242 or 361,
# two evaluations before the end (measured for seeds 0 and 1 in bf16 and fp32; 2-3 s).
FAST = [
    "model.width=32",
    "model.depth=1",
    "model.heads=2",
    "train.steps=800",
    "eval.points=12",
    "eval.samples=64",
    "data.N=4",
    "train.checkpoint_every=50",
    "train.threads=1",
    "train.lr=3e-3",
    "train.device=cpu",
]


def rows(valid: list[float], mem: list[float]) -> list[dict]:
    return [
        {"step": 10 * 2**i, "valid": v, "constraint_acc": 1.0, "mem": m, "mem_chance": 0.0}
        for i, (v, m) in enumerate(zip(valid, mem))
    ]


def test_confirmed_needs_two_evaluations_in_a_row():
    assert not confirmed(np.array([0.0, 0.95]), 0.9)  # the last evaluation alone is not held yet
    assert not confirmed(np.array([0.95, 0.5, 0.95]), 0.9)
    assert confirmed(np.array([0.5, 0.95, 0.91]), 0.9)


def test_stop_reason_waits_for_the_wanted_clocks():
    cfg = build_config(["train.stop_at=rule", "clocks.theta_rule_low=0.5"])
    assert stop_reason(cfg, rows([0.2, 0.95], [0, 0])) is None
    assert stop_reason(cfg, rows([0.2, 0.6, 0.55], [0, 0, 0])) is None  # tau_rule (0.9) not held yet
    assert "tau_rule, tau_rule_low, tau_group" in stop_reason(cfg, rows([0.2, 0.6, 0.95, 0.92], [0, 0, 0, 0]))
    mem = build_config(["train.stop_at=mem"])
    assert stop_reason(mem, rows([0.2, 0.95, 0.97], [0, 0, 0])) is None
    assert "tau_mem" in stop_reason(mem, rows([0.2, 0.95, 0.97], [0, 0.2, 0.3]))
    assert stop_reason(build_config([]), rows([1, 1, 1], [1, 1, 1])) is None  # none: never


def test_bad_stop_at_is_a_config_error():
    with pytest.raises(ConfigError, match="train.stop_at"):
        build_config(["train.stop_at=soon"])


def test_stopped_run_reports_the_full_runs_clocks(tmp_path):
    _, full = start_run(build_config(FAST), tmp_path / "full", progress=False)
    _, stopped = start_run(build_config([*FAST, "train.stop_at=rule"]), tmp_path / "rule", progress=False)
    assert full["stopped_step"] is None and full["max_step"] == 800
    assert stopped["stopped_step"] is not None and stopped["stopped_step"] < 800
    assert stopped["max_step"] == stopped["stopped_step"]
    assert "tau_rule, tau_rule_low, tau_group settled" in stopped["stop_reason"]
    for key in ("tau_rule", "tau_rule_low", "tau_group"):
        assert stopped[key] == full[key], key
        # the early bound is settled with the clock; the late bound (the lower Wilson limit's
        # crossing) may lie beyond the stop step, and is then the full run's or not reached
        (early, late), (full_early, full_late) = stopped[f"{key}_ci"], full[f"{key}_ci"]
        assert early == full_early and late in (None, full_late), key
    # the stopped run's curve is the full run's, cut at the stop step
    a = RunDir(tmp_path / "full").load_metrics()
    b = RunDir(tmp_path / "rule").load_metrics()
    cols = ["step", "valid", "mem", "constraint_acc", "loss"]
    pd.testing.assert_frame_equal(a[a.step <= stopped["stopped_step"]][cols], b[cols])
    # and the weights of its last evaluation are kept, as a full run keeps its last step's
    assert RunDir(tmp_path / "rule").snapshots()[-1][0] == stopped["stopped_step"]


def test_grouped_members_stop_like_single_runs(tmp_path):
    cfgs = [build_config([*FAST, "train.stop_at=rule", f"seed={s}"]) for s in (0, 1)]
    grouped = train_group(cfgs, [tmp_path / "g0", tmp_path / "g1"])
    for k, cfg in enumerate(cfgs):
        _, single = start_run(cfg, tmp_path / f"s{k}", progress=False)
        for key in ("tau_rule_low", "tau_group", "tau_rule", "stopped_step", "max_step"):
            assert grouped[k][key] == single[key], (k, key)
