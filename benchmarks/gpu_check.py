"""The prepared check of the GPU path (under 5 minutes on one GPU); prints one JSON object.

    python benchmarks/gpu_check.py [--out gpu_check.json]   # on a CUDA machine (PYTHONPATH=src if not installed)
    python benchmarks/gpu_check.py --device cpu --quick      # a tiny model on the CPU: checks the script

Sections (each records its own seconds; a section that would start after --budget-s is skipped):
  host_sync   default steps of a single run and of a group of 4 under
              torch.cuda.set_sync_debug_mode("error"): any host sync inside a training step
              raises (the loop's periodic finiteness check is outside the step)
  single      `twoclocks bench` in bf16 and fp32: steps/s, samples/s, GFLOP/s
  ladder      `twoclocks bench --group K` for each K of --ladder: run-steps/s, speed-up over a
              single run, peak memory against the sizing estimate (training/sizing.py)
  lockstep    fp32, 3 members, 20 steps, group against single runs: max |weight difference|
              (tolerance LOCKSTEP_TOL; exactly 0 on the CPU)
  agreement   bf16 runs with evaluations, group of 2 against the 2 single runs: largest
              difference of valid and mem at any evaluation and of the clocks (tolerances below)
  kill_resume a grouped sweep killed with SIGKILL after its first evaluation and run again,
              against the same group uninterrupted: identical metrics where the kernels are
              deterministic, else within METRIC_TOL
  nan         a NaN injected into one member's loss: the group and a single run stop with
              TrainingDiverged and keep finite last.pt checkpoints
  plan        `reproduce --scale gpu --group` planned at the rates measured here
  packing     P processes of GPT bench at once (single runs packed on one device): summed steps/s
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch

from twoclocks.config import build_config
from twoclocks.errors import TrainingDiverged
from twoclocks.models.edm import EDMDiffusion
from twoclocks.sweeps.executors import run_sweep
from twoclocks.sweeps.spec import spec_from_args
from twoclocks.training import checkpoint
from twoclocks.training.bench import bench, bench_group
from twoclocks.training.experiment import build_experiment
from twoclocks.training.group import GroupTrainer, train_group
from twoclocks.training.runner import start_run
from twoclocks.training.sizing import member_footprint
from twoclocks.training.trainer import Trainer

LOCKSTEP_TOL = 1e-3  # max |w_group - w_single| after 20 fp32 steps: below one step's update (lr)
METRIC_TOL = 0.05  # max |valid or mem difference| at any evaluation, group against single runs
CLOCK_TOL = 0.05  # relative difference of a clock reached by both
QUICK = ["model.width=32", "model.depth=1", "model.heads=2", "data.N=8", "eval.samples=64", "eval.points=4"]


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def host_sync(base: list[str], device: str, steps: int, K: int = 4) -> dict:
    """Steps of a single run and of a group of K under the sync debug mode (CUDA)."""
    out: dict = {"steps": steps, "checked": device == "cuda"}
    with tempfile.TemporaryDirectory() as tmp:
        cfgs = [build_config([*base, f"seed={s}"]) for s in range(K)]
        single_run = Trainer(build_experiment(cfgs[0]), tmp, progress=False)
        group = GroupTrainer([Trainer(build_experiment(c), tmp, progress=False) for c in cfgs])
        for name, step in (("single", single_run.train_step), (f"group_of_{K}", group.train_step)):
            step()  # allocations and lazy initialisation may sync
            error = None
            if device == "cuda":
                torch.cuda.set_sync_debug_mode("error")
            try:
                for _ in range(steps):
                    step()
            except RuntimeError as exc:
                error = str(exc).splitlines()[0]
            finally:
                if device == "cuda":
                    torch.cuda.set_sync_debug_mode(0)
            sync(device)
            out[f"host_sync_in_{name}_step"] = error
    return out


def single(base: list[str], steps: int) -> dict:
    keys = ("train_steps_per_s", "gflops", "sample_per_s", "eval_seconds", "eval_gflops", "predicted_eval_share")
    out = {}
    for prec in ("bf16", "fp32"):
        b = bench(build_config([*base, f"train.precision={prec}"]), steps=steps, warmup=5)
        out[prec] = {k: b[k] for k in keys}
    return out


def ladder(base: list[str], Ks: list[int], steps: int) -> list[dict]:
    cfg = build_config(base)
    per_member = member_footprint(cfg).total_bytes
    rows = []
    for K in Ks:
        r = bench_group(cfg, K, steps=steps, warmup=2, reps=3)
        rows.append(
            {
                "K": K,
                "single_steps_per_s": r["single_steps_per_s"],
                "run_steps_per_s": r["run_steps_per_s"],
                "speedup": r["speedup"],
                "speedup_range": r["speedup_range"],
                "peak_memory_mib": None if r["peak_memory_bytes"] is None else r["peak_memory_bytes"] / 2**20,
                # sizing's estimate for the group plus the single run that shares the device
                "estimated_memory_mib": (K + 1) * per_member / 2**20,
            }
        )
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return rows


def lockstep(base: list[str], steps: int = 20) -> dict:
    cfgs = [build_config([*base, "train.precision=fp32", f"seed={s}"]) for s in range(3)]
    with tempfile.TemporaryDirectory() as tmp:
        singles = [Trainer(build_experiment(c), tmp, progress=False) for c in cfgs]
        group = GroupTrainer([Trainer(build_experiment(c), tmp, progress=False) for c in cfgs])
        for _ in range(steps):
            group.train_step()
            for t in singles:
                t.train_step()
        diff = max(
            float((t.model.get_parameter(name).detach() - P.detach()[k]).abs().max())
            for name, P in group.model.named_parameters()
            for k, t in enumerate(singles)
        )
    return {"steps": steps, "max_abs_weight_diff": diff, "tolerance": LOCKSTEP_TOL, "ok": diff <= LOCKSTEP_TOL}


def _metrics(run_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(run_dir / "metrics.parquet")


def _weights_diff(a: Path, b: Path) -> float:
    wa = checkpoint.load(a / "checkpoints" / "last.pt", "cpu")["model"]
    wb = checkpoint.load(b / "checkpoints" / "last.pt", "cpu")["model"]
    return max(float((wa[k].float() - wb[k].float()).abs().max()) for k in wa)


def _clock_diff(s: dict, g: dict, key: str) -> float | None:
    if s[key] is None or g[key] is None:
        return None if s[key] is None and g[key] is None else float("inf")
    return abs(s[key] - g[key]) / s[key]


def agreement(base: list[str], run: list[str]) -> dict:
    cfgs = [build_config([*base, *run, f"seed={s}"]) for s in range(2)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        singles = [start_run(c, root / f"s{i}", progress=False)[1] for i, c in enumerate(cfgs)]
        groups = train_group(cfgs, [root / f"g{i}" for i in range(2)])
        metric = max(
            float((_metrics(root / f"s{i}")[k] - _metrics(root / f"g{i}")[k]).abs().max())
            for i in range(2)
            for k in ("valid", "mem")
        )
        weights = max(_weights_diff(root / f"s{i}", root / f"g{i}") for i in range(2))
    clocks = {key: [_clock_diff(s, g, key) for s, g in zip(singles, groups)] for key in ("tau_rule", "tau_mem")}
    ok = metric <= METRIC_TOL and all(d is None or d <= CLOCK_TOL for ds in clocks.values() for d in ds)
    train_s, eval_s = sum(g["train_seconds"] for g in groups), sum(g["eval_seconds"] for g in groups)
    return {
        # members evaluate one after another: the share says whether batching them would pay
        "group_eval_share": eval_s / (train_s + eval_s),
        "max_metric_diff": metric,
        "max_abs_weight_diff": weights,
        "clock_rel_diff": clocks,
        "tau_rule": [[s["tau_rule"], g["tau_rule"]] for s, g in zip(singles, groups)],
        "tolerance": {"metric": METRIC_TOL, "clock": CLOCK_TOL},
        "ok": ok,
    }


def kill_resume(base: list[str], run: list[str], timeout: float = 90) -> dict:
    """A grouped sweep (2 seeds, one group in the driver) killed with SIGKILL once a member has
    evaluated, then run again; its metrics against the same group run uninterrupted."""
    overrides = [*base, *run]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cfgs = [build_config([*overrides, f"seed={s}"]) for s in range(2)]
        train_group(cfgs, [root / f"ref{s}" for s in range(2)])
        cmd = [sys.executable, "-m", "twoclocks.cli", "sweep", *overrides, "--seeds", "2", "--group"]
        cmd += ["--workers", "1", "--out", str(root / "sweep"), "--quiet"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0, killed = time.time(), False
        while time.time() - t0 < timeout and proc.poll() is None:
            evaluated = list((root / "sweep").glob("runs/*/metrics.parquet"))
            if evaluated:
                os.kill(proc.pid, signal.SIGKILL)
                killed = True
                break
            time.sleep(0.05)
        proc.wait()
        # Run again in this process (what a second `twoclocks sweep` does, without its start-up).
        spec = spec_from_args(overrides, [], "2")
        spec.group, spec.workers = True, 1
        again = run_sweep(spec, root / "sweep", progress=False)
        identical, diff = True, 0.0
        for d in sorted((root / "sweep" / "runs").iterdir()):
            if not d.is_dir():
                continue
            seed = json.loads((d / "config.json").read_text())["seed"]
            a, b = _metrics(d), _metrics(root / f"ref{seed}")
            cols = ["valid", "mem", "loss"]
            identical &= a["step"].equals(b["step"]) and a[cols].equals(b[cols])
            diff = max(diff, float((a[cols] - b[cols]).abs().max().max()))
    # Identical where every kernel is deterministic (the CPU's are); a CUDA kernel that adds with
    # atomics (e.g. an attention backward) makes the resumed run another draw: then the
    # agreement tolerance applies.
    ok = killed and not again.failed and (identical or diff <= METRIC_TOL)
    return {"killed": killed, "rerun_failed": again.failed, "identical": identical, "max_metric_diff": diff, "ok": ok}


def nan(base: list[str], run: list[str]) -> dict:
    """NaN from step 30 in the second half of every batch (member 1 of a group of 2)."""
    original = EDMDiffusion.loss_terms
    calls = {"n": 0}

    def poisoned(self, batch, sigma, noise):
        terms = original(self, batch, sigma, noise)
        calls["n"] += 1
        if calls["n"] > 30:
            terms = torch.cat([terms[: len(terms) // 2], terms[len(terms) // 2 :] * float("nan")])
        return terms

    out = {}
    EDMDiffusion.loss_terms = poisoned  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            for name, fn in (
                ("single", lambda: start_run(build_config([*base, *run]), root / "s", progress=False)),
                (
                    "group",
                    lambda: train_group(
                        [build_config([*base, *run, f"seed={s}"]) for s in range(2)], [root / "g0", root / "g1"]
                    ),
                ),
            ):
                calls["n"] = 0
                try:
                    fn()
                    out[name] = {"stopped": False}
                except TrainingDiverged as exc:
                    dirs = [root / "s"] if name == "single" else [root / "g0", root / "g1"]
                    states = [checkpoint.load(d / "checkpoints" / "last.pt", "cpu") for d in dirs]
                    out[name] = {
                        "stopped": True,
                        "message": str(exc)[:120],
                        "last_step": [s["step"] for s in states],
                        "checkpoints_finite": all(
                            bool(torch.isfinite(v).all()) for s in states for v in s["model"].values()
                        ),
                    }
    finally:
        EDMDiffusion.loss_terms = original  # type: ignore[method-assign]
    out["ok"] = all(out[k]["stopped"] and out[k]["checkpoints_finite"] for k in ("single", "group"))
    return out


def packing(base: list[str], counts: list[int], steps: int) -> list[dict]:
    """P processes of `twoclocks bench model=gpt` at once on the device: their summed steps/s
    against one alone, the gain from packing single runs (points that share no group, e.g. the
    sizes of a depth x width grid) onto one GPU."""
    cmd = [sys.executable, "-m", "twoclocks.cli", "bench", *base, "model=gpt", "--steps", str(steps), "--json"]
    rows = []
    for P in counts:
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for _ in range(P)]
        rates = [json.loads(p.communicate(timeout=120)[0])["train_steps_per_s"] for p in procs]
        rows.append({"processes": P, "steps_per_s_each": rates, "total_steps_per_s": sum(rates)})
    return rows


def plan_gpu(quick: bool) -> dict:
    """reproduce --scale gpu --group at the rates measured here (the tiny scale with --quick)."""
    from twoclocks.sweeps.plan import estimate_hours, measure, plan, plan_text
    from twoclocks.sweeps.scales import scale_spec

    spec = scale_spec("tiny" if quick else "gpu")
    spec.group = True
    device = "cuda" if torch.cuda.is_available() else "cpu"
    points, loads = plan(spec, device)
    estimates = {}
    for fam, load in loads.items():
        rates = measure(load, max([m for m, _, _ in load.group_tasks], default=1), steps=4 if quick else 20)
        estimates[fam] = (rates, estimate_hours(load, rates))
    total = sum(e["hours"] for _, e in estimates.values())
    return {"scale": "tiny" if quick else "gpu", "hours": total, "text": plan_text(points, loads, estimates)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--quick", action="store_true", help="a tiny model and few steps (checks the script)")
    ap.add_argument("--ladder", type=int, nargs="+", help="group sizes K (default 1 8 32 64 128 256; quick: 1 2)")
    ap.add_argument("--budget-s", type=float, default=270, help="skip sections that would start later")
    ap.add_argument("--out", help="also write the JSON object to this file")
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"error": "no CUDA device; run with --device cpu --quick to check the script itself"}))
        return 2
    base = [f"train.device={args.device}"] + (QUICK + ["train.threads=1"] if args.quick else [])
    q = args.quick
    run = (
        ["train.steps=60", "eval.points=4", "train.checkpoint_every=20"]
        if q
        else ["train.steps=1000", "eval.points=8", "eval.samples=512", "train.checkpoint_every=100"]
    )
    sections: list[tuple[str, Callable[[], object]]] = [
        ("host_sync", lambda: host_sync(base, args.device, 5 if q else 100)),
        ("single", lambda: single(base, 3 if q else 50)),
        ("ladder", lambda: ladder(base, args.ladder or ([1, 2] if q else [1, 8, 32, 64, 128, 256]), 2 if q else 10)),
        ("lockstep", lambda: lockstep(base, 5 if q else 20)),
        ("agreement", lambda: agreement(base, run)),
        ("kill_resume", lambda: kill_resume(base, run)),
        ("nan", lambda: nan(base, run)),
        ("plan", lambda: plan_gpu(q)),
        ("packing", lambda: packing(base, [2] if q else [1, 4], 5 if q else 200)),
    ]
    t_start = time.perf_counter()
    result: dict = {
        "device": args.device,
        "gpu": torch.cuda.get_device_name() if args.device == "cuda" else None,
        "torch": torch.__version__,
        "quick": q,
    }
    for name, fn in sections:
        if time.perf_counter() - t_start > args.budget_s:
            result[name] = {"skipped": f"past the {args.budget_s:.0f} s budget"}
            continue
        t0 = time.perf_counter()
        try:
            result[name] = fn()
        except Exception as exc:  # one failing section must not hide the others' figures
            result[name] = {"error": f"{type(exc).__name__}: {str(exc).strip()[:300]}"}
        print(f"{name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    result["seconds"] = time.perf_counter() - t_start
    text = json.dumps(result)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
