"""core.staging: a folder replaced whole, even when its swap fails halfway."""

from __future__ import annotations

import os
import subprocess

import pytest

from conftest import digest
from twoclocks.core import staging
from twoclocks.errors import TwoClocksError


def test_a_failed_second_rename_puts_the_previous_folder_back(tmp_path, monkeypatch):
    target = tmp_path / "report"
    target.mkdir()
    (target / "index.html").write_text("previous")
    before = digest(target)
    real = os.replace
    calls = []

    def second_fails(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(staging.os, "replace", second_fails)
    with pytest.raises(TwoClocksError, match=r"cannot write .*report \(No space left on device\)"):
        with staging.staged_folder(target) as folder:
            folder.mkdir()
            (folder / "index.html").write_text("next")
    assert digest(target) == before
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def test_a_clean_exit_replaces_the_folder_and_leaves_nothing_beside_it(tmp_path):
    target = tmp_path / "report"
    target.mkdir()
    (target / "old.png").write_bytes(b"x")
    with staging.staged_folder(target) as folder:
        folder.mkdir()
        (folder / "index.html").write_text("next")
    assert sorted(p.name for p in target.iterdir()) == ["index.html"]
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


NOT_PIDS = [".report.old-0", ".report.old--5", ".report.old-x", ".report.partial-"]
# digits of other scripts (str.isdigit takes them), and numbers no process can have
NOT_PIDS += [".report.partial-\u00b2", ".report.old-\u0663\u0663\u0663", ".report.partial-99999999999999999999"]
NOT_PIDS += [".report.partial-0000012345", ".report.old-+12"]  # not as a pid is printed


@pytest.mark.parametrize("name", NOT_PIDS)
def test_names_that_hold_no_pid_are_not_touched(tmp_path, name):
    (tmp_path / name).mkdir()
    staging.recover(tmp_path / "report")
    assert (tmp_path / name).is_dir() and not (tmp_path / "report").exists()


def test_a_file_where_the_folder_goes_is_refused_and_kept(tmp_path):
    target = tmp_path / "report"
    target.write_text("the user's notes")
    with pytest.raises(TwoClocksError, match="is a file, not a folder twoclocks wrote"):
        with staging.staged_folder(target) as folder:
            folder.mkdir()
    assert target.read_text() == "the user's notes" and [p.name for p in tmp_path.iterdir()] == ["report"]


def test_a_link_planted_as_a_dead_writers_old_folder_is_removed_not_put_back(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep").write_text("x")
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / f".report.old-{dead.pid}").symlink_to(victim)
    staging.recover(tmp_path / "report")
    assert not (tmp_path / "report").exists() and not (tmp_path / "report").is_symlink()
    assert (victim / "keep").read_text() == "x" and not (tmp_path / f".report.old-{dead.pid}").is_symlink()
