"""Throughput of a configured experiment: training steps/s, evaluation samples/s, GFLOP/s.

FLOPs are counted, not estimated: `torch.utils.flop_counter.FlopCounterMode` records every
matmul-class op (mm, addmm, bmm, baddbmm, SDPA, convolutions) of one training step, forward
and backward, and of one generation of a few samples (scaled linearly to M, since every
sample costs the same). Elementwise ops, norms and the optimizer are not counted, so the
achieved GFLOP/s is a matmul-work rate, the figure to compare with a machine's matmul peak.
See docs/performance.md.
"""

from __future__ import annotations

import platform
import statistics
import tempfile
import time
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from twoclocks.config import RunConfig, apply_overrides, fixed_steps
from twoclocks.errors import ConfigError
from twoclocks.evaluate import score
from twoclocks.training.experiment import Experiment, build_experiment, eval_schedule
from twoclocks.training.numerics import generate
from twoclocks.training.rundir import RunDir
from twoclocks.training.trainer import Trainer

FLOP_SAMPLES = 8  # samples generated under the FLOP counter (FLOPs are linear in M)


@dataclass
class Timer:
    """Wall-clock seconds of a block; waits for queued CUDA work on both ends."""

    device: torch.device
    seconds: float = 0.0

    def __enter__(self) -> Timer:
        self._sync()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self._sync()
        self.seconds = time.perf_counter() - self._t0

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def count_flops(fn) -> int:
    """Matmul-class FLOPs of fn() (see the module docstring)."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def setting(cfg: RunConfig, exp: Experiment, precision: str) -> dict:
    """What a bench measured: family, task, size, device, threads, precision, batch."""
    return {
        "family": cfg.model.family,
        "task": exp.task.describe(),
        "params": exp.model.num_params(),
        "device": str(exp.device),
        "threads": torch.get_num_threads(),
        "precision": precision,
        "batch": cfg.train.batch,
    }


def bench(cfg: RunConfig, steps: int = 50, warmup: int = 10, eval_repeats: int = 1) -> dict:
    """Time `steps` training steps after `warmup` ones, and one full evaluation (generation
    of eval.samples plus scoring) after a warm-up generation; returns a flat dict."""
    exp = build_experiment(cfg)
    with tempfile.TemporaryDirectory() as tmp:  # the trainer writes nothing here; it needs a path
        trainer = Trainer(exp, RunDir(tmp), progress=False)
        for _ in range(warmup):
            trainer.train_step()
        with Timer(exp.device) as train_t:
            for _ in range(steps):
                trainer.train_step()
        # Counted on a throwaway step: the counter's dispatch overhead must not be timed.
        step_flops = count_flops(trainer.train_step)

        ec, prec = cfg.eval, exp.cfg.train.precision  # exp.cfg: train.precision=auto resolved
        generate(trainer.model, trainer.noise[:FLOP_SAMPLES], ec.batch, prec)  # warm-up
        gen_s, score_s = [], []
        for _ in range(eval_repeats):
            with Timer(exp.device) as gen_t:
                cells = generate(trainer.model, trainer.noise, ec.batch, prec)
            with Timer(exp.device) as score_t:
                score(cells, exp.task, exp.index, cfg.clocks.ci_level)
            gen_s.append(gen_t.seconds)
            score_s.append(score_t.seconds)
        gen_flops = count_flops(lambda: generate(trainer.model, trainer.noise[:FLOP_SAMPLES], ec.batch, prec))
        gen_flops = gen_flops * ec.samples // FLOP_SAMPLES

    steps_per_s = steps / train_t.seconds
    gen_seconds, score_seconds = min(gen_s), min(score_s)
    eval_seconds = gen_seconds + score_seconds
    n_evals = len(eval_schedule(exp.cfg))  # exp.cfg: train.steps=auto resolved to its number
    run_train = fixed_steps(exp.cfg) / steps_per_s
    return {
        **setting(cfg, exp, prec),
        "samples": ec.samples,
        "train_steps_per_s": steps_per_s,
        "train_gflop_per_step": step_flops / 1e9,
        "gflops": step_flops * steps_per_s / 1e9,
        "generate_seconds": gen_seconds,
        "score_seconds": score_seconds,
        "eval_seconds": eval_seconds,
        "sample_per_s": ec.samples / eval_seconds,
        "eval_gflop": gen_flops / 1e9,
        "eval_gflops": gen_flops / gen_seconds / 1e9,
        # What a run of this config would spend: train.steps at this rate, plus one
        # evaluation like this one at each of its scheduled points (checkpoint I/O excluded).
        "run_evaluations": n_evals,
        "predicted_eval_share": n_evals * eval_seconds / (n_evals * eval_seconds + run_train),
        "torch": torch.__version__,
        "machine": platform.machine(),
        "cpu_capability": cpu_capability(),
    }


def bench_group(cfg: RunConfig, K: int, steps: int = 10, warmup: int = 2, reps: int = 5) -> dict:
    """Training throughput of K runs of `cfg` (seeds cfg.seed, ..., cfg.seed + K - 1) trained as
    one group (`GroupTrainer`: one batched forward, backward and AdamW step) against one single
    run of `cfg`, measured in the same process: `reps` interleaved repetitions (single, group,
    then group, single, ...) of `steps` steps each. Rates are medians over repetitions; the
    speed-up is the median of the per-repetition ratios, which cancels slow load changes.

    run_steps_per_s = K x group steps/s: the run-steps a device delivers with groups of K.
    """
    from twoclocks.training.group import GroupTrainer, group_blocker

    if K < 1 or steps < 1 or reps < 1 or warmup < 0:
        raise ConfigError(
            f"bench --group needs K, steps, reps >= 1 and warmup >= 0, got {K}, {steps}, {reps}, {warmup}"
        )
    cfgs = [apply_overrides(cfg, {"seed": cfg.seed + k}) for k in range(K)]
    blocker = group_blocker(cfgs)
    if blocker:
        raise ConfigError(f"cannot bench a group of this config: {blocker}")
    exp = build_experiment(cfg)
    with tempfile.TemporaryDirectory() as tmp:  # nothing is written; the trainers need a path
        single = Trainer(exp, RunDir(tmp), progress=False)
        group = GroupTrainer([Trainer(build_experiment(c), RunDir(tmp), progress=False) for c in cfgs])
        if exp.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(exp.device)
        for _ in range(warmup):
            single.train_step()
            group.train_step()
        drivers = [("single", single.train_step), ("group", group.train_step)]
        seconds: dict[str, list[float]] = {"single": [], "group": []}
        for r in range(reps):
            for name, step in drivers[r % 2 :] + drivers[: r % 2]:
                with Timer(exp.device) as t:
                    for _ in range(steps):
                        step()
                seconds[name].append(t.seconds / steps)
        peak = torch.cuda.max_memory_allocated(exp.device) if exp.device.type == "cuda" else None
    ratios = sorted(K * s / g for s, g in zip(seconds["single"], seconds["group"]))
    single_rate = 1 / statistics.median(seconds["single"])
    group_rate = 1 / statistics.median(seconds["group"])
    return {
        **setting(cfg, exp, exp.cfg.train.precision),
        "K": K,
        "steps": steps,
        "reps": reps,
        "single_steps_per_s": single_rate,
        "group_steps_per_s": group_rate,
        "run_steps_per_s": K * group_rate,
        "speedup": statistics.median(ratios),  # run-steps/s of the group over the single run's steps/s
        "speedup_range": [ratios[0], ratios[-1]],
        "peak_memory_bytes": peak,  # CUDA only: both trainers together
        "torch": torch.__version__,
        "machine": platform.machine(),
    }


def format_bench_group(r: dict) -> list[str]:
    return [
        f"{r['family']} on {r['task']} ({r['params']:,} params), {r['precision']}, {r['device']}, "
        f"{r['threads']} threads, batch {r['batch']}",
        f"single run   {r['single_steps_per_s']:9.2f} steps/s",
        f"group of {r['K']:<3} {r['group_steps_per_s']:9.2f} steps/s = {r['run_steps_per_s']:.2f} run-steps/s",
        f"speed-up     x{r['speedup']:.2f} (median of {r['reps']} interleaved repetitions of {r['steps']} steps; "
        f"range x{r['speedup_range'][0]:.2f}-x{r['speedup_range'][1]:.2f})",
    ]


def cpu_capability() -> str:
    try:
        return torch.backends.cpu.get_cpu_capability()
    except AttributeError:  # older torch
        return "unknown"


def format_bench(r: dict) -> list[str]:
    """Human-readable lines of a bench result."""
    return [
        f"{r['family']} on {r['task']} ({r['params']:,} params), {r['precision']}, {r['device']}, "
        f"{r['threads']} threads",
        f"train    {r['train_steps_per_s']:8.2f} steps/s  (batch {r['batch']}, "
        f"{r['train_gflop_per_step']:.2f} GFLOP/step, {r['gflops']:.1f} GFLOP/s)",
        f"evaluate {r['sample_per_s']:8.0f} samples/s  ({r['samples']} samples: generate "
        f"{r['generate_seconds']:.2f} s at {r['eval_gflops']:.1f} GFLOP/s, score {r['score_seconds']:.3f} s)",
        f"a run of this config: {r['run_evaluations']} evaluations, predicted eval share "
        f"{100 * r['predicted_eval_share']:.0f}% of train + eval time",
    ]
