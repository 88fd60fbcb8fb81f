"""The extension examples run end to end, as a user runs them, and say what they show."""

from __future__ import annotations

from pathlib import Path

import cli_process

EXAMPLES = Path(__file__).parents[1] / "examples"


def run_example(name: str, out: Path) -> str:
    res = cli_process.run([str(out)], script=EXAMPLES / name, timeout=600)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_custom_rule_example_runs_sweeps_and_resumes(tmp_path):
    out = run_example("custom_rule.py", tmp_path)
    assert f"config.json names the rule '{EXAMPLES / 'custom_rule.py'}:RowParity'" in out
    assert out.count(" finished ") == 2  # both sweep points, run by two worker processes
    assert "same metrics as the uninterrupted run: True" in out


def test_custom_data_example_trains_on_the_file_and_refuses_a_broken_one(tmp_path):
    out = run_example("custom_data.py", tmp_path)
    assert "trained on the file's first 8 items: True" in out
    assert "refused: data.path" in out and "break the rule" in out
    assert "nothing written for it: True" in out
