"""Older run and sweep directories are read in twoclocks.records.formats: a point's hash is the one it
had when its sweep directory was made (so the directory resumes), config.json records its
format, and a directory without one is read as the format it was written in."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest

from twoclocks.clocks import PRIMARY, RULE_CLOCKS
from twoclocks.config import RunConfig, apply_overrides
from twoclocks.errors import ConfigError
from twoclocks.records.formats import (
    FORMAT,
    FORMAT_KEY,
    claim_by_clock,
    config_record,
    config_sections,
    hashed_identity,
    results_format,
    rule_clocks_of,
)
from twoclocks.sweeps.scales import scale_spec
from twoclocks.sweeps.spec import SweepSpec, expand, identity_dict
from twoclocks.training.rundir import RunDir

# sha256 over the concatenated point hashes of each packaged scale, and its first point's hash,
# as sweep directories made before the format was recorded hold them.
SCALE_HASHES = {
    "tiny": (16, "fba4116fe3a0dd7d230be9d947bdb76a53e7c3ff42aa658ea8b41f9b25cbeeab", "dc247de7a31c30f1"),
    "cpu": (48, "62b1c97d4c22e2954dba9641f96d4fcb0c988a9ac346750f5e0976c06aeed9cf", "3a8a9b6c6517e34d"),
    "cpu-long": (45, "ac621b2e5a6358b2acb23bcd451debf553d489dfc64f67e7249b4adf2c147102", "ec551c375b2d7fd9"),
    "gpu": (345, "574db48b5063e003c8332f7c6354f1bf10e44b1db597622cefe04d04f6b5fa02", "b3a51e2f288f47c3"),
}
# Points that set fields added after the first sweeps, at and off their defaults.
LATER_SPEC = SweepSpec(
    base={"train.steps": 40},
    grids=[
        {
            "task.G": [2, 3],
            "clocks.theta_group": [0.95, 0.9],
            "train.stop_at": ["none", "rule"],
            "model.mask_schedule": ["linear", "cosine"],
        }
    ],
    seeds=[0],
)
LATER_HASHES = [
    "b9c92c03", "fbde76b8", "98d0b0b4", "fea15e1a", "32daf7b9", "61d2f291", "99a71775", "f9875f68",
    "4a86e7e4", "28c88922", "6caa1fcc", "7d1ea60a", "52188cc4", "7ef011b9", "b7325fca", "4d67082d",
]  # fmt: skip


@pytest.mark.parametrize("scale", list(SCALE_HASHES))
def test_the_packaged_sweeps_keep_their_point_hashes(scale):
    points = expand(scale_spec(scale))
    count, digest, first = SCALE_HASHES[scale]
    assert len(points) == count and points[0].hash.startswith(first)
    assert hashlib.sha256("".join(p.hash for p in points).encode()).hexdigest() == digest


def test_points_that_set_later_fields_keep_their_hashes():
    points = expand(LATER_SPEC)
    assert [p.hash[:8] for p in points] == LATER_HASHES
    assert points[0].name == "parity-G2_dit_N16_theta_group0.95_mask_schedulelinear_stop_atnone_seed0-b9c92c03"


def test_a_field_added_later_is_hashed_only_off_its_default():
    at_default = hashed_identity(identity_dict(RunConfig()))
    assert "stop_at" not in at_default["train"] and "theta_group" not in at_default["clocks"]
    assert at_default["train"]["threads"] == 0  # a field of the first format, hashed at any value
    off = hashed_identity(identity_dict(apply_overrides(RunConfig(), {"train.stop_at": "rule"})))
    assert off["train"]["stop_at"] == "rule"


def test_config_json_records_its_format_and_older_ones_still_load(tmp_path):
    cfg = apply_overrides(RunConfig(), {"task.G": 3})
    assert config_record(cfg)[FORMAT_KEY] == FORMAT
    assert config_sections(config_record(cfg)) == (FORMAT, cfg.to_dict())
    rd = RunDir(tmp_path / "run")
    rd.path.mkdir()
    rd.config_path.write_text(json.dumps(cfg.to_dict()))  # written before the format was recorded
    assert rd.load_config().to_dict() == cfg.to_dict()
    rd.config_path.write_text(json.dumps({**cfg.to_dict(), FORMAT_KEY: FORMAT + 1}))
    with pytest.raises(ConfigError, match=rf"config.json: format {FORMAT + 1} is not one this twoclocks reads"):
        rd.load_config()


def test_an_unversioned_results_table_is_read_by_its_content():
    first = pd.DataFrame({"tau_rule": [1.0], "window_vanished": [False]})
    assert results_format(first) == 1 and rule_clocks_of(first.columns) == [PRIMARY]
    every = first.assign(**{c: [1.0] for rc in RULE_CLOCKS for c in (rc.tau, rc.key("window_vanished"))})
    assert results_format(every) == 2 and rule_clocks_of(every.columns) == list(RULE_CLOCKS)
    assert results_format(every.assign(**{FORMAT_KEY: FORMAT})) == FORMAT
    old = {"verdict": "supported", "evidence": "e"}
    assert claim_by_clock(old) == {"tau_rule": {"verdict": "supported", "evidence": "e"}}


def test_a_run_written_before_the_later_rule_clocks_is_read_with_them(tiny_run, tmp_path, capsys):
    """A summary of version 1 (tau_rule its only rule clock) is upgraded on read: the later rule
    clocks come back from metrics.parquet equal to those the run wrote, and the readers that
    print every rule clock (compare, the summary, the report) run on it."""
    import twoclocks as tc
    from conftest import copy_run
    from twoclocks import cli

    old = copy_run(tiny_run, tmp_path / "old")
    written = json.loads((old / "summary.json").read_text())
    later = [k for k in written for rc in RULE_CLOCKS[1:] if k.startswith(rc.tau)]
    assert later
    thresholds = {k: v for k, v in written["thresholds"].items() if k in ("theta_rule", "theta_mem")}
    stripped = {k: v for k, v in written.items() if k not in later}
    (old / "summary.json").write_text(json.dumps({**stripped, "thresholds": thresholds}))
    upgraded = tc.Run(old).summary
    assert upgraded is not None
    assert {k: upgraded[k] for k in later} == {k: written[k] for k in later}
    assert upgraded["thresholds"] == written["thresholds"]
    assert cli.main(["compare", str(old), str(tiny_run), "--out", str(tmp_path / "cmp.png")]) == 0
    assert "tau_group" in capsys.readouterr().out
    assert "tau_group" in tc.Run(old).text()


def test_a_version_1_summary_whose_metrics_lack_a_curve_is_one_line(tiny_run, tmp_path):
    from conftest import copy_run
    from twoclocks.errors import TwoClocksError

    old = copy_run(tiny_run, tmp_path / "old")
    written = json.loads((old / "summary.json").read_text())
    (old / "summary.json").write_text(json.dumps({k: v for k, v in written.items() if not k.startswith("tau_group")}))
    metrics = pd.read_parquet(old / "metrics.parquet")
    metrics.drop(columns=[c for c in metrics if c.startswith("constraint_acc")]).to_parquet(old / "metrics.parquet")
    with pytest.raises(TwoClocksError, match=r"summary.json predates the later rule clocks and its metrics lack"):
        RunDir(old).load_finished()


def test_a_run_older_than_chance_validity_is_read_against_it(tiny_run, tmp_path):
    """A run of a built-in rule written before format 5 (no valid_chance in its metrics or
    summary) has its clocks on `valid` read again against its rule's chance validity when it
    is read, as a run of today writes them; its sweep's older table has those columns (present,
    as measured before) recomputed from the run."""
    import numpy as np

    from conftest import copy_run
    from twoclocks.clocks import CHANCE, ClockConfig, compute_clocks
    from twoclocks.core.stats import wilson_interval
    from twoclocks.sweeps.results import with_later_clocks

    old = copy_run(tiny_run, tmp_path / "old")
    config = json.loads((old / "config.json").read_text())
    config["task"] = {"name": "sparse_parity", "n": 6, "k": 3, "subset_seed": 0}
    (old / "config.json").write_text(json.dumps({**config, FORMAT_KEY: 4}))
    metrics = pd.read_parquet(old / "metrics.parquet").drop(columns=CHANCE)
    valid = np.linspace(0.5, 0.99, len(metrics))  # at chance first, learned last
    M = int(metrics["samples"].iloc[0])
    lo, hi = wilson_interval(np.round(valid * M), M)
    metrics = metrics.assign(valid=valid, valid_lo=lo, valid_hi=hi)
    metrics.to_parquet(old / "metrics.parquet")
    cfg = RunDir(old).read_config().cfg
    as_before = compute_clocks(metrics, ClockConfig(), cfg.train.batch, cfg.data.N)
    written = json.loads((old / "summary.json").read_text())
    written.pop(CHANCE)
    (old / "summary.json").write_text(json.dumps({**written, **as_before}))
    assert as_before["tau_rule_low_left_censored"]  # chance read as learning, as it was
    summary, read = RunDir(old).load_finished()
    today = compute_clocks(read, ClockConfig(), cfg.train.batch, cfg.data.N)
    assert summary[CHANCE] == 0.5 and (read[CHANCE] == 0.5).all()
    assert summary["tau_rule_low"] == today["tau_rule_low"] > as_before["tau_rule_low"]
    assert summary["window_log10_low"] == today["window_log10_low"]
    from twoclocks.training.runner import summary_lines

    printed = "\n".join(summary_lines(summary))
    assert "valid >= 0.75 (0.5 in excess of chance validity 0.5)" in printed  # tau_rule_low
    assert "valid >= 0.95 (0.9 in excess of chance validity 0.5)" in printed  # tau_rule
    table = pd.DataFrame([{**{k: as_before[k] for k in ("tau_rule_low", "tau_rule")}, "run_dir": ".", FORMAT_KEY: 4}])
    upgraded, note = with_later_clocks(table, old)
    assert upgraded["tau_rule_low"].iloc[0] == today["tau_rule_low"] and "recomputed" in note
    assert (
        with_later_clocks(table.assign(**{FORMAT_KEY: FORMAT}), old)[0]["tau_rule_low"].iloc[0]
        == (as_before["tau_rule_low"])
    )  # a table of format 5 is read as it is (its other missing columns apart)
