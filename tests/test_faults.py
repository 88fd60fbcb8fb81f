"""A full disk at every write a run, a sweep and a report make: each ends in one line naming the
file and the cause, with exit status 1, leaves no temporary or lock file, leaves nothing at all
when nothing was done, and (for a run) resumes to a finished run once the disk has room again.
The disk fills by an ENOSPC injected at the one OS write call of twoclocks.core.io, from the k-th
file on; where the test can mount a small tmpfs (a user namespace), a real full disk too."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SMALL
from twoclocks import cli
from twoclocks.core import io
from twoclocks.training.rundir import RunDir

FULL = "No space left on device"


class FullDisk:
    """io.os_write raising ENOSPC from the `at`-th file written on (a disk stays full), and
    counting the files written (`files`)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, at: int | None = None):
        self.at, self.files = at, 0
        real_write_bytes = io.write_bytes

        def counting(path, data, parents=False):
            self.files += 1
            return real_write_bytes(path, data, parents)

        def full(fd, data):
            if self.at is not None and self.files >= self.at:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return os.write(fd, data)

        monkeypatch.setattr(io, "write_bytes", counting)
        monkeypatch.setattr(io, "os_write", full)


def leftovers(root: Path) -> list[str]:
    """Temporary files and lock files anywhere under root."""
    return [str(p.relative_to(root)) for p in root.rglob(".*") if p.name.endswith((io.TEMP_SUFFIX, ".lock"))]


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def one_error_line(err: str) -> str:
    """The command's error, which must be its only line on stderr besides a sweep's per-point
    'failed: ...' lines."""
    lines = [line for line in err.strip().splitlines() if not line.startswith("failed: ")]
    assert len(lines) == 1 and lines[0].startswith("twoclocks: error: "), err
    assert "Traceback" not in err, err
    return lines[0]


def count_writes(monkeypatch, args: list[str]) -> int:
    disk = FullDisk(monkeypatch)
    assert cli.main(args) == 0
    return disk.files


def run_walk(tmp_path, monkeypatch, capsys, at_writes: list[int] | None) -> tuple[int, int]:
    """ENOSPC from each write of a small run on; returns (cases tried, cases clean)."""
    n = count_writes(monkeypatch, ["run", *SMALL, "--out", str(tmp_path / "count"), "--quiet"])
    capsys.readouterr()
    tried = clean = 0
    for k in at_writes or range(1, n + 1):
        root = tmp_path / f"w{k}"
        root.mkdir()
        run = root / "run"
        FullDisk(monkeypatch, at=k)
        code = cli.main(["run", *SMALL, "--out", str(run), "--quiet"])
        line = one_error_line(capsys.readouterr().err)
        tried += 1
        assert code == 1 and f"cannot write {run}" in line and FULL in line, line
        assert not leftovers(root), leftovers(root)
        if not RunDir(run).has_checkpoint():  # nothing trained: nothing left at all
            assert tree(root) == [], tree(root)
        else:  # the disk has room again: the run resumes to the end
            FullDisk(monkeypatch)
            assert cli.main(["run", "--resume", str(run), "--quiet"]) == 0
            capsys.readouterr()
            assert RunDir(run).finished_summary() is not None and not leftovers(root)
        clean += 1
    return tried, clean


def test_full_disk_during_a_run(tmp_path, monkeypatch, capsys):
    """The first writes (nothing trained yet), one in the middle and the last (summary.json)."""
    assert run_walk(tmp_path, monkeypatch, capsys, [1, 2, 3, 6, 13, 14]) == (6, 6)


@pytest.mark.slow
def test_full_disk_at_every_write_of_a_run(tmp_path, monkeypatch, capsys):
    tried, clean = run_walk(tmp_path, monkeypatch, capsys, None)
    assert tried == clean >= 14


SWEEP = ["sweep", *SMALL, "--grid", "data.N=4,8", "--workers", "1", "--quiet"]


def sweep_walk(tmp_path, monkeypatch, capsys, every: bool) -> tuple[int, int]:
    """ENOSPC from each write of a two-point sweep on (the points run in-process, one worker, so
    every write of the sweep and of its runs is reached); the same command then ends the sweep."""
    n = count_writes(monkeypatch, [*SWEEP, "--out", str(tmp_path / "count")])
    capsys.readouterr()
    tried = clean = 0
    for k in range(1, n + 1) if every else sorted({1, 2, n // 2, n}):
        root = tmp_path / f"w{k}"
        root.mkdir()
        out = root / "sweep"
        FullDisk(monkeypatch, at=k)
        code = cli.main([*SWEEP, "--out", str(out)])
        line = one_error_line(capsys.readouterr().err)
        tried += 1
        assert code == 1 and "cannot write" in line and FULL in line, (k, line)
        assert not leftovers(root), (k, leftovers(root))
        if k == 1:  # sweep.json could not be written: nothing at all
            assert tree(root) == [], tree(root)
        FullDisk(monkeypatch)
        assert cli.main([*SWEEP, "--out", str(out), "--retry-failed"]) == 0, capsys.readouterr().err
        capsys.readouterr()
        assert not leftovers(root)
        clean += 1
    return tried, clean


def test_full_disk_during_a_sweep(tmp_path, monkeypatch, capsys):
    assert sweep_walk(tmp_path, monkeypatch, capsys, every=False) == (4, 4)


@pytest.mark.slow
def test_full_disk_at_every_write_of_a_sweep(tmp_path, monkeypatch, capsys):
    tried, clean = sweep_walk(tmp_path, monkeypatch, capsys, every=True)
    assert tried == clean > 20


def report_walk(source: Path, tmp_path: Path, monkeypatch, capsys) -> tuple[int, int]:
    """ENOSPC from each write of `twoclocks report` on a copy of `source` on."""
    n = count_writes(monkeypatch, ["report", str(shutil.copytree(source, tmp_path / "count"))])
    capsys.readouterr()
    tried = clean = 0
    for k in range(1, n + 1):
        target = Path(shutil.copytree(source, tmp_path / f"w{k}"))
        before = tree(target)
        FullDisk(monkeypatch, at=k)
        assert cli.main(["report", str(target)]) == 1
        line = one_error_line(capsys.readouterr().err)
        tried += 1
        assert f"cannot write {target / 'report'}" in line and FULL in line, line
        assert not leftovers(target)
        if k == 1:  # nothing written: not even the report folder
            assert tree(target) == before
        clean += 1
    return tried, clean


def test_full_disk_at_every_write_of_a_run_report(tiny_run, tmp_path, monkeypatch, capsys):
    assert report_walk(tiny_run, tmp_path, monkeypatch, capsys) == (2, 2)  # the figure, index.html


@pytest.mark.slow
def test_full_disk_at_every_write_of_a_sweep_report(tmp_path, monkeypatch, capsys):
    sweep = tmp_path / "source"
    assert cli.main([*SWEEP, "--out", str(sweep)]) == 0
    tried, clean = report_walk(sweep, tmp_path, monkeypatch, capsys)
    assert tried == clean >= 5


def can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k none /mnt"], capture_output=True, timeout=30
    )
    return probe.returncode == 0


@pytest.mark.skipif(not can_mount_tmpfs(), reason="cannot mount a tmpfs here (no user namespaces)")
@pytest.mark.parametrize(
    "size", ["8k", "160k", pytest.param("400k", marks=pytest.mark.slow), pytest.param("4m", marks=pytest.mark.slow)]
)
def test_a_real_full_disk(tmp_path, size):
    """A run on a tmpfs of a few sizes: too small at its first write, at a checkpoint, at the
    end; it ends in one line and leaves no temporary file or lock behind (or it finishes)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = (
        f"mount -t tmpfs -o size={size} none {mnt} && "
        f"{sys.executable} -m twoclocks.cli run {' '.join(SMALL)} --out {mnt}/run --quiet >/dev/null; "
        f"echo rc=$?; find {mnt} -mindepth 1"
    )
    res = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    rc_text, _, listing = res.stdout.partition("\n")
    found = [Path(f).relative_to(mnt).as_posix() for f in listing.split()]
    assert not [f for f in found if f.endswith((".tmp", ".lock"))], found
    if rc_text == "rc=0":
        assert "run/summary.json" in found
        return
    line = one_error_line(res.stderr)
    assert rc_text == "rc=1" and "cannot write" in line and FULL in line, res.stderr
    if "run/checkpoints/last.pt" not in found:  # nothing trained: nothing left
        assert found == [], found


@pytest.mark.parametrize("at", [1, 3])
def test_a_group_that_fails_before_its_first_checkpoint_leaves_no_directory(tmp_path, monkeypatch, at):
    from twoclocks.config import build_config
    from twoclocks.errors import TwoClocksError
    from twoclocks.training.group import train_group

    cfgs = [build_config([*SMALL, f"seed={s}"]) for s in (0, 1)]
    FullDisk(monkeypatch, at=at)  # the first member's first file, or its third
    with pytest.raises(TwoClocksError, match=FULL):
        train_group(cfgs, [tmp_path / "a", tmp_path / "b"])
    assert tree(tmp_path) == []


@pytest.mark.parametrize("during", ["fchmod", "close", "write"])
def test_a_stop_while_a_file_is_being_written_leaves_no_temporary_file(tmp_path, monkeypatch, during):
    """SIGTERM's handler raises SystemExit inside whichever system call it interrupts (a pool
    worker stopped by its driver): the temporary file of an atomic write goes with it."""
    real = {"fchmod": os.fchmod, "close": os.close, "write": io.os_write}

    def stopped(*args):
        real[during](*args)
        raise SystemExit(143)

    monkeypatch.setattr(io, "os_write", stopped) if during == "write" else monkeypatch.setattr(io.os, during, stopped)
    with pytest.raises(SystemExit):
        io.write_text(tmp_path / "config.json", "{}")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []
