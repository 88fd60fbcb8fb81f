"""Reading a run or a sweep never runs the code its config.json names: a rule file and a model
family file that leave a marker when imported are run (then forgotten by this process), the later clocks
are stripped from the saved files as an older format lacks them, and every reading command and
API call is made on them here: no marker, and the outputs are whole or one line says what is
missing."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

import twoclocks as tc
from conftest import TINY
from plugin_files import FAMILY, RULE
from twoclocks import cli
from twoclocks.errors import ReadNote

MARKS = "from pathlib import Path\nPath({marker!r}).write_text('imported')\n"
NEAR = "tau_mem_near"


def strip_near_copies(run_dir: Path, keep_chance: bool) -> None:
    """The near-copy clock gone from summary.json and metrics.parquet, as a run older than it
    has them; `keep_chance`: the chance level the run recorded stays."""
    path = run_dir / "summary.json"
    summary = json.loads(path.read_text())
    gone = [k for k in summary if k.startswith(NEAR) or (k == "mem_near_chance" and not keep_chance)]
    path.write_text(json.dumps({k: v for k, v in summary.items() if k not in gone}))
    metrics = pd.read_parquet(run_dir / "metrics.parquet")
    metrics.drop(columns=[c for c in metrics if c.startswith("mem_near")]).to_parquet(run_dir / "metrics.parquet")


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> dict[str, Path]:
    """A run and a sweep of a rule file and a family file that leave a marker when imported,
    their near-copy clocks stripped; the markers deleted and the plugins' modules forgotten, so
    that importing them again would leave the markers again."""
    root = tmp_path_factory.mktemp("planted")
    marker = {"rule": root / "rule.imported", "family": root / "family.imported"}
    rule, family = root / "evilrule.py", root / "evilfamily.py"
    rule.write_text(MARKS.format(marker=str(marker["rule"])) + RULE)
    family.write_text(MARKS.format(marker=str(marker["family"])) + FAMILY)
    plugins = [f"task={rule}:RowParity", f"model={family}:build", "model.kernel=5"]
    tc.run([*plugins, *TINY], out=root / "run", progress=False)
    tc.sweep(overrides=[*plugins, *TINY], grid={"data.N": [6, 8]}, workers=1, out=root / "sweep", progress=False)
    assert all(m.is_file() for m in marker.values())  # the plugins did run where they were meant to
    original = json.loads((root / "run" / "summary.json").read_text())
    near_curve = pd.read_parquet(root / "run" / "metrics.parquet")[["mem_near", "mem_near_chance"]]
    shutil.copytree(root / "run", root / "old")  # a run that recorded no near-copy chance either
    strip_near_copies(root / "run", keep_chance=True)
    strip_near_copies(root / "old", keep_chance=False)
    results = pd.read_parquet(root / "sweep" / "results.parquet")
    results.drop(columns=[c for c in results if c.startswith(NEAR)]).to_parquet(root / "sweep" / "results.parquet")
    for rel in results["run_dir"]:
        strip_near_copies(root / "sweep" / rel, keep_chance=True)
    for m in marker.values():
        m.unlink()
    for name in [n for n in sys.modules if n.startswith("twoclocks_plugin_")]:
        del sys.modules[name]
    assert not any(name.startswith("twoclocks_plugin_") for name in sys.modules)
    return {"root": root, **marker, "original": original, "near_curve": near_curve}  # type: ignore[dict-item]


def no_marker(planted: dict) -> None:
    assert not planted["rule"].exists() and not planted["family"].exists(), "a reader imported a plugin"
    assert not any(name.startswith("twoclocks_plugin_") for name in sys.modules)


def twoclocks(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_reading_commands_never_import_a_plugin(planted, capsys, tmp_path):
    root = planted["root"]
    run, old, sweep = str(root / "run"), str(root / "old"), str(root / "sweep")
    code, out, err = twoclocks(capsys, "report", run)
    assert code == 0 and err == "", err
    page = (root / "run" / "report" / "index.html").read_text()
    assert NEAR in page and "tau_rule" in page  # rebuilt from the chance level the run recorded
    code, out, err = twoclocks(capsys, "report", old)
    page = (root / "old" / "report" / "index.html").read_text()
    assert code == 0 and "tau_rule" in page and "tau_mem " in page and NEAR not in page
    assert err.count("\n") == 1 and err.startswith("twoclocks: note: tau_mem_near is not rebuilt"), err
    code, out, err = twoclocks(capsys, "report", sweep)
    assert code == 0 and err == "", err
    assert "Fits" in (root / "sweep" / "report" / "index.html").read_text()
    code, out, err = twoclocks(capsys, "compare", run, old, "--out", str(tmp_path / "c.png"))
    assert code == 0 and "row_parity n=4" in out and (tmp_path / "c.png").is_file(), out + err
    code, out, err = twoclocks(capsys, "basins", run)
    assert code == 1 and err.count("\n") == 1 and "never imports a plugin" in err, err
    assert not (root / "run" / "basins").exists()
    code, out, err = twoclocks(capsys, "predict", "--from", sweep)
    assert "Traceback" not in err and (code == 0 or err.count("\n") == 1), err
    no_marker(planted)


def test_reading_calls_never_import_a_plugin(planted, tmp_path):
    root, original = planted["root"], planted["original"]
    run = tc.load(root / "run")
    assert {k: v for k, v in run.summary.items() if k.startswith(NEAR)} == {
        k: v for k, v in original.items() if k.startswith(NEAR)
    }
    rebuilt = run.metrics[["mem_near", "mem_near_chance"]]  # from samples/ and the recorded chance
    pd.testing.assert_frame_equal(rebuilt, planted["near_curve"])
    assert run.summary["task_knob"] == "n" and run.config.model.family.endswith("evilfamily.py:build")
    assert run.config.model.kernel == 5  # the family's own field, as recorded
    assert len(run.samples().cells) == 64 and run.show_samples(n=4) is not None
    assert run.plot(tmp_path / "p.png") is not None and "tau_rule" in run._repr_html_()
    with pytest.warns(ReadNote, match="not rebuilt"):
        old = tc.load(root / "old").summary
    assert NEAR not in old and old["tau_mem"] == original["tau_mem"]
    sweep = tc.load_sweep(root / "sweep")
    assert list(sweep.results["status"]) == ["finished", "finished"] and "2 finished" in sweep._repr_html_()
    assert all(NEAR in r.summary for r in sweep.runs())
    assert tc.report(root / "sweep").index.is_file() and tc.report(run).index.is_file()
    with pytest.warns(ReadNote, match="not rebuilt"):
        assert len(tc.compare([root / "run", root / "old"])) == 2
    fits = tc.fits(sweep)
    assert NEAR in set(fits["y"])  # recomputed from the runs' samples with their recorded chance
    no_marker(planted)


def every_reading_member(obj: object, writes: set[str]) -> list[str]:
    """The public members of an API object, and its reprs, except those that execute by intent."""
    names = [n for n in dir(type(obj)) if not n.startswith("_") or n in ("__repr__", "_repr_html_")]
    return [n for n in names if n not in writes]


def test_every_member_of_a_run_and_a_sweep_reads_without_importing(planted, recwarn):
    """Every public property and method of `tc.load` and `tc.load_sweep` (but `resume`, which
    executes by intent), found by enumeration so that a member added later is tried too."""
    root = planted["root"]
    for obj in (tc.load(root / "run"), tc.load_sweep(root / "sweep")):
        for name in every_reading_member(obj, writes={"resume"}):
            value = getattr(obj, name)
            if callable(value):
                value()
        no_marker(planted)
    assert "row_parity" in tc.load(root / "run").text()
