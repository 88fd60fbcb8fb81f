"""Every hint the program prints is a command that works: each test provokes a hint, runs the
command it names, and checks that it does what it said. Also: SIGTERM is handled as SIGINT is,
failed points' errors reach stderr, lock files never outlive their holder, and the smaller
one-line cases (a damaged samples file, a plot into a missing folder, a long directory name,
a symlink loop)."""

from __future__ import annotations

import os
import shlex
import signal
import time
from pathlib import Path

import pytest

import twoclocks as tc
from cli_process import CliProcess
from conftest import SMALL, copy_run
from test_faults import leftovers, one_error_line
from twoclocks import cli
from twoclocks.errors import TwoClocksError
from twoclocks.training.rundir import RunDir

SLOW_RUN = [*SMALL, "train.steps=120", "eval.points=3"]  # long enough to be stopped midway


def follow(hint_line: str, marker: str) -> int:
    """Run the command that `hint_line` names after `marker` (in this process)."""
    command = hint_line.split(marker, 1)[1] if marker else hint_line
    words = shlex.split(command.strip().strip("`"))
    assert words[0] == "twoclocks", hint_line
    return cli.main(words[1:])


def hint_of(line: str) -> str:
    """The command between backquotes in a one-line error."""
    return line.split("`")[1]


def stop_midway(args: list[str], out: Path, signum: int, timeout: float = 240) -> tuple[int, str]:
    """Start `twoclocks ARGS`, send `signum` once a checkpoint exists under `out`; (exit, stderr)."""
    proc = CliProcess(args, stdout=os.devnull)
    deadline = time.time() + timeout
    while time.time() < deadline and not list(out.rglob("last.pt")):
        time.sleep(0.05)
    proc.send_signal(signum)
    return proc.wait(timeout=120), proc.stderr


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)], ids=["TERM", "INT"]
)
def test_a_stopped_run_says_how_to_resume_it(tmp_path, capsys, signum):
    run = tmp_path / "run"
    code, err = stop_midway(["run", *SLOW_RUN, "--out", str(run), "--quiet"], run, signum)
    lines = err.strip().splitlines()
    assert code == 128 + signum and len(lines) == 1, err
    assert lines[0].endswith(f"continue with: twoclocks run --resume {run}"), err
    assert not leftovers(tmp_path)
    assert follow(lines[0], "continue with:") == 0
    assert RunDir(run).finished_summary() is not None and not leftovers(tmp_path)


@pytest.mark.parametrize(
    "signum,workers",
    [(signal.SIGTERM, "2"), pytest.param(signal.SIGINT, "1", marks=pytest.mark.slow)],
    ids=["TERM-pool", "INT-in-process"],
)
def test_a_stopped_sweep_says_to_run_the_same_command(tmp_path, signum, workers):
    out = tmp_path / "sweep"
    args = ["sweep", *SLOW_RUN, "--grid", "data.N=4,8", "--workers", workers, "--out", str(out), "--quiet"]
    code, err = stop_midway(args, out, signum)
    lines = err.strip().splitlines()
    assert code == 128 + signum and len(lines) == 1 and "run the same command again" in lines[0], err
    time.sleep(1)  # the stopped workers release their locks as they exit
    assert not leftovers(tmp_path), leftovers(tmp_path)
    assert follow(lines[0], "to continue:") == 0
    assert set(tc.load_sweep(out).results["status"]) == {"finished"} and not leftovers(tmp_path)


@pytest.fixture
def sweep_dir(small_sweep) -> Path:
    """`twoclocks sweep SMALL --grid data.N=4,8` (shared, never modified: tests copy it)."""
    return small_sweep


def test_report_on_a_sweep_with_a_lost_point(sweep_dir, tmp_path, capsys):
    import shutil

    out = copy_run(sweep_dir, tmp_path / "sweep")
    shutil.rmtree(out / tc.load_sweep(out).results["run_dir"].iloc[0])
    assert cli.main(["report", str(out)]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert follow(hint_of(line), "") == 0
    assert cli.main(["report", str(out)]) == 0


def test_another_sweep_into_the_same_directory(sweep_dir, tmp_path, capsys):
    out = copy_run(sweep_dir, tmp_path / "sweep")
    assert cli.main(["sweep", *SMALL, "--grid", "data.N=4,16", "--out", str(out), "--quiet"]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert follow(hint_of(line), "") == 0
    assert "2 done earlier, 0 run now" in capsys.readouterr().out


def test_a_failed_point_goes_to_stderr_and_retry_failed_retries_it(tmp_path, capsys):
    out = tmp_path / "sweep"
    diverging = [*SMALL, "train.lr=1e12", "train.warmup=0"]  # the loss becomes NaN: the point fails
    args = ["sweep", *diverging, "--grid", "data.N=8", "--workers", "1", "--out", str(out), "--quiet"]
    assert cli.main(args) == 1
    captured = capsys.readouterr()
    failed = [line for line in captured.err.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 1 and "loss became NaN" in failed[0], captured.err
    assert "rerun with --retry-failed" in captured.out
    assert cli.main([*args, "--retry-failed"]) == 1
    assert "0 done earlier, 1 run now, 1 failed" in capsys.readouterr().out


def test_a_file_given_as_a_run_directory(sweep_dir, capsys):
    run = tc.load_sweep(sweep_dir).runs()[0].path
    assert cli.main(["run", "--resume", str(run / "summary.json")]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "is a file, not a run directory" in line


def test_damaged_samples_are_one_line(sweep_dir, tmp_path):
    out = copy_run(sweep_dir, tmp_path / "sweep")
    run = tc.load_sweep(out).runs()[0]
    path = dict(RunDir(run.path).sample_files())[run.steps[-1]]
    data = path.read_bytes()
    for damage in (data[: len(data) // 2], b"", b"PK\x03\x04garbage"):
        path.write_bytes(damage)
        with pytest.raises(TwoClocksError) as caught:
            run.samples()
        assert str(path) in str(caught.value) and len(str(caught.value).splitlines()) == 1
    import numpy as np

    with open(path, "wb") as fh:  # a valid npz without the arrays of an evaluation
        np.savez(fh, other=np.zeros(3))
    with pytest.raises(TwoClocksError, match="lacks"):
        run.samples()


def test_a_plot_into_a_missing_folder_is_one_line(sweep_dir, tmp_path):
    run = tc.load_sweep(sweep_dir).runs()[0]
    with pytest.raises(TwoClocksError, match="cannot write .*No such file or directory"):
        run.plot(tmp_path / "no" / "such" / "c.png")
    assert not (tmp_path / "no").exists()


def test_lock_files_do_not_outlive_their_runs(sweep_dir, tmp_path, capsys):
    assert not leftovers(sweep_dir)
    name = "r" * 250  # a legal directory name whose '.NAME.lock' would not be
    assert cli.main(["run", *SMALL, "--out", str(tmp_path / name), "--quiet"]) == 0
    assert RunDir(tmp_path / name).finished_summary() is not None and not leftovers(tmp_path)
    capsys.readouterr()


def test_a_refused_start_leaves_nothing(sweep_dir, tmp_path, capsys):
    """A second process on a run, a symlink loop, a bad value: each refused in one line, and no
    directory or lock file appears."""
    run = copy_run(tc.load_sweep(sweep_dir).runs()[0].path, tmp_path / "run")
    (run / "summary.json").unlink()
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    before = sorted(tmp_path.rglob("*"))
    with RunDir(run).lock():
        assert cli.main(["run", "--resume", str(run), "--quiet"]) == 1
        assert "another process is working on" in one_error_line(capsys.readouterr().err)
    for args in (["--out", str(loop)], ["--out", str(loop / "run")], ["--out", str(tmp_path / "a" / "b"), "data.N=0"]):
        assert cli.main(["run", *SMALL, *args, "--quiet"]) == 1
        line = one_error_line(capsys.readouterr().err)
        assert "symbolic link loop" in line or "data.N" in line, line
    assert sorted(tmp_path.rglob("*")) == before


def test_a_worker_stopped_where_python_cannot_raise_ends_quietly():
    """The driver's SIGTERM may land while a worker runs a weakref callback (an import lock's):
    its SystemExit cannot propagate there. The worker's hook ends the process with the stop's
    code instead of printing "Exception ignored" and going on (what made a stopped sweep's
    one-line message several)."""
    import subprocess
    import sys

    script = (
        "import sys, weakref\n"
        "{hook}"
        "class Item: pass\n"
        "def stop(ref): raise SystemExit(143)\n"
        "item = Item(); ref = weakref.ref(item, stop)\n"
        "del item\n"
        "print('went on')\n"
    )
    plain = subprocess.run([sys.executable, "-c", script.format(hook="")], capture_output=True, text=True)
    assert "Exception ignored" in plain.stderr and "went on" in plain.stdout and plain.returncode == 0
    hook = "from twoclocks.sweeps.worker import stop_where_unraisable\nsys.unraisablehook = stop_where_unraisable\n"
    done = subprocess.run([sys.executable, "-c", script.format(hook=hook)], capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (143, "", "")
