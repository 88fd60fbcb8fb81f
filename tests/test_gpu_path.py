"""The GPU path on whatever device is here: `bench --group`, sizing K, chunking and packing
groups in sweeps, `reproduce --dry-run` planning, and benchmarks/gpu_check.py. Tests that need
CUDA skip without it. No timings are asserted (docs/performance.md)."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

import cli_process
from conftest import TINY
from twoclocks.cli import build_parser
from twoclocks.cli import main as cli_main
from twoclocks.commands.sweep import build_spec
from twoclocks.config import build_config
from twoclocks.errors import ConfigError
from twoclocks.sweeps import plan as plan_mod
from twoclocks.sweeps import scales
from twoclocks.sweeps.executors import make_tasks, run_sweep
from twoclocks.sweeps.scales import scale_spec
from twoclocks.sweeps.spec import expand, load_spec, spec_from_args
from twoclocks.training import sizing
from twoclocks.training.experiment import build_experiment
from twoclocks.training.group import GroupTrainer, group_key, train_group
from twoclocks.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
BASE = [o for o in TINY if not o.startswith(("data.N", "train.threads"))]
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


# ----- bench --group ---------------------------------------------------------------------------
def test_bench_group_json(capsys):
    assert cli_main(["bench", *TINY, "--group", "3", "--steps", "1", "--warmup", "0", "--reps", "2", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["K"] == 3 and r["K_reason"] == "K=3: given"
    assert r["run_steps_per_s"] == pytest.approx(3 * r["group_steps_per_s"])
    assert r["single_steps_per_s"] > 0 and r["speedup"] > 0
    lo, hi = r["speedup_range"]
    assert lo <= r["speedup"] <= hi


def test_bench_group_auto_and_bad_input(capsys):
    assert cli_main(["bench", *TINY, "--group", "auto", "--steps", "1", "--warmup", "0", "--reps", "1"]) == 0
    text = capsys.readouterr().out
    assert f"group of {sizing.MAX_GROUP['cpu']}" in text and "run-steps/s" in text and "the cpu cap" in text
    assert cli_main(["bench", *TINY, "--group", "0"]) == 1
    assert cli_main(["bench", *TINY, "train.ema=0.9", "--group", "2"]) == 1
    assert "not groupable" in capsys.readouterr().err


# ----- sizing ----------------------------------------------------------------------------------
def test_member_footprint_counts_parameters_and_activations():
    small = sizing.member_footprint(build_config(TINY))
    big = sizing.member_footprint(build_config(TINY + ["train.batch=128"]))
    assert small.params == build_experiment(build_config(TINY)).model.num_params()
    assert small.param_bytes == small.params * sizing.PARAM_STATE_BYTES
    # Activations grow with the batch (about linearly), parameter state does not.
    assert 1.6 < big.activation_bytes / small.activation_bytes < 2.2
    assert big.param_bytes == small.param_bytes


def test_group_size_from_memory_share_and_cap():
    fp = sizing.MemberFootprint(params=1, param_bytes=2**30, activation_bytes=0)  # 1 GiB per member
    free = 41 * 2**30
    K, why = sizing.group_size(fp, "cuda", free)  # 0.8 * 41 GiB - 1 GiB reserve = 31.8 GiB
    assert K == 31 and "fit in" in why
    assert sizing.group_size(fp, "cuda", free, share=0.5)[0] == 15
    assert sizing.group_size(fp, "cuda", 2**30)[0] == 1  # never fewer than one member
    assert sizing.group_size(fp, "cuda", 10**15)[0] == sizing.MAX_GROUP["cuda"]
    K, why = sizing.group_size(fp, "cpu", None)  # a CPU: memory does not bound K
    assert K == sizing.MAX_GROUP["cpu"] and "cpu cap" in why


def test_auto_group_size_reads_cuda_memory(monkeypatch):
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (3 * 2**30, 4 * 2**30))
    assert sizing.free_device_memory(torch.device("cuda")) == 3 * 2**30
    assert sizing.free_device_memory(torch.device("cpu")) is None
    cfg = build_config(TINY)
    K, why = sizing.auto_group_size(cfg, torch.device("cuda"))
    per = sizing.member_footprint(cfg).total_bytes
    assert K == min(sizing.MAX_GROUP["cuda"], int((3 * 2**30 * sizing.MEMORY_FRACTION - sizing.RESERVE_BYTES) // per))


# ----- groups across tasks of one shape ---------------------------------------------------------
def test_a_group_may_mix_G_bit_identically(tiny_run, tmp_path):
    """Members on parity with G = 2, 3, 4 (the same 6x6 bits) train as one group, each equal
    to its single run; a task of another item shape does not join."""
    from test_perf import assert_same_state, metrics, single_runs

    cfgs = [build_config(TINY + [f"task.G={G}", f"seed={i}"]) for i, G in enumerate((2, 3, 4))]
    assert len({group_key(c) for c in cfgs}) == 1
    assert group_key(build_config(TINY + ["task.n=4"])) != group_key(cfgs[0])
    singles = single_runs(tiny_run, tmp_path, cfgs)
    train_group(cfgs, [tmp_path / f"group{i}" for i in range(3)])
    for i in range(3):
        pd.testing.assert_frame_equal(metrics(singles[i]), metrics(tmp_path / f"group{i}"))
        assert_same_state(singles[i], tmp_path / f"group{i}")


# ----- sweeps: chunks of K, fractional GPUs ------------------------------------------------------
def test_groups_are_split_into_chunks_of_K(tmp_path):
    s = spec_from_args(BASE, ["data.N=8,16"], 5)  # one family of 10 points
    s.group = True
    points = expand(s)

    def sizes(device_type: str, workers: int = 2) -> list[int]:
        return sorted(len(k) for k, _, _ in make_tasks(points, s, workers, 1, tmp_path, device_type))

    assert sizes("cpu") == [5, 5]  # two workers, each a group (below the CPU cap of 8)
    assert sizes("cuda") == [10]  # on a GPU as few groups as the cap allows
    s.group_size = 4
    assert sizes("cpu") == [3, 3, 4] and sizes("cuda") == [3, 3, 4]
    assert sizes("cpu", workers=5) == [2, 2, 2, 2, 2]
    mixed = spec_from_args(BASE, ["task.G=2,3", "data.N=8,16"], 2)  # G joins the family
    mixed.group = True
    assert [len(k) for k, _, _ in make_tasks(expand(mixed), mixed, 1, 1, tmp_path, "cuda")] == [8]
    args = build_parser().parse_args(
        ["sweep", *BASE, "--seeds", "2", "--out", str(tmp_path / "x"), "--group", "--group-size", "3"]
        + ["--gpus-per-group", "0.25"]
    )
    spec, _ = build_spec(args)
    assert (spec.group, spec.group_size, spec.gpus_per_group) == (True, 3, 0.25)
    with pytest.raises(ConfigError, match="gpus_per_group must be positive"):
        build_spec(build_parser().parse_args(["sweep", "--out", str(tmp_path / "y"), "--gpus-per-group", "0", *BASE]))


@pytest.mark.slow  # a real Ray of two group tasks (24 s): run with -m slow before a GPU session
def test_ray_packs_group_tasks_on_a_fractional_gpu(tmp_path, monkeypatch):
    """A real local Ray declaring one GPU: two group tasks asking 0.5 GPU each run at the same
    time (asking 1 each, Ray would run them one after the other); the points run on the CPU."""
    ray = pytest.importorskip("ray")
    ray_tmp = tempfile.mkdtemp(prefix="tcray", dir="/tmp")
    monkeypatch.setenv("RAY_TMPDIR", ray_tmp)
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False, _temp_dir=ray_tmp)
    try:
        s = spec_from_args(BASE + ["train.steps=120"], ["data.N=8,16"], 2)
        s.executor, s.group, s.group_size, s.gpus_per_group, s.threads = "ray", True, 2, 0.5, 1
        out = tmp_path / "ray"
        outcome = run_sweep(s, out, progress=False)
        assert (outcome.executed, outcome.failed) == (4, 0)
        from twoclocks.sweeps.executors import RayExecutor

        ex = RayExecutor(None, None, 1, 1.0, "auto", 0.5)
        assert ex.task_options((["a", "b"], [], [])) == {"num_cpus": 1, "num_gpus": 0.5}
        assert ex.task_options((["a"], [], [])) == {"num_cpus": 1, "num_gpus": 1.0}
    finally:
        ray.shutdown()
    spans = {}
    for d in (out / "runs").iterdir():
        if d.is_dir():  # a group writes its members' inputs at its start, their summaries at its end
            spans[d.name] = ((d / "config.json").stat().st_mtime, (d / "summary.json").stat().st_mtime)
    starts, ends = zip(*spans.values())
    assert len(spans) == 4 and max(starts) < min(ends), "the two groups did not share the GPU"


# ----- reproduce --dry-run -----------------------------------------------------------------------
def test_dry_run_plans_run_steps_and_hours(capsys):
    points = expand(scale_spec("tiny"))
    steps = sum(p.cfg.train.steps for p in points)
    assert cli_main(["reproduce", "--scale", "tiny", "--dry-run", "--group", "--no-bench"]) == 0
    text = capsys.readouterr().out
    assert f"{len(points)} points, {steps:,} run-steps in all" in text
    assert "stated, not measured" in text and "estimated" in text and "ceilings" not in text
    assert all(f"({i}) " in text for i in range(1, 8)) and "vanished window" in text
    assert cli_main(["reproduce", "--scale", "cpu-long", "--dry-run", "--no-bench"]) == 0
    stopping = sum(p.cfg.train.stop_at != "none" for p in expand(scale_spec("cpu-long")))
    assert f"{stopping} of the points stop once their clocks are settled" in capsys.readouterr().out
    assert cli_main(["reproduce", "--scale", "tiny", "--dry-run", "--group"]) == 0
    text = capsys.readouterr().out
    assert "measured on cpu" in text and "groups of" in text


def test_a_sweep_spec_is_planned_without_running(tmp_path, capsys):
    """`twoclocks sweep SPEC --dry-run` sizes any spec (here the words one) as reproduce sizes
    its scales, and writes nothing."""
    spec = Path(scales.__file__).parent / "specs" / "words_cpu.yaml"
    points = expand(load_spec(spec))
    out = tmp_path / "never"
    assert cli_main(["sweep", str(spec), "--out", str(out), "--dry-run", "--no-bench", "--group"]) == 0
    text = capsys.readouterr().out
    assert all(p.name in text for p in points)
    steps = sum(p.cfg.train.steps for p in points)
    assert f"{len(points)} points, {steps:,} run-steps in all" in text and "stated, not measured" in text
    assert not out.exists() and "claims judged" not in text


def test_a_sweep_under_way_is_planned_with_what_it_has_done(small_sweep, capsys):
    assert cli_main(["sweep", "--out", str(small_sweep), "--dry-run", "--no-bench"]) == 0
    assert f"{small_sweep} holds 2 finished point(s); the plan above counts every point" in capsys.readouterr().out


def test_a_damaged_sweep_is_one_line_before_any_plan(small_sweep, tmp_path, capsys):
    damaged = Path(shutil.copytree(small_sweep, tmp_path / "s"))
    (damaged / "results.parquet").write_text("junk")
    assert cli_main(["sweep", "--out", str(damaged), "--dry-run", "--no-bench"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and "results.parquet is unreadable" in err


def test_estimate_interpolates_between_single_and_group_steps():
    load = plan_mod.Workload("dit", build_config(TINY))
    load.group_tasks = [(1, 100, 1.0), (5, 100, 1.0), (9, 100, 2.0)]
    load.single_steps, load.eval_units = 50.0, 4.0
    rates = {"single_steps_per_s": 10.0, "run_steps_per_s": 45.0, "K": 9, "eval_seconds": 0.5}
    est = plan_mod.estimate_hours(load, rates)
    t1, t9 = 0.1, 9 / 45.0
    assert est["group_s"] == pytest.approx(100 * t1 + 100 * (t1 + (t9 - t1) / 2) + 100 * t9 * 2)
    assert est["single_s"] == pytest.approx(5.0) and est["eval_s"] == pytest.approx(2.0)
    assert est["hours"] == pytest.approx((est["group_s"] + 7.0) / 3600)


# ----- benchmarks/gpu_check.py -------------------------------------------------------------------
@pytest.mark.slow  # the whole device script on the CPU (29 s): run with -m slow before a GPU session
def test_gpu_check_runs_on_the_cpu(tmp_path):
    out = tmp_path / "check.json"
    t0 = time.time()
    proc = cli_process.run(
        ["--device", "cpu", "--quick", "--out", str(out)], script=ROOT / "benchmarks" / "gpu_check.py"
    )
    assert proc.returncode == 0, proc.stderr
    r = json.loads(out.read_text())
    assert r == json.loads(proc.stdout.strip().splitlines()[-1])
    assert not [k for k, v in r.items() if isinstance(v, dict) and ("error" in v or "skipped" in v)], r
    assert r["seconds"] < time.time() - t0
    assert [row["K"] for row in r["ladder"]] == [1, 2]
    # On the CPU a group is its single runs bit for bit.
    assert r["lockstep"]["max_abs_weight_diff"] == 0 and r["agreement"]["max_abs_weight_diff"] == 0
    assert r["agreement"]["ok"] and r["kill_resume"]["ok"] and r["kill_resume"]["identical"]
    assert r["nan"]["ok"] and r["nan"]["group"]["last_step"][0] == r["nan"]["group"]["last_step"][1]
    assert r["plan"]["hours"] > 0 and 0 < r["agreement"]["group_eval_share"] < 1
    assert [row["processes"] for row in r["packing"]] == [2] and len(r["packing"][0]["steps_per_s_each"]) == 2


# ----- CUDA only ---------------------------------------------------------------------------------
@cuda
def test_cuda_group_matches_single_runs_within_tolerance():
    """On CUDA batched and single matmuls may round differently: the members stay within
    gpu_check's LOCKSTEP_TOL of their single runs after 20 fp32 steps."""
    cfgs = [build_config(TINY + ["train.device=cuda", "train.precision=fp32", f"seed={s}"]) for s in range(3)]
    with tempfile.TemporaryDirectory() as tmp:
        singles = [Trainer(build_experiment(c), tmp, progress=False) for c in cfgs]
        group = GroupTrainer([Trainer(build_experiment(c), tmp, progress=False) for c in cfgs])
        for _ in range(20):
            group.train_step()
            for t in singles:
                t.train_step()
        for name, P in group.model.named_parameters():
            for k, t in enumerate(singles):
                assert (t.model.get_parameter(name).detach() - P.detach()[k]).abs().max() <= 1e-3, name


@cuda
def test_cuda_bench_group(capsys):
    assert cli_main(["bench", *TINY, "train.device=cuda", "--group", "4", "--steps", "2", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["device"].startswith("cuda") and r["peak_memory_bytes"] > 0
