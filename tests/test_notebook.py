"""The notebook front door: HTML views of a run and a sweep (escaped, the clocks figure inline),
tc.report / tc.compare / tc.fits as objects and DataFrames, censored clocks as explicit values,
and Run.show_samples."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba

import twoclocks as tc
from conftest import SMALL
from twoclocks import cli
from twoclocks.clocks import clock_names
from twoclocks.errors import TwoClocksError
from twoclocks.plots import SAMPLE_FRAMES, sample_kind

# Long enough for the rule to be learned and the items copied at N=4 (a finished picture).
LEARNS = [*SMALL, "train.steps=600", "train.lr=3e-3", "eval.points=6", "eval.samples=32"]


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("nb") / "sweep"
    assert cli.main(["sweep", *LEARNS, "--grid", "data.N=4,8", "--workers", "1", "--out", str(out), "--quiet"]) == 0
    return out


def png_of(html: str) -> bytes:
    uri = html.split('src="data:image/png;base64,', 1)[1].split('"', 1)[0]
    return base64.b64decode(uri)


def test_a_run_shows_its_clocks_and_figure_escaped(sweep_dir, tmp_path):
    run_dir = shutil.copytree(tc.load_sweep(sweep_dir).runs()[0].path, tmp_path / "a<b>&c")
    page = tc.load(run_dir)._repr_html_()
    assert "tau_rule" in page and "tau_mem" in page and "window" in page
    assert png_of(page).startswith(b"\x89PNG")
    assert "a&lt;b&gt;&amp;c" in page and "a<b>" not in page
    (Path(run_dir) / "summary.json").unlink()
    assert "unfinished" in tc.load(run_dir)._repr_html_()


def test_a_sweep_shows_its_points(sweep_dir):
    sweep = tc.load_sweep(sweep_dir)
    page = sweep._repr_html_()
    assert "2 points, 2 finished" in page
    for name in sweep.results["name"]:
        assert name in page


def test_censored_clocks_are_explicit(sweep_dir):
    results = tc.load_sweep(sweep_dir).results
    for key in clock_names():
        bound = results[f"{key}_censored_at"]
        censored = results[f"{key}_censored"].astype(bool)
        assert results.loc[censored, key].isna().all()
        assert (bound[censored] == results.loc[censored, "max_step"]).all()
        assert bound[~censored].isna().all()
    table = tc.compare([tc.load_sweep(sweep_dir).runs()[0], sweep_dir / results["run_dir"].iloc[1]])
    for key in clock_names():
        censored = table[f"{key}_censored"]
        assert (table.loc[censored, f"{key}_censored_at"] == table.loc[censored, "max_step"]).all()
        assert table.loc[~censored, f"{key}_censored_at"].isna().all()
    assert {"rule_vs_first", "mem_dec"} <= set(table.columns) and len(table) == 2


def test_compare_writes_its_figure_only_into_an_existing_folder(sweep_dir, tmp_path):
    runs = tc.load_sweep(sweep_dir).runs()
    tc.compare(runs, out=tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 0
    with pytest.raises(TwoClocksError, match="cannot write"):
        tc.compare(runs, out=tmp_path / "no" / "c.png")


def test_report_and_fits(sweep_dir, tmp_path):
    out = Path(shutil.copytree(sweep_dir, tmp_path / "sweep"))
    report = tc.report(out)
    assert report.index == out / "report" / "index.html" and report.figures
    assert "<iframe srcdoc=" in report._repr_html_() and "<html" not in report._repr_html_()
    fits = tc.fits(tc.load_sweep(out))
    assert {"relation", "x", "y", "slope", "ci_lo", "ci_hi", "runs_used", "censored"} <= set(fits.columns)
    assert ("data.N", "tau_mem") in set(zip(fits["x"], fits["y"]))
    pd.testing.assert_frame_equal(fits, tc.fits(out))


def test_show_samples_marks_each_outcome(sweep_dir):
    run = tc.load_sweep(sweep_dir).runs()[0]
    step = run.steps[-1]
    fig = run.show_samples(step, n=12)
    out = run.samples(step)
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 12
    for i, ax in enumerate(images):
        np.testing.assert_array_equal(ax.images[0].get_array(), out.cells[i])
        want = SAMPLE_FRAMES[sample_kind(bool(out.valid[i]), int(out.train_match[i]) >= 0)][0]
        assert ax.spines["left"].get_edgecolor() == to_rgba(want)
    assert len([ax for ax in run.show_samples(n=1000).axes if ax.images]) == len(out.cells)
