"""Sweeps: points and hashes, resumable execution (local pool and a real local Ray), kill -9 and
restart ending with the same results as an uninterrupted sweep, failures recorded and retried."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

import cli_process
from cli_process import CliProcess
from conftest import SMALL, run_cli
from twoclocks.core.io import read_table
from twoclocks.errors import ConfigError, TwoClocksError
from twoclocks.sweeps.executors import run_sweep
from twoclocks.sweeps.results import TIMING_COLUMNS
from twoclocks.sweeps.spec import SweepSpec, expand, load_spec, parse_grid_args, spec_from_args

BASE = [o for o in SMALL if not o.startswith(("data.N", "train.threads"))]
GRID = ["data.N=8,16"]
METRIC_TIMING = ["train_seconds", "eval_seconds"]


def spec(**kw) -> SweepSpec:
    s = spec_from_args(BASE, GRID, 2)
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def deterministic(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=[c for c in TIMING_COLUMNS if c in df]).reset_index(drop=True)


def run_dirs(out: Path) -> list[Path]:
    return sorted(p for p in (out / "runs").iterdir() if p.is_dir())


def assert_same_sweep(a: Path, b: Path) -> None:
    """Same rows (deterministic columns) and, run by run, the same evaluation curves."""
    ra, rb = pd.read_parquet(a / "results.parquet"), pd.read_parquet(b / "results.parquet")
    pd.testing.assert_frame_equal(deterministic(ra), deterministic(rb))
    assert [p.name for p in run_dirs(a)] == [p.name for p in run_dirs(b)]
    for rel in ra["run_dir"]:
        ma = pd.read_parquet(a / rel / "metrics.parquet").drop(columns=METRIC_TIMING)
        mb = pd.read_parquet(b / rel / "metrics.parquet").drop(columns=METRIC_TIMING)
        pd.testing.assert_frame_equal(ma, mb)


# ----- points ------------------------------------------------------------------------------------
def test_points_hashes_and_names():
    points = expand(spec())
    assert len(points) == 4 and len({p.hash for p in points}) == 4
    assert [(p.cfg.data.N, p.cfg.seed) for p in points] == [(8, 0), (8, 1), (16, 0), (16, 1)]
    assert points[0].name.startswith("parity-G2_dit_N8_seed0-") and points[0].name.endswith(points[0].hash[:8])
    # Execution-only fields do not change a point's identity; anything else does.
    assert expand(spec_from_args(BASE + ["train.threads=3"], GRID, 2))[0].hash == points[0].hash
    assert expand(spec_from_args(BASE + ["train.lr=2e-3"], GRID, 2))[0].hash != points[0].hash
    # A grid value equal to the base is the same point, listed once.
    assert len(expand(spec_from_args(BASE + ["data.N=8"], ["data.N=8,8"], 1))) == 1


def test_spec_file_and_bad_input(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(
        "base: {model: {width: 32, depth: 1, heads: 2}, train.steps: 60}\n"
        "grids:\n  - {data.N: [8, 16], task.G: 2}\n  - {data.N: 8, task.G: [3]}\nseeds: [0, 4]\n"
        "executor: local\nworkers: 2\n"
    )
    s = load_spec(f)
    points = expand(s)
    assert len(points) == 6 and s.workers == 2 and s.seeds == [0, 4]
    assert {(p.cfg.task["G"], p.cfg.data.N) for p in points} == {(2, 8), (2, 16), (3, 8)}
    with pytest.raises(ConfigError, match="form key=v1"):
        parse_grid_args(["data.N"])
    with pytest.raises(ConfigError, match="seeds"):
        expand(spec_from_args(BASE, ["seed=1,2"], 1))
    f.write_text("grid: {data.N: [8]}\nsurprise: 1\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load_spec(f)
    # A bad point stops the sweep before anything is written.
    out = tmp_path / "bad"
    with pytest.raises(ConfigError, match="model.width=33 is not divisible"):
        run_sweep(spec_from_args(BASE, ["model.width=32,33"], 1), out, progress=False)
    assert not out.exists()
    r = run_cli("sweep", "--grid", "data.N=8", "--out", str(tmp_path / "x"), "--executor", "dask")
    assert r.returncode != 0 and "invalid choice" in r.stderr


def test_cli_spec_merging(tmp_path):
    from twoclocks.cli import build_parser
    from twoclocks.commands.sweep import build_spec

    f = tmp_path / "s.yaml"
    f.write_text("base: {train.steps: 60}\ngrid: {data.N: [8, 16], task.G: [2, 3]}\nseeds: 2\nworkers: 3\n")
    args = build_parser().parse_args(
        ["sweep", str(f), "model.width=32", "--grid", "task.G=2", "--seeds", "0,7", "--executor", "ray"]
    )
    s, out = build_spec(args)
    assert out == Path("sweeps/s") and s.executor == "ray" and s.workers == 3 and s.seeds == [0, 7]
    assert s.base == {"train.steps": 60, "model.width": 32} and s.grids == [{"data.N": [8, 16], "task.G": [2]}]
    with pytest.raises(ConfigError, match="--out DIR is required"):
        build_spec(build_parser().parse_args(["sweep", "--grid", "data.N=8,16"]))
    with pytest.raises(ConfigError, match="no sweep.json"):
        build_spec(build_parser().parse_args(["sweep", "--out", str(tmp_path / "none")]))


def test_ray_missing_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if not installed
    with pytest.raises(TwoClocksError, match=r"pip install 'twoclocks\[ray\]'"):
        run_sweep(spec(executor="ray"), tmp_path / "s", progress=False)
    assert not (tmp_path / "s").exists()


# ----- execution -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted sweep, its points run one by one in this process with one thread each,
    as pool workers run them: the pool's sweeps (killed, grouped) must end with its results."""
    out = tmp_path_factory.mktemp("ref") / "sweep"
    outcome = run_sweep(spec(workers=1, threads=1), out, progress=False)
    assert (outcome.points, outcome.done_before, outcome.executed, outcome.failed) == (4, 0, 4, 0)
    return out


def test_local_sweep_results_and_noop_rerun(reference):
    df = pd.read_parquet(reference / "results.parquet")
    assert len(df) == 4 and (df["status"] == "finished").all() and df["point"].is_unique
    for col in (
        "data.N",
        "seed",
        "model.width",
        "tau_rule",
        "tau_mem",
        "tau_rule_censored",
        "tau_mem_censored",
        "epochs",
        "window_log10",
        "window_vanished",
        "peak_novel_valid_step",
        "train_seconds",
        "wall_seconds",
        "status",
        "point",
        "run_dir",
    ):
        assert col in df, col
    assert sorted(df["data.N"]) == [8, 8, 16, 16]
    assert (df["epochs"] == 20 * 64 / df["data.N"]).all()  # SMALL: 20 steps of batch 64
    mtimes = {p: (p / "summary.json").stat().st_mtime_ns for p in run_dirs(reference)}
    again = run_sweep(spec(workers=2), reference, progress=False)
    assert (again.done_before, again.executed) == (4, 0)
    assert mtimes == {p: (p / "summary.json").stat().st_mtime_ns for p in run_dirs(reference)}
    pd.testing.assert_frame_equal(df, pd.read_parquet(reference / "results.parquet"))
    with pytest.raises(TwoClocksError, match="different sweep"):
        run_sweep(spec_from_args(BASE, ["data.N=8,32"], 2), reference, progress=False)


def test_grouped_sweep_gives_the_same_results(reference, tmp_path):
    """--group trains the points that differ only in seed / N as batched groups (2 tasks of 2
    members here), with results identical to the ungrouped sweep."""
    from twoclocks.sweeps.executors import make_tasks

    points = expand(spec(group=True))
    tasks = make_tasks(points, spec(group=True), workers=2, threads=1, out=tmp_path)
    assert sorted(len(keys) for keys, _, _ in tasks) == [2, 2]
    out = tmp_path / "grouped"
    outcome = run_sweep(spec(workers=2, group=True), out, progress=False)
    assert (outcome.executed, outcome.failed) == (4, 0)
    assert_same_sweep(reference, out)


def _descendants(pid: int) -> set[int]:
    """Every live process below `pid` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    out, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def kill_restart(out: Path, extra: list[str]) -> None:
    """Start the sweep CLI, SIGKILL it (and everything it started) after its first result,
    then run it again to completion."""
    args = [
        "sweep",
        *BASE,
        "--grid",
        *GRID,
        "--seeds",
        "2",
        "--out",
        str(out),
        "--quiet",
        *extra,
    ]
    proc = CliProcess(args, stdout=os.devnull, stderr=os.devnull, new_session=True)
    tree: set[int] = set()
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            tree |= _descendants(proc.pid)
            path = out / "results.parquet"
            # read_table reads the file's bytes once: the driver replaces it between reads.
            if path.is_file() and len(read_table(path)) >= 1:
                break
            time.sleep(0.05)
        tree |= _descendants(proc.pid)
    finally:
        for pid in [proc.pid, *tree]:  # only the processes this sweep started, by id
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the sweep ended before it could be killed"
    done = len(pd.read_parquet(out / "results.parquet"))
    assert 1 <= done < 4
    time.sleep(1.0)  # children notice their parent's death (PR_SET_PDEATHSIG / watchdog)
    assert not [p for p in tree if _alive(p)], "processes of the killed sweep are still running"
    r = cli_process.run(args, timeout=400)
    assert r.returncode == 0, r.stderr[-2000:]
    # A point whose summary.json landed just before the kill counts as done: nothing is redone.
    m = re.search(r"4 points: (\d) done earlier, (\d) run now, 0 failed", r.stdout)
    assert m, r.stdout
    before, now = int(m.group(1)), int(m.group(2))
    assert before >= done and before + now == 4 and now >= 1


def test_killed_local_sweep_restarts_to_the_same_results(reference, tmp_path):
    out = tmp_path / "sweep"
    kill_restart(out, ["--workers", "2"])
    assert_same_sweep(reference, out)


def test_killed_ray_sweep_restarts_to_the_same_results(reference, tmp_path, monkeypatch):
    """A real local Ray (2 CPUs) started by the sweep driver, killed with it, started again."""
    pytest.importorskip("ray")
    # A private Ray temp dir (short: it holds Unix sockets) marks every process of our Rays.
    ray_tmp = tempfile.mkdtemp(prefix="tcray", dir="/tmp")
    monkeypatch.setenv("RAY_TMPDIR", ray_tmp)
    try:
        out = tmp_path / "sweep"
        kill_restart(out, ["--executor", "ray", "--workers", "2"])
        assert_same_sweep(reference, out)
        time.sleep(1.0)
        assert not _processes_mentioning(ray_tmp), "Ray left processes behind"
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)


def _processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains `text` (Linux /proc)."""
    found = []
    for cmd in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in cmd.read_bytes() and _alive(int(cmd.parent.name)):
                found.append(int(cmd.parent.name))
        except (OSError, ValueError):
            continue
    return found


def test_impossible_points_fail_when_planned(tmp_path):
    # N larger than the population of parity G=2 (2^18 items): refused before any point runs.
    s = spec_from_args(BASE, ["data.N=8,300000"], 1)
    with pytest.raises(ConfigError, match=r"sweep point \(data.N=300000, seed=0\).*population"):
        run_sweep(s, tmp_path / "sweep", progress=False)
    assert not (tmp_path / "sweep" / "results.parquet").exists()
    r = run_cli("sweep", "--out", str(tmp_path / "cli"), "--grid", "task.G=2,5", "--quiet", *BASE)
    assert r.returncode != 0 and "G=5" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "cli" / "results.parquet").exists()


def test_failures_are_recorded_and_retried_only_on_request(tmp_path):
    # A learning rate of 1e30 makes the loss NaN within ten steps: that run fails when it runs.
    s = spec_from_args(BASE, ["train.lr=0.001,1e30"], 1)
    s.workers = 1
    out = tmp_path / "sweep"
    first = run_sweep(s, out, progress=False)
    assert (first.executed, first.failed) == (2, 1)
    df = pd.read_parquet(out / "results.parquet")
    assert list(df["status"]) == ["finished", "failed"] and "NaN" in df["error"].iloc[1]
    failures = pd.read_json(out / "failures.json", orient="index")
    assert len(failures) == 1 and "NaN" in failures["error"].iloc[0]
    assert run_sweep(s, out, progress=False).executed == 0
    assert run_sweep(s, out, retry_failed=True, progress=False).executed == 1
    r = run_cli("sweep", "--out", str(out), "--quiet")  # continue the recorded sweep
    assert r.returncode == 1 and "1 failed" in r.stdout and "--retry-failed" in r.stdout


def test_fields_added_later_keep_earlier_sweeps_hashes():
    # The hash this config had before clocks.theta_rule_low, clocks.theta_group, train.stop_at
    # and train.tensorboard existed: a sweep directory made then still finds its points.
    from twoclocks.config import build_config
    from twoclocks.sweeps.spec import config_hash

    assert config_hash(build_config(["task.G=3", "data.N=64"])).startswith("0f4925b9bc2172a6")
    assert not config_hash(build_config(["task.G=3", "data.N=64", "train.stop_at=mem"])).startswith("0f4925b9")


def test_the_clock_table_says_where_a_vanished_window_never_learned_the_rule():
    from twoclocks.commands.sweep import clock_table

    row = {"status": "finished", "max_step": 4000, "tau_mem": 900.0, "window_log10": 0.0}
    row.update(window_vanished=True, window_log10_is_lower_bound=False)
    df = pd.DataFrame([{**row, "name": "late", "tau_rule": 1200.0}, {**row, "name": "never", "tau_rule": None}])
    lines = clock_table(df).splitlines()
    assert lines[0].endswith("window vanished") and "> 4000" not in lines[0]
    assert lines[1].endswith("window vanished (rule not learned)") and "> 4000" in lines[1]


def test_pool_workers_have_the_drivers_environment_of_when_their_pool_starts(monkeypatch):
    """Workers fork from a server started once (forkserver, on Linux), whose environment is
    that of its start: each pool's workers still read the driver's of the moment."""
    from twoclocks.sweeps.executors import pool_context, worker_pool

    assert pool_context().get_start_method() == "forkserver"
    monkeypatch.delenv("TWOCLOCKS_POOL_PROBE", raising=False)
    with worker_pool(1) as pool:
        assert pool.submit(os.getenv, "TWOCLOCKS_POOL_PROBE").result() is None
    monkeypatch.setenv("TWOCLOCKS_POOL_PROBE", "set later")
    with worker_pool(1) as pool:
        assert pool.submit(os.getenv, "TWOCLOCKS_POOL_PROBE").result() == "set later"
