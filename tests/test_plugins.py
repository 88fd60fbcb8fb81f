"""A user's own rule and model family, named by file path, import path or entry point: they
run in this process, in a fresh `twoclocks` process, in sweep workers (a local pool and Ray)
and in a resumed run, with the same clocks; a bad plugin is one line, exit 1, nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import cli_process
import twoclocks as tc
from conftest import KILLABLE, TINY, each_bad_input_is_one_line, kill_after_evaluations, run_cli, run_metrics
from plugin_files import FAMILY, RULE
from twoclocks import cli
from twoclocks.config import build_config, parse_overrides
from twoclocks.errors import ConfigError
from twoclocks.sweeps.worker import run_point


def same_metrics(a: Path, b: Path) -> None:
    pd.testing.assert_frame_equal(run_metrics(a), run_metrics(b))


@pytest.fixture
def rule_file(tmp_path: Path) -> Path:
    path = tmp_path / "myrule.py"
    path.write_text(RULE)
    return path


def test_a_rule_file_runs_alike_in_a_fresh_process_and_in_this_one(tmp_path, rule_file):
    done = run_cli("run", f"task={rule_file}:RowParity", *TINY, "--out", str(tmp_path / "cli"), "--quiet")
    assert done.returncode == 0, done.stderr
    assert "task row_parity(n=4)" in done.stdout
    run = tc.run([f"task={rule_file}:RowParity", *TINY], out=tmp_path / "api", progress=False)
    same_metrics(tmp_path / "cli", run.path)
    task = json.loads((tmp_path / "cli" / "config.json").read_text())["task"]
    assert task["name"] == f"{rule_file.resolve()}:RowParity" and len(task["source"]) == 16 and task["n"] == 4


def test_a_relative_rule_path_is_kept_absolute(tmp_path, rule_file, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = build_config(["task=./myrule.py:RowParity", "task.n=3"])
    assert cfg.task["name"] == f"{rule_file.resolve()}:RowParity" and cfg.task["n"] == 3


def test_a_rule_file_sweeps_with_two_workers_to_the_clocks_of_single_runs(tmp_path, rule_file, capsys):
    """The sweep's two pool workers are fresh processes that load the rule from its file."""
    run = tc.run([f"task={rule_file}:RowParity", *TINY], out=tmp_path / "single", progress=False)
    args = ["sweep", f"task={rule_file}:RowParity", *TINY, "--seeds", "2", "--workers", "2", "--out"]
    assert cli.main([*args, str(tmp_path / "sweep"), "--quiet"]) == 0, capsys.readouterr().err
    results = tc.load_sweep(tmp_path / "sweep").results
    assert list(results["status"]) == ["finished", "finished"], results.get("error")
    seed0 = results[results["seed"] == 0].iloc[0]
    same_metrics(run.path, tmp_path / "sweep" / seed0["run_dir"])


@pytest.mark.slow  # starting a local Ray takes about half a minute
def test_a_rule_file_sweeps_on_ray(tmp_path, rule_file):
    run = tc.run([f"task={rule_file}:RowParity", *TINY], out=tmp_path / "single", progress=False)
    args = ["sweep", f"task={rule_file}:RowParity", *TINY, "--executor", "ray", "--workers", "1", "--out"]
    done = run_cli(*args, str(tmp_path / "sweep"))
    assert done.returncode == 0, done.stderr
    results = tc.load_sweep(tmp_path / "sweep").results
    assert list(results["status"]) == ["finished"], results.get("error")
    same_metrics(run.path, tmp_path / "sweep" / results["run_dir"].iloc[0])


def test_a_rule_file_resumes_in_a_fresh_process_after_kill_9(tmp_path, rule_file):
    args = [f"task={rule_file}:RowParity", *KILLABLE]
    full = tc.run(args, out=tmp_path / "full", progress=False)
    kill_after_evaluations(args, tmp_path / "killed", evaluations=2)
    assert not (tmp_path / "killed" / "summary.json").exists(), "the run ended before it was killed"
    resumed = run_cli("run", "--resume", str(tmp_path / "killed"), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    same_metrics(full.path, tmp_path / "killed")
    assert tc.load(tmp_path / "killed").summary["tau_mem"] == full.summary["tau_mem"]


def test_an_edited_rule_file_is_refused_on_resume(tmp_path, rule_file):
    tc.run([f"task={rule_file}:RowParity", *TINY], out=tmp_path / "r", progress=False)
    (tmp_path / "r" / "summary.json").unlink()  # unfinished: resuming must load the rule
    rule_file.write_text(RULE + "\n# edited\n")
    done = run_cli("run", "--resume", str(tmp_path / "r"))
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "changed since the run was configured" in done.stderr


REGISTERED_IN_MAIN = """
import sys
from pathlib import Path
sys.path.insert(0, {folder!r})
import twoclocks as tc
from twoclocks.errors import TwoClocksError
from twoclocks.tasks import register
from myrule import RowParity

class MainRowParity(RowParity):
    name = "main_row_parity"

register(MainRowParity)
run = tc.run({{"task": "main_row_parity", **{tiny!r}}}, out={out!r} + "/run", progress=False)
print("in-process:", run.summary["status"], run.config.task["name"])
try:
    tc.sweep(overrides={{"task": "main_row_parity", **{tiny!r}}}, seeds=2, workers=2, out={out!r} + "/sweep")
except TwoClocksError as exc:
    print("sweep:", exc)
print("sweep directory written:", Path({out!r} + "/sweep").exists())
"""


def test_a_task_registered_in_a_notebook_runs_here_and_is_refused_for_workers_in_one_line(tmp_path, rule_file):
    tiny = parse_overrides(TINY)
    code = REGISTERED_IN_MAIN.format(folder=str(tmp_path), tiny=tiny, out=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(": ", 1) for line in done.stdout.strip().splitlines())
    assert lines["in-process"] == "finished main_row_parity"
    assert "registered in this process only" in lines["sweep"] and "task=path/to/file.py:Name" in lines["sweep"]
    assert lines["sweep directory written"] == "False"


def test_a_task_a_worker_does_not_know_fails_that_point_in_one_line(tmp_path):
    cfg = build_config(TINY).to_dict()
    cfg["task"] = {"name": "row_parity_registered_elsewhere"}
    result = run_point(cfg, str(tmp_path / "point"))
    assert result["status"] == "failed" and "\n" not in result["error"]
    assert "unknown task 'row_parity_registered_elsewhere'" in result["error"]
    assert "task=pkg.module:Name" in result["error"]


def test_a_task_class_registered_from_a_module_is_kept_by_its_import_path(tmp_path, rule_file, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    from twoclocks.tasks import TASKS, register

    module = __import__("myrule")
    monkeypatch.setitem(TASKS, "row_parity", module.RowParity)
    register(module.RowParity)
    assert build_config(["task=row_parity"]).task["name"] == "myrule:RowParity"


DIST_INFO = """Metadata-Version: 2.1
Name: myrules
Version: 0.1
"""


def test_entry_points_are_found_without_an_import(tmp_path):
    """A package on the path with a dist-info that declares a rule and a family, as `pip
    install` would leave it: both are found by name, and config.json keeps their import paths."""
    (tmp_path / "myrules").mkdir()
    (tmp_path / "myrules" / "__init__.py").write_text(RULE + FAMILY)
    info = tmp_path / "myrules-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(DIST_INFO)
    (info / "entry_points.txt").write_text(
        "[twoclocks.tasks]\nrow_parity = myrules:RowParity\n\n[twoclocks.models]\nwide = myrules:build\n"
    )
    env = {"PYTHONPATH": f"{tmp_path}:{Path(__file__).parents[1] / 'src'}", "OMP_NUM_THREADS": "1"}
    words = ["task=row_parity", "model=wide", "model.kernel=4", *TINY, "--out", str(tmp_path / "r"), "--quiet"]
    done = cli_process.run(["run", *words], env=env)
    assert done.returncode == 0, done.stderr
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())
    assert cfg["task"]["name"] == "myrules:RowParity"
    assert cfg["model"]["family"] == "myrules:build" and cfg["model"]["kernel"] == 4
    listed = cli_process.run(["tasks", "--json"], env=env, timeout=120)
    assert "row_parity" in [row["name"] for row in json.loads(listed.stdout)]


def test_a_family_of_ones_own_has_its_own_config_fields(tmp_path):
    family = tmp_path / "family.py"
    family.write_text(FAMILY)
    cfg = build_config([f"model={family}:build", "model.kernel=5"])
    assert type(cfg.model).__name__ == "WideConfig" and cfg.model.kernel == 5
    assert cfg.to_dict()["model"]["kernel"] == 5 and cfg.model.source is not None
    with pytest.raises(ConfigError, match=r"unknown config key model.kernel; model family 'dit'"):
        build_config(["model=dit", "model.kernel=5"])
    assert not hasattr(build_config(["model=dit"], base=cfg).model, "kernel")  # fields of the former family drop out
    run = tc.run([f"model={family}:build", "model.kernel=5", *TINY], out=tmp_path / "r", progress=False)
    assert run.summary["status"] == "finished" and run.config.model.kernel == 5


BAD_RULE_FILE = "raise RuntimeError('the rule file is broken')\n"


def bad_plugins(folder: Path) -> list[tuple[list[str], str]]:
    (folder / "broken.py").write_text(BAD_RULE_FILE)
    (folder / "myrule.py").write_text(RULE)
    (folder / "family.py").write_text(FAMILY)
    return [
        ([f"task={folder}/missing.py:RowParity"], "no such file"),
        ([f"task={folder}/myrule.py:Nope"], "has no Nope"),
        ([f"task={folder}/myrule.py:not_a_task"], "is not a twoclocks Task subclass"),
        ([f"task={folder}/myrule.py:Unfinished"], "does not implement"),
        ([f"task={folder}/broken.py:RowParity"], "RuntimeError: the rule file is broken"),
        (["task=no_such_module_xyz:RowParity"], "cannot import module no_such_module_xyz"),
        (["task=myrule:1bad"], "is not of the form"),
        ([f"task={folder}/myrule.py:RowParity", "task.m=3"], "unknown field task.m"),
        ([f"task={folder}/myrule.py:RowParity", "task.source=abc"], "changed since the run was configured"),
        ([f"model={folder}/family.py:one_argument"], "is not a model builder"),
        (["model=no_such_module_xyz:build"], "cannot import module"),
        ([f"model={folder}/family.py:build", "model.kernel=wide"], "model.kernel must be an integer"),
        (["model.kernel=5"], "unknown config key model.kernel"),
    ]


def test_every_bad_plugin_is_one_line_exit_1_and_writes_nothing(tmp_path, capsys, monkeypatch):
    files = tmp_path / "files"
    files.mkdir()
    each_bad_input_is_one_line(tmp_path, monkeypatch, capsys, bad_plugins(files))
