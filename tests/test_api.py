"""The Python API: the same validation and files as the command line, and loading back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cli_process
import twoclocks as tc
from conftest import TINY
from twoclocks.config import parse_overrides
from twoclocks.errors import ConfigError, TwoClocksError

TINY_DICT = parse_overrides(TINY)  # {"model.width": 32, ...}


def test_run_load_and_summary_agree(tmp_path):
    run = tc.run(TINY_DICT, out=tmp_path / "r", progress=False)
    assert run.finished
    loaded = tc.load(tmp_path / "r")
    on_disk = json.loads((tmp_path / "r" / "summary.json").read_text())
    for key in ("tau_rule", "tau_mem", "max_step", "window_log10"):
        assert loaded.summary[key] == on_disk[key]
    assert loaded.config.model.width == 32 and loaded.config.data.N == 8
    assert list(loaded.metrics["step"]) == loaded.steps
    out = loaded.samples(loaded.steps[0])
    assert out.cells.shape == (64, 6, 6) and out.valid.dtype == bool
    with pytest.raises(TwoClocksError, match="no samples at step 7"):
        loaded.samples(7)
    fig = loaded.plot(tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 0 and fig is not None


def test_dict_and_strings_are_the_same_overrides(tmp_path):
    a = tc.run(TINY_DICT, out=tmp_path / "a", progress=False)
    b = tc.run(TINY, out=tmp_path / "b", progress=False)
    assert a.metrics["valid"].tolist() == b.metrics["valid"].tolist()


def test_bad_input_raises_the_one_line_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown config key"):
        tc.run({"train.stpes": 10}, out=tmp_path / "x", progress=False)
    with pytest.raises(ConfigError, match="must be a dict or a list"):
        tc.run("task.G=3", out=tmp_path / "x", progress=False)
    with pytest.raises(TwoClocksError, match="not a twoclocks run directory"):
        tc.load(tmp_path)
    assert not (tmp_path / "x").exists()


def test_sweep_and_load_sweep(tmp_path):
    sweep = tc.sweep(overrides=TINY_DICT, grid={"data.N": [4, 8]}, out=tmp_path / "s", progress=False, workers=1)
    results = tc.load_sweep(tmp_path / "s").results
    assert len(results) == 2 and set(results["status"]) == {"finished"}
    assert [r.summary["N"] for r in sweep.runs()] == [4, 8]


def test_quickstart_example_runs(tmp_path):
    example = Path(__file__).parents[1] / "examples" / "quickstart.py"
    res = cli_process.run([str(tmp_path)], script=example)
    assert res.returncode == 0, res.stderr
    assert "tau_rule = " in res.stdout and (tmp_path / "clocks.png").is_file()
