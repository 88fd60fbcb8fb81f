"""`twoclocks compare`: the overlay figure, the clock table and its offsets, bad inputs."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from twoclocks.analysis.compare import Run, compare_table
from twoclocks.cli import main as cli_main
from twoclocks.clocks import RULE_CLOCKS
from twoclocks.config import build_config
from twoclocks.training.runner import start_run

TINY = [
    "task=parity",
    "task.n=6",
    "task.G=2",
    "data.N=32",
    "train.steps=40",
    "eval.points=3",
    "eval.samples=64",
    "model.width=32",
    "model.depth=1",
    "model.sample_steps=6",
    "train.device=cpu",
]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("runs")
    return [
        start_run(build_config([f"model={family}", *TINY]), out=root / family, progress=False)[0]
        for family in ("gpt", "mlp")
    ]


def test_compare_writes_figure_and_table(two_runs, tmp_path, capsys):
    out = tmp_path / "cmp.png"
    assert cli_main(["compare", *map(str, two_runs), "--out", str(out), "--x", "epoch"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = capsys.readouterr().out
    for label in ("gpt parity G=2 N=32 seed=0", "mlp parity G=2 N=32 seed=0"):
        assert label in text
    header = text.splitlines()[0].split()
    assert header[:6] == ["run", "params", "tau_rule", "tau_mem", "window_log10", "rule_vs_first"]


def test_identical_labels_are_told_apart(two_runs, tmp_path, capsys):
    assert cli_main(["compare", str(two_runs[0]), str(two_runs[0]), "--out", str(tmp_path / "c.png")]) == 0
    assert f"[{two_runs[0].name}]" in capsys.readouterr().out


def fake_run(label: str, tau_rule: float | None, tau_mem: float | None, max_step: int) -> Run:
    summary = {
        "max_step": max_step,
        "tau_rule": tau_rule,
        "tau_mem": tau_mem,
        "num_params": 10,
        "window_log10": None,
        "window_vanished": False,
        **{rc.tau: None for rc in RULE_CLOCKS[1:]},  # not reached: a summary has every rule clock
    }
    return Run(Path(label), label, pd.DataFrame(), summary)


def test_offsets_are_ratios_in_decades_with_censoring_as_bounds():
    table = compare_table(
        [
            fake_run("ref", 100.0, 1000.0, 5000),
            fake_run("late", 1000.0, None, 5000),
            fake_run("early", None, 50.0, 5000),
        ]
    ).set_index("run")
    assert table.loc["ref", "rule_vs_first"] == "x1" and table.loc["ref", "mem_dec"] == "+0.00"
    assert table.loc["late", "rule_vs_first"] == "x10" and table.loc["late", "rule_dec"] == "+1.00"
    assert table.loc["late", "tau_mem"] == "> 5000"  # censored, via format_clock
    assert table.loc["late", "mem_vs_first"] == "> x5" and table.loc["late", "mem_dec"] == "> +0.70"
    assert table.loc["early", "rule_vs_first"] == "> x50"  # its rule clock is past 5000
    assert table.loc["early", "mem_vs_first"] == "x0.05" and table.loc["early", "mem_dec"] == "-1.30"


def test_reference_censored_gives_upper_bound():
    table = compare_table([fake_run("ref", None, None, 1000), fake_run("b", 100.0, None, 1000)]).set_index("run")
    assert table.loc["b", "rule_vs_first"] == "< x0.1" and table.loc["b", "rule_dec"] == "< -1.00"
    assert table.loc["b", "mem_vs_first"] == "n/a"


@pytest.mark.parametrize("make", ["empty_dir", "missing"])
def test_not_a_run_directory_is_a_one_line_error(two_runs, tmp_path, capsys, make):
    bad = tmp_path / "not_a_run"
    if make == "empty_dir":
        bad.mkdir()
    assert cli_main(["compare", str(two_runs[0]), str(bad), "--out", str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("twoclocks: error:") and str(bad) in err
    assert not (tmp_path / "x.png").exists()


def test_summary_from_another_program_is_a_one_line_error(two_runs, tmp_path, capsys):
    bad = tmp_path / "other"
    bad.mkdir()
    (bad / "summary.json").write_text('{"tau_rule": 3}')
    (bad / "metrics.parquet").write_bytes((two_runs[0] / "metrics.parquet").read_bytes())
    assert cli_main(["compare", str(bad), "--out", str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "max_step" in err


def test_other_rule_clocks_get_columns_and_offsets():
    ref = fake_run("ref", 100.0, 1000.0, 5000)
    ref.summary.update(tau_rule_low=50.0, tau_group=20.0, window_log10_low=math.log10(20), window_log10_group=1.7)
    late = fake_run("late", None, 400.0, 5000)  # valid never held 0.9 ...
    late.summary.update(tau_rule_low=500.0, tau_group=None, window_vanished_low=True)
    table = compare_table([ref, late]).set_index("run")
    assert list(table.columns[:8]) == [
        "params",
        "tau_rule",
        "tau_mem",
        "window_log10",
        "rule_vs_first",
        "rule_dec",
        "mem_vs_first",
        "mem_dec",
    ]
    assert table.loc["ref", "tau_rule_low"] == "50" and table.loc["ref", "window_log10_low"] == "1.30"
    assert table.loc["late", "rule_low_vs_first"] == "x10" and table.loc["late", "rule_low_dec"] == "+1.00"
    assert table.loc["late", "window_log10_low"] == "vanished"
    assert table.loc["late", "tau_group"] == "> 5000" and table.loc["late", "group_vs_first"] == "> x250"


@pytest.mark.parametrize("name", ["c.txt", "c.parquet", "c.PNGX", "c.pgf", "newdir/"])
def test_a_figure_name_twoclocks_cannot_write_is_one_line_before_any_work(two_runs, tmp_path, capsys, name):
    import twoclocks as tc
    from twoclocks.errors import TwoClocksError

    target = f"{tmp_path}/{name}"  # as typed: a Path would drop a trailing slash
    assert cli_main(["compare", *map(str, two_runs), "--out", target]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "a figure" in err, err
    for call in (lambda: tc.compare(two_runs, out=target), lambda: tc.load(two_runs[0]).plot(target)):
        with pytest.raises(TwoClocksError, match="a figure"):
            call()
    assert list(tmp_path.iterdir()) == []
