"""`twoclocks report`: a sweep page built from a synthetic sweep directory (known clocks, a
vanished window, two families), a single-run page from a real tiny run, and the section hook."""

from __future__ import annotations

import base64
import os
import re
import subprocess

import pandas as pd
import pytest

from conftest import add_rule_clocks, copy_run, digest
from twoclocks.analysis import report
from twoclocks.cli import main as cli_main
from twoclocks.core.io import write_table
from twoclocks.errors import ReadNote
from twoclocks.sweeps.claims.evaluate import evaluate_claims, write_claims


def images(html: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', html)]


def test_sweep_report_is_self_contained_with_every_figure(sweep_dir):
    # The synthetic sweep's table lacks the later clocks and its runs hold metrics alone.
    with pytest.warns(ReadNote, match=r"could not be recomputed from the run directories: .*config\.json"):
        index = report.build_report(sweep_dir)
    html = index.read_text()
    pngs = {p.name for p in (sweep_dir / "report").glob("*.png")}
    assert {"tau_vs_N.png", "tau_vs_knob.png", "phase.png", "families.png", "runs_1.png"} <= pngs
    imgs = images(html)
    assert len(imgs) == len(pngs) and all(i[:8] == b"\x89PNG\r\n\x1a\n" for i in imgs)
    assert not re.search(r'src="(?!data:)', html)  # nothing refers to a file next to the page
    assert "vanished" in html and "Fits" in html
    assert "tau_mem vs data.N" in html and "&gt; 20000" in html  # a censored clock shown as a bound


def test_report_extra_section_hook(sweep_dir, monkeypatch):
    seen = []

    def good(inp: report.ReportInput):
        seen.append((inp.kind, len(inp.run_dirs)))
        return ("My extra analysis", "<p>extra-marker</p>")

    def broken(inp):
        raise RuntimeError("boom")

    monkeypatch.setattr(report, "EXTRA_SECTIONS", [*report.EXTRA_SECTIONS, good, broken])
    monkeypatch.setattr(report, "sweep_sections", lambda *a: [])  # only the hooks: faster
    with pytest.warns(ReadNote, match="could not be recomputed"):
        html = report.build_report(sweep_dir).read_text()
    assert seen == [("sweep", 36)]  # every finished run of the fixture (3 families x 12)
    assert "My extra analysis" in html and "extra-marker" in html
    assert "this section failed: RuntimeError: boom" in html


def test_single_run_report_and_cli(tiny_run, tmp_path, capsys):
    run_dir = copy_run(tiny_run, tmp_path / "run")
    assert cli_main(["report", str(run_dir)]) == 0
    assert str(run_dir / "report" / "index.html") in capsys.readouterr().out
    html = (run_dir / "report" / "index.html").read_text()
    assert len(images(html)) == 1 and "tau_rule" in html
    assert cli_main(["report", str(tmp_path)]) == 1
    assert "neither a finished run" in capsys.readouterr().err


def test_sweep_report_shows_every_rule_clock(sweep_dir, monkeypatch):
    # Earlier rule clocks than tau_rule: at tau_rule = 100 G^2 the window vanishes wherever
    # tau_mem = 40 N is below it (G=2 at N=8, G=3 at N=8 and 16: half of each family's runs with
    # both clocks, so claim 7 is undecided there); at tau_group = 10 G^2 every window is open.
    df = add_rule_clocks(pd.read_parquet(sweep_dir / "results.parquet"), {"tau_rule_low": 0.5, "tau_group": 0.1})
    write_table(sweep_dir / "results.parquet", df)
    write_claims(evaluate_claims(df), sweep_dir)
    monkeypatch.setattr(report, "EXTRA_SECTIONS", [])
    with pytest.warns(ReadNote, match="could not be recomputed"):
        html = report.build_report(sweep_dir).read_text()
    pngs = {p.name for p in (sweep_dir / "report").glob("*.png")}
    assert {"rule_clocks_vs_N.png", "rule_clocks_vs_G.png"} <= pngs
    claims = html[html.index("<h2>Claims") : html.index("<h2>Sweep")]
    for label in (
        "tau_rule (valid &gt;= 0.9)",
        "tau_rule_low (valid &gt;= 0.5)",
        "tau_group (constraint_acc &gt;= 0.95)",
    ):
        assert f"<th>{label}</th>" in claims
    assert claims.count("<td style=\"background:") == 9 * 3
    assert "depends on the clock: inconclusive at tau_rule; supported at tau_rule_low, tau_group" in claims
    # what each verdict rests on, and claims 1, 3, 6 over every slice beside their learned-rule verdict
    assert "<th>basis</th>" in claims and "<th>every slice, learned or not</th>" in claims
    assert "<td>fits on learned rules</td>" in claims and "includes unlearned rules (G=" in claims
    results = html[html.index("<h2>Results") :]
    assert "<th>window_log10_group</th>" in results and "<th>tau_group</th>" in results


def test_a_report_that_fails_leaves_the_previous_one_whole(small_sweep, tmp_path, capsys):
    """The report is made beside report/ and replaces it once complete: a damaged run midway
    costs no file of the previous report and leaves no partial folder; a link planted where the
    partial folder goes is removed, not followed."""
    sweep = copy_run(small_sweep, tmp_path / "sweep")
    assert cli_main(["report", str(sweep)]) == 0
    for png in (sweep / "report").glob("*.png"):  # the previous report's figures, unlike the next's
        png.write_bytes(png.read_bytes() + b"previous")
    before = digest(sweep / "report")
    last_run = sorted((sweep / "runs").iterdir())[-1]
    (last_run / "metrics.parquet").write_bytes(b"damaged")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (sweep / f".report.partial-{os.getpid()}").symlink_to(elsewhere)
    capsys.readouterr()
    assert cli_main(["report", str(sweep)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "metrics.parquet is unreadable" in err[0], err
    assert digest(sweep / "report") == before
    assert sorted(p.name for p in sweep.iterdir() if p.name.startswith(".report")) == []
    assert not any(elsewhere.iterdir()) and elsewhere.is_dir()


def test_a_report_killed_between_its_renames_is_put_back_by_the_next(small_sweep, tmp_path, capsys):
    """A report killed after moving the previous one aside and before moving its own in leaves
    no report/ at all: the next report, even one that fails, puts the previous one back, and
    removes the partial folder of the killed process (not those of live processes)."""
    sweep = copy_run(small_sweep, tmp_path / "sweep")
    assert cli_main(["report", str(sweep)]) == 0
    before = digest(sweep / "report")
    gone = subprocess.Popen(["true"])
    gone.wait()
    os.replace(sweep / "report", sweep / f".report.old-{gone.pid}")
    (sweep / f".report.partial-{gone.pid}").mkdir()
    (sweep / f".report.partial-{gone.pid}" / "index.html").write_text("half")
    live = sweep / ".report.partial-1"  # pid 1 is always alive: someone else's report being made
    live.mkdir()
    last_run = sorted((sweep / "runs").iterdir())[-1]
    (last_run / "metrics.parquet").write_bytes(b"damaged")
    capsys.readouterr()
    assert cli_main(["report", str(sweep)]) == 1
    assert digest(sweep / "report") == before
    assert sorted(p.name for p in sweep.iterdir() if p.name.startswith(".report")) == [live.name]
