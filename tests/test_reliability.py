"""Damaged run directories and the commands that read them: every file a run holds is corrupted
in turn (emptied, truncated, overwritten, replaced by a directory, removed) and every command is
run on it; each either succeeds (restoring what resume can) or says what is wrong in one line.
Also: resume before the first checkpoint, outputs lost after a run finished, the run lock,
unwritable files, the umask, and a sweep's description."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import TINY, copy_run
from twoclocks import cli
from twoclocks.analysis.report import build_report
from twoclocks.core import io
from twoclocks.core.io import write_json
from twoclocks.sweeps.results import result_row, results_frame
from twoclocks.sweeps.spec import expand, load_recorded_spec, load_spec, record_spec
from twoclocks.training.experiment import build_experiment
from twoclocks.training.rundir import RunDir

BASINS = ["--sigmas", "1", "--loss-sigmas", "1", "--per-set", "2", "--ode-steps", "2", "--device", "cpu"]


@pytest.fixture
def finished(tiny_run) -> Path:
    """A finished tiny run, written under umask 022 (shared, never modified: tests copy it)."""
    return tiny_run


def run_files(run: Path) -> list[str]:
    """Every file of a finished run: the inputs, the outputs, the last snapshot and samples."""
    rd = RunDir(run)
    last_step = rd.snapshots()[-1][0]
    files = [rd.config_path, rd.train_set_path, rd.metrics_path, rd.summary_path, rd.last_checkpoint]
    files += [rd.snapshot(last_step), rd.samples_file(last_step), rd.clocks_plot]
    return [str(f.relative_to(run)) for f in files]


def corrupt(path: Path, mode: str) -> None:
    data = path.read_bytes()
    if mode == "missing":
        path.unlink()
    elif mode == "empty":
        path.write_bytes(b"")
    elif mode == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif mode == "garbage":  # seeded, so a failure can be reproduced
        path.write_bytes(np.random.default_rng(len(data)).integers(0, 256, len(data), dtype=np.uint8).tobytes())
    elif mode == "wrong-json":  # valid JSON, not what the file should hold
        path.write_text("[1, 2]")
    elif mode == "directory":  # unreadable: (root reads any file, whatever its mode bits)
        path.unlink()
        path.mkdir()
    else:
        raise ValueError(mode)


def commands(run: Path, other: Path) -> dict[str, list[str]]:
    return {
        "resume": ["run", "--resume", str(run), "--quiet"],
        "compare": ["compare", str(run), str(other), "--out", str(run.parent / "compare.png")],
        "report": ["report", str(run)],
        "basins": ["basins", str(run), "--checkpoints", str(RunDir(run).snapshots()[-1][0]), *BASINS, "--quiet"],
    }


# The files `basins` reads; a whole analysis (when it succeeds) takes seconds, so the quick walk
# runs it only where the damage stops it early.
BASINS_READS = {"config.json", "train_set.npz", "summary.json"}


def walk(finished: Path, tmp_path: Path, capsys, modes: list[str], names: list[str], quick: bool = False) -> int:
    """Corrupt each file with each mode, run each command on a fresh copy; returns the number
    of (file, mode) pairs tried. A command must exit 0 or print one line and exit 1; a resume
    that exits 0 must leave a finished run with every output in place."""
    problems: list[str] = []
    tried = 0
    for name in run_files(finished):
        for mode in modes:
            if mode == "wrong-json" and not name.endswith(".json"):
                continue
            tried += 1
            for cmd in names:
                if quick and cmd == "basins" and name not in BASINS_READS and not name.startswith("checkpoints/step"):
                    continue
                run = copy_run(finished, tmp_path / f"{tried}-{cmd}" / "run")
                corrupt(run / name, mode)
                code = cli.main(commands(run, finished)[cmd])
                out = capsys.readouterr()
                lines = out.err.strip().splitlines()
                where = f"{cmd} with {name} {mode}"
                if code == 1 and (len(lines) != 1 or not lines[0].startswith("twoclocks: error: ")):
                    problems.append(f"{where}: not one line: {out.err!r}")
                elif code not in (0, 1) or "Traceback" in out.err:
                    problems.append(f"{where}: exit {code}: {out.err!r}")
                elif cmd == "resume" and code == 0 and RunDir(run).finished_summary() is None:
                    problems.append(f"{where}: resumed, but the run is still incomplete")
    assert not problems, "\n".join(problems)
    return tried


ALL_MODES = ["missing", "empty", "truncated", "garbage", "wrong-json", "directory"]
COMMANDS = ["resume", "compare", "report", "basins"]


def test_corruption_walk_short(finished, tmp_path, capsys):
    """Two kinds of damage to every file, every command (the full walk is marked slow)."""
    assert walk(finished, tmp_path, capsys, ["truncated", "wrong-json"], COMMANDS, quick=True) == 10


@pytest.mark.slow
def test_corruption_walk_full(finished, tmp_path, capsys):
    assert walk(finished, tmp_path, capsys, ALL_MODES, COMMANDS) == 8 * 5 + 2


def test_corrupt_files_of_an_unfinished_run(finished, tmp_path, capsys):
    """Without summary.json a resume reads config.json and last.pt: damage to either is one line."""
    for i, (name, mode) in enumerate(
        [("config.json", "empty"), ("config.json", "wrong-json"), ("checkpoints/last.pt", "garbage")]
    ):
        run = copy_run(finished, tmp_path / str(i) / "run")
        (run / "summary.json").unlink()
        corrupt(run / name, mode)
        code = cli.main(["run", "--resume", str(run), "--quiet"])
        err = capsys.readouterr().err
        assert code == 1 and len(err.strip().splitlines()) == 1 and Path(name).name in err, err


def test_resume_before_the_first_checkpoint_starts_afresh(finished, tmp_path, capsys):
    """Killed after config.json (and the training set) were written, before last.pt: nothing was
    trained, so --resume starts the run from its saved config; `run --out` still refuses."""
    run = tmp_path / "run"
    exp = build_experiment(RunDir(finished).load_config())
    rd = RunDir(run)
    rd.create()
    rd.write_inputs(exp)
    (run / ".metrics.parquet.x1y2.tmp").write_bytes(b"half")  # a writer killed midway
    assert cli.main(["run", *TINY, "--out", str(run), "--quiet"]) == 1
    assert "--resume" in capsys.readouterr().err
    assert cli.main(["run", "--resume", str(run), "--quiet"]) == 0
    pd.testing.assert_frame_equal(_deterministic(RunDir(finished)), _deterministic(rd))
    assert not list(run.glob(".*.tmp")) and rd.finished_summary() is not None


def _deterministic(rd: RunDir) -> pd.DataFrame:
    return rd.load_metrics().drop(columns=["train_seconds", "eval_seconds"])


@pytest.mark.parametrize("lost", ["metrics.parquet", "plots/clocks.png", "both"])
def test_lost_outputs_of_a_finished_run_are_restored(finished, tmp_path, capsys, lost):
    """compare and report agree that the run is incomplete; resume restores what is missing."""
    run = copy_run(finished, tmp_path / "run")
    for name in ["metrics.parquet", "plots/clocks.png"] if lost == "both" else [lost]:
        (run / name).unlink()
    errors = []
    for args in (["compare", str(run), "--out", str(tmp_path / "c.png")], ["report", str(run)]):
        assert cli.main(args) == 1
        errors.append(capsys.readouterr().err.strip())
    assert errors[0] == errors[1] and "--resume" in errors[0], errors
    assert RunDir(run).finished_summary() is None
    assert cli.main(["run", "--resume", str(run), "--quiet"]) == 0
    pd.testing.assert_frame_equal(_deterministic(RunDir(finished)), _deterministic(RunDir(run)))
    assert RunDir(run).clocks_plot.is_file() and RunDir(run).finished_summary() is not None
    assert cli.main(["report", str(run)]) == 0


def test_the_run_lock_refuses_a_second_process(finished, tmp_path, capsys):
    run = copy_run(finished, tmp_path / "run")
    (run / "summary.json").unlink()
    with RunDir(run).lock():  # another process working on it (flock is per open file)
        assert cli.main(["run", "--resume", str(run), "--quiet"]) == 1
        err = capsys.readouterr().err
        assert "another process is working on" in err and len(err.strip().splitlines()) == 1
        assert cli.main(["run", *TINY, "--out", str(tmp_path / "new"), "--quiet"]) == 0  # others go on
    assert not (run / "summary.json").exists()
    assert cli.main(["run", "--resume", str(run), "--quiet"]) == 0


def test_unwritable_directory_during_a_run(tmp_path, monkeypatch, capsys):
    """The directory turns read-only in the middle of training (simulated: root ignores modes)."""
    real_mkstemp = io.tempfile.mkstemp
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 6:  # after the inputs and the first checkpoints were written
            raise PermissionError(13, "Permission denied", kwargs.get("dir"))
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(io.tempfile, "mkstemp", failing)
    run = tmp_path / "run"
    assert cli.main(["run", *TINY, "--out", str(run), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "cannot write" in err and "Permission denied" in err, err
    monkeypatch.setattr(io.tempfile, "mkstemp", real_mkstemp)
    assert cli.main(["run", "--resume", str(run), "--quiet"]) == 0
    assert RunDir(run).finished_summary() is not None


def test_writes_respect_the_umask(finished, tmp_path):
    for name in run_files(finished):
        assert stat.S_IMODE((finished / name).stat().st_mode) == 0o644, name
    old = os.umask(0o077)
    try:
        write_json(tmp_path / "private.json", {})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "private.json").stat().st_mode) == 0o600
    assert io.current_umask() == old


def test_sweep_description_is_kept_and_shown_escaped(tmp_path):
    out = recorded_sweep(tmp_path, "tau_mem vs N <b>& friends</b>")
    assert json.loads((out / "sweep.json").read_text())["description"] == "tau_mem vs N <b>& friends</b>"
    spec = load_recorded_spec(out)
    spec.description = ""
    record_spec(out, spec, expand(spec))  # a restart without a description keeps the recorded one
    assert load_recorded_spec(out).description == "tau_mem vs N <b>& friends</b>"
    page = build_report(out).read_text()
    assert "tau_mem vs N &lt;b&gt;&amp; friends&lt;/b&gt;" in page and "<b>&" not in page


def recorded_sweep(tmp_path: Path, description: str = "") -> Path:
    """A sweep directory as a sweep leaves it once its one point failed: nothing trained."""
    spec_file = tmp_path / "s.yaml"
    spec_file.write_text(
        f"description: {json.dumps(description)}\nbase: {{train.steps: 20, data.N: 8}}\ngrid: {{task.G: [2]}}\n"
    )
    spec = load_spec(spec_file)
    points = expand(spec)
    out = tmp_path / "sweep"
    out.mkdir()
    record_spec(out, spec, points)
    rows = {points[0].hash: result_row(points[0], None, "failed", "boom")}
    io.write_table(out / "results.parquet", results_frame(points, rows))
    write_json(out / "failures.json", {points[0].hash: {"name": points[0].name, "error": "boom"}})
    return out


SWEEP_DAMAGE = [
    (name, command, mode)
    for name, command in [("sweep.json", "sweep"), ("failures.json", "sweep"), ("results.parquet", "report")]
    for mode in ["truncated", "wrong-json", "directory"]
    if mode != "wrong-json" or name.endswith(".json")
]


@pytest.mark.parametrize("name,command,mode", SWEEP_DAMAGE)
def test_damaged_sweep_files_are_one_line(tmp_path, capsys, name, command, mode):
    out = recorded_sweep(tmp_path)
    corrupt(out / name, mode)
    args = ["sweep", "--out", str(out), "--quiet"] if command == "sweep" else ["report", str(out)]
    code = cli.main(args)
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1 and name in err and "Traceback" not in err, err
