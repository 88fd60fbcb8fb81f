"""What a sweep costs before it runs: its points, run-steps and evaluations, how they would be
grouped, and the hours they would take on this device at measured (or stated) throughput.

The estimate (`estimate_hours`) is serial: the work of every task back to back on one device.
  - a group task of k members of a family: steps x t(k) per step, where t(1) is a single
    run's step time and t(K) the measured group step time at K; t(k) is interpolated linearly
    in between (a GPU step is launch-bound and nearly flat in k, a CPU step nearly linear:
    the line lies between the two);
  - a single-point task: steps / (single-run steps/s);
  - every point: its evaluations x one measured evaluation of its family's reference config;
  - model sizes other than the family's reference: times the ratio of parameter counts, when
    larger (a smaller model is counted at the reference's cost: at these sizes a step is
    dominated by per-op overhead, not by its FLOPs).
Packing single runs onto one GPU (fractional GPUs on Ray) would shorten the single-run share;
it is not counted, so the figure is an upper bound there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from twoclocks.config import RunConfig, apply_overrides, fixed_steps, from_dict
from twoclocks.sweeps.spec import Point, SweepSpec, expand
from twoclocks.training.experiment import build_experiment, eval_schedule
from twoclocks.training.runner import StepsResolver, resolved

# Figures used when nothing is measured (`--no-bench`), with where they come from.
STATED = {
    "single_steps_per_s": 68.0,
    "run_steps_per_s": 1360.0,
    "K": 64,
    "eval_seconds": 0.0,
    "source": "stated, not measured: 68 steps/s is the default DiT's single-run rate on an H200 "
    "quoted in the GPU issue; 1,360 run-steps/s at K=64 is that issue's target for grouped "
    "training, not a measurement; evaluations are not counted; the GPT and the masked diffusion are "
    "assumed at the DiT's rates",
}


@dataclass
class Workload:
    """One family's share of a sweep."""

    family: str
    ref: RunConfig  # the family's reference config (its first point)
    points: int = 0
    run_steps: int = 0
    evaluations: int = 0
    group_tasks: list[tuple[int, int, float]] = field(default_factory=list)  # (members, steps, size factor)
    single_steps: float = 0.0  # steps of single-point tasks, times their size factor
    eval_units: float = 0.0  # evaluations, times their size factor


def plan(
    spec: SweepSpec, device_type: str = "cpu", share: float = 1.0, resolve: StepsResolver | None = None
) -> tuple[list[Point], dict[str, Workload]]:
    """Expand the spec (no training) and split its work into group and single-point tasks as
    `run_sweep` would on a device of this type; `resolve` sizes train.steps=auto."""
    from twoclocks.sweeps.executors import make_tasks

    points = expand(spec)
    tasks = make_tasks(points, spec, 1, 1, Path("."), device_type, share)
    params: dict[str, int] = {}
    loads: dict[str, Workload] = {}
    for _keys, cfg_dicts, _dirs in tasks:
        cfgs = [resolved(from_dict(c), resolve)[0] for c in cfg_dicts]  # train.steps=auto: its budget
        fam = cfgs[0].model.family
        w = loads.setdefault(fam, Workload(fam, cfgs[0]))
        factor = max(1.0, num_params(cfgs[0], params) / num_params(w.ref, params))
        steps = fixed_steps(cfgs[0])
        w.points += len(cfgs)
        w.run_steps += steps * len(cfgs)
        n_evals = sum(len(eval_schedule(c)) for c in cfgs)
        w.evaluations += n_evals
        w.eval_units += n_evals * factor
        if len(cfgs) > 1:
            w.group_tasks.append((len(cfgs), steps, factor))
        else:
            w.single_steps += steps * factor
    return points, loads


def num_params(cfg: RunConfig, cache: dict[str, int]) -> int:
    key = repr(cfg.model)
    if key not in cache:
        cache[key] = build_experiment(apply_overrides(cfg, {"train.device": "cpu"})).model.num_params()
    return cache[key]


def measure(load: Workload, K: int, steps: int = 20, reps: int = 3) -> dict:
    """Short benchmarks of a family's reference config on its device: single-run steps/s and
    one evaluation; for a family with group tasks also the group's run-steps/s at K."""
    from twoclocks.training.bench import bench, bench_group

    b = bench(load.ref, steps=steps, warmup=2)
    rates = {
        "single_steps_per_s": b["train_steps_per_s"],
        "eval_seconds": b["eval_seconds"],
        "device": b["device"],
        "K": 1,
        "run_steps_per_s": b["train_steps_per_s"],
    }
    if load.group_tasks:
        K = min(K, max(m for m, _, _ in load.group_tasks))
        g = bench_group(load.ref, K, steps=max(2, steps // 2), warmup=1, reps=reps)
        rates.update(K=K, run_steps_per_s=g["run_steps_per_s"])
    rates["source"] = f"measured on {rates['device']} by a short bench of each family's first config"
    return rates


def estimate_hours(load: Workload, rates: dict) -> dict:
    """Seconds of a family's work at these rates (see the module docstring)."""
    t1 = 1.0 / rates["single_steps_per_s"]
    K = rates["K"]
    tK = K / rates["run_steps_per_s"]
    group_s = 0.0
    for k, steps, factor in load.group_tasks:
        tk = t1 + (tK - t1) * (k - 1) / (K - 1) if K > 1 else k * t1
        group_s += steps * tk * factor
    single_s = load.single_steps * t1
    eval_s = load.eval_units * rates["eval_seconds"]
    return {"group_s": group_s, "single_s": single_s, "eval_s": eval_s, "hours": (group_s + single_s + eval_s) / 3600}


def duration(seconds: float) -> str:
    return (
        f"{seconds:.0f} s"
        if seconds < 120
        else f"{seconds / 60:.1f} min"
        if seconds < 7200
        else f"{seconds / 3600:.2f} h"
    )


def plan_text(points: list[Point], loads: dict[str, Workload], estimates: dict[str, tuple[dict, dict]]) -> list[str]:
    lines: list[str] = []
    sources: list[str] = []
    total_s = 0.0
    for fam, w in loads.items():
        sizes = sorted({m for m, _, _ in w.group_tasks})
        grouping = f"{len(w.group_tasks)} groups of {sizes[0]}-{sizes[-1]} runs" if w.group_tasks else "single runs"
        singles = w.points - sum(m for m, _, _ in w.group_tasks)
        if w.group_tasks and singles:
            grouping += f" + {singles} single runs"
        lines.append(f"{fam}: {w.points} points, {w.run_steps:,} run-steps, {w.evaluations:,} evaluations; {grouping}")
        if fam in estimates:
            rates, est = estimates[fam]
            total_s += est["hours"] * 3600
            grouped = f"{rates['run_steps_per_s']:.1f} run-steps/s in groups of {rates['K']}, " if w.group_tasks else ""
            lines.append(
                f"  at {rates['single_steps_per_s']:.1f} steps/s single, {grouped}"
                f"{rates['eval_seconds']:.2f} s per evaluation: "
                f"train {duration(est['group_s'] + est['single_s'])}, evaluate {duration(est['eval_s'])}"
            )
            sources.append(rates["source"])
    steps = sum(w.run_steps for w in loads.values())
    lines.append(f"{len(points)} points, {steps:,} run-steps in all")
    stopping = sum(p.cfg.train.stop_at != "none" for p in points)
    if stopping:
        lines.append(
            f"{stopping} of the points stop once their clocks are settled (train.stop_at): their budgets "
            "are counted whole, so the figures are ceilings"
        )
    if estimates:
        lines.append(
            f"estimated {total_s / 3600:.2f} hours on one device, tasks back to back "
            "(twoclocks.sweeps.plan; docs/performance.md)"
        )
        lines += [f"rates: {src}" for src in dict.fromkeys(sources)]
    return lines
