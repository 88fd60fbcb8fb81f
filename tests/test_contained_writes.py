"""Every path twoclocks derives from a config value stays inside its parent, whatever a rule's
name or a string parameter holds, and no output follows a symbolic link planted in a run or
sweep folder: one line, exit 1, nothing written outside."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import TINY
from plugin_files import RULE
from twoclocks import cli
from twoclocks.config import RunConfig, apply_overrides
from twoclocks.core.paths import safe_name
from twoclocks.sweeps.spec import point_name
from twoclocks.tasks import task_class
from twoclocks.training.runner import default_run_name

# A rule whose knob is a string, and whose short name climbs out of any folder it names.
TAGGED = (
    RULE
    + '''

@dataclass
class TaggedParams:
    n: int = 4
    tag: str = "a"


class Tagged(RowParity):
    name = "../../escaped/.."
    knob = "tag"
    Params = TaggedParams
'''
)


def one_folder(name: str, parent: Path) -> bool:
    """Whether `parent / name` is a folder directly inside `parent`, and not a hidden one."""
    return (parent / name).resolve().parent == parent.resolve() and not name.startswith(".") and "/" not in name


@given(st.text(max_size=300), st.integers(1, 240))
def test_a_safe_name_is_one_folder_inside_its_parent(text, limit):
    name = safe_name(text, limit)
    assert 1 <= len(name) <= limit and one_folder(name, Path("/work/parent"))
    assert safe_name(name, limit) == name  # nothing left to replace


@pytest.fixture(scope="module")
def tagged_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("rule") / "tagged.py"
    path.write_text(TAGGED)
    return path


@settings(max_examples=40, deadline=None)
@given(rule_name=st.text(min_size=1, max_size=60), tag=st.text(min_size=1, max_size=60).filter(str.strip))
def test_run_and_point_names_are_one_folder_whatever_the_config_holds(tagged_file, rule_name, tag):
    ref = f"{tagged_file}:Tagged"
    cfg = apply_overrides(RunConfig(), {"task": ref, "task.tag": tag})
    cls = task_class(ref)
    saved = cls.name
    cls.name = rule_name  # the rule's short name is the plugin's to choose
    try:
        names = [default_run_name(cfg), point_name(cfg, ["task.tag", "task.n"], "0123456789abcdef")]
    finally:
        cls.name = saved
    assert all(one_folder(n, Path("/work/runs")) for n in names), names


def everything_under(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*")}


def test_a_run_and_a_sweep_of_a_climbing_rule_stay_inside(tagged_file, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    rule = [f"task={tagged_file}:Tagged", *TINY]
    assert cli.main(["run", *rule, "task.tag=/../../../../Z", "--quiet"]) == 0
    grid = ["--grid", "task.tag=../..,/tmp/../W", "--workers", "1"]
    assert cli.main(["sweep", *rule, *grid, "--out", "s"]) == 0, capsys.readouterr().err
    assert {p.name for p in tmp_path.iterdir()} == {"work"}
    (run,) = (work / "runs").iterdir()
    assert run.name.startswith("_._.._escaped_..-tag_.._.._.._.._Z_dit") and (run / "summary.json").is_file()
    points = sorted((work / "s" / "runs").iterdir())
    assert len(points) == 2 and all((p / "summary.json").is_file() for p in points)
    assert {p.parts[0] for p in everything_under(work)} == {"runs", "s"}


@pytest.fixture
def finished(tmp_path) -> Path:
    from twoclocks.api import run

    return run(TINY, out=tmp_path / "run", progress=False).path


def refused_in_one_line(capsys, words: list[str], outside: Path) -> str:
    code = cli.main(words)
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "is a symbolic link" in err and not any(outside.iterdir()), err
    return err


def test_no_output_follows_a_planted_link(finished, tmp_path, capsys):
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, finished / "report")
    refused_in_one_line(capsys, ["report", str(finished)], outside)
    (finished / "report").unlink()
    (finished / "summary.json").unlink()  # unfinished: resuming writes its outputs again
    shutil.rmtree(finished / "plots")
    os.symlink(outside, finished / "plots")
    refused_in_one_line(capsys, ["run", "--resume", str(finished), "--quiet"], outside)
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    os.symlink(outside, sweep / "runs")
    refused_in_one_line(capsys, ["sweep", *TINY, "--out", str(sweep)], outside)
    assert [p.name for p in sweep.iterdir()] == ["runs"]
