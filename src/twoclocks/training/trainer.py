"""The training loop: AdamW with warm-up, evaluation on a geometric schedule, checkpoints
that make a killed run resume bit-for-bit, and the run directory it leaves behind (its files:
`twoclocks.training.rundir`).
"""

from __future__ import annotations

import copy
import math
import platform
import time
from dataclasses import dataclass, fields
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from twoclocks.clocks import MEM, RULE_CLOCKS, compute_clocks
from twoclocks.clocks.text import format_clock
from twoclocks.config import RunConfig, fixed_steps
from twoclocks.errors import CheckpointError, TrainingDiverged
from twoclocks.evaluate import save_outcomes, score
from twoclocks.plots import plot_clocks
from twoclocks.records.schema import run_summary
from twoclocks.training import checkpoint
from twoclocks.training.experiment import SEED_TRAIN, Experiment, make_optimizer, sample_noise
from twoclocks.training.image_samples import write_samples_plot
from twoclocks.training.numerics import generate, generate_values, precision_context
from twoclocks.training.rundir import RunDir
from twoclocks.training.stopping import stop_reason
from twoclocks.training.tensorboard import ScalarLog
from twoclocks.version import __version__

FINITE_CHECK_EVERY = 50  # steps between host syncs that check the loss is finite


@dataclass
class TrainState:
    """Everything last.pt carries, so that a resumed run continues bit for bit."""

    model: dict[str, Any]  # model state_dict
    optimizer: dict[str, Any]  # AdamW state_dict
    ema: dict[str, Any] | None  # EMA model state_dict (None when EMA is off)
    step: int  # optimizer steps taken
    rng: torch.Tensor  # the training generator's state
    rows: list[dict]  # metric rows of the evaluations so far
    loss_sum: torch.Tensor  # float64 sum of the losses since the last evaluation
    loss_count: int  # steps in loss_sum
    train_seconds: float
    eval_seconds: float
    wall_seconds: float  # wall time of every session so far

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainState:
        missing = [f.name for f in fields(cls) if f.name not in d]
        if missing:
            raise CheckpointError(f"checkpoint lacks {missing}; not a twoclocks training state")
        return cls(
            model=d["model"],
            optimizer=d["optimizer"],
            ema=d["ema"],
            step=int(d["step"]),
            rng=d["rng"],
            rows=list(d["rows"]),
            loss_sum=d["loss_sum"],
            loss_count=int(d["loss_count"]),
            train_seconds=float(d["train_seconds"]),
            eval_seconds=float(d["eval_seconds"]),
            wall_seconds=float(d["wall_seconds"]),
        )


class ScheduleDriver(Protocol):
    """What `train_on_schedule` drives: a single run (`Trainer`) or a group (`GroupTrainer`)."""

    cfg: RunConfig
    step: int

    def train_step(self) -> None: ...
    def check_finite(self) -> None: ...
    def end_segment(self, seconds: float) -> None: ...
    def evaluate_and_record(self) -> dict: ...
    def save_last(self) -> None: ...
    def stop_reason(self) -> str | None: ...


class Trainer:
    def __init__(self, exp: Experiment, run_dir: RunDir, progress: bool = True):
        self.exp, self.cfg = exp, exp.cfg
        self.run_dir = run_dir
        self.progress = progress
        tc = self.cfg.train
        if tc.threads > 0:
            torch.set_num_threads(tc.threads)
        self.model = exp.model
        self.optimizer = make_optimizer(self.model.parameters(), tc, exp.device)
        self.ema = copy.deepcopy(self.model).requires_grad_(False) if tc.ema > 0 else None
        self.gen = torch.Generator(device=exp.device).manual_seed(self.cfg.seed + SEED_TRAIN)
        self.train_x = self.model.encode(exp.train_cells).to(exp.device)
        self.noise = sample_noise(exp)
        self.step = 0
        self.rows: list[dict] = []
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=exp.device)  # since last eval
        self.loss_count = 0
        self.train_seconds = 0.0
        self.eval_seconds = 0.0
        self.prior_wall = 0.0  # wall seconds of earlier, interrupted sessions of this run
        self.session_start: float | None = None
        self.scalars: ScalarLog | None = None  # TensorBoard writer, opened when a session starts
        self.step_losses: list[torch.Tensor] = []  # losses of the steps not yet in `scalars`

    # ----- state ---------------------------------------------------------------------------
    def state(self) -> TrainState:
        return TrainState(
            model=self.model.state_dict(),
            optimizer=self.optimizer.state_dict(),
            ema=None if self.ema is None else self.ema.state_dict(),
            step=self.step,
            rng=self.gen.get_state(),
            rows=self.rows,
            loss_sum=self.loss_sum.clone(),
            loss_count=self.loss_count,
            train_seconds=self.train_seconds,
            eval_seconds=self.eval_seconds,
            wall_seconds=self.prior_wall + self.session_wall(),
        )

    def load_state(self, state: TrainState) -> None:
        self.model.load_state_dict(state.model)
        self.optimizer.load_state_dict(state.optimizer)
        if self.ema is not None and state.ema is not None:
            self.ema.load_state_dict(state.ema)
        self.step = state.step
        self.gen.set_state(state.rng)
        self.rows = list(state.rows)
        self.loss_sum = state.loss_sum.to(self.exp.device)
        self.loss_count = state.loss_count
        self.train_seconds = state.train_seconds
        self.eval_seconds = state.eval_seconds
        self.prior_wall = state.wall_seconds

    def resume(self) -> None:
        # Load on the CPU: RNG states must stay CPU tensors; load_state_dict moves the rest.
        self.load_state(TrainState.from_dict(checkpoint.load(self.run_dir.last_checkpoint, "cpu")))

    def start_clock(self, t0: float) -> None:
        """Mark the start of this session (perf_counter seconds) and open its live curves."""
        self.session_start = t0
        if self.cfg.train.tensorboard and self.scalars is None:
            self.scalars = ScalarLog(self.run_dir.tensorboard_dir, self.step)

    def session_wall(self) -> float:
        return 0.0 if self.session_start is None else time.perf_counter() - self.session_start

    # ----- loop ------------------------------------------------------------------------------
    def lr_at(self, step: int) -> float:
        tc = self.cfg.train
        return tc.lr * min(1.0, (step + 1) / max(1, tc.warmup))

    def draw_batch(self) -> torch.Tensor:
        """The next training batch (encoded items drawn i.i.d. from the training set); the
        first draw of a step from this run's training generator."""
        idx = torch.randint(len(self.train_x), (self.cfg.train.batch,), generator=self.gen, device=self.exp.device)
        return self.train_x[idx]

    def draw_loss_randomness(self, batch: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """What the model's loss draws for `batch` (`GenerativeModel.loss_draws`), the step's
        second draw from this run's training generator, as `loss` would draw it."""
        return self.model.loss_draws(batch, self.gen)

    def record_step(self, loss: torch.Tensor) -> None:
        """Count one finished optimizer step and its loss (no host sync); with live curves, keep
        the loss on the device until the next finite check fetches it."""
        self.loss_sum += loss.detach().double()
        self.loss_count += 1
        self.step += 1
        if self.scalars is not None:
            self.step_losses.append(loss.detach())

    def train_step(self) -> None:
        tc = self.cfg.train
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(self.step)
        batch = self.draw_batch()
        with precision_context(self.exp.device, tc.precision):
            loss = self.model.loss(batch, self.gen)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if tc.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), tc.grad_clip)
        self.optimizer.step()
        if self.ema is not None:
            with torch.no_grad():
                for pe, pm in zip(self.ema.parameters(), self.model.parameters()):
                    pe.lerp_(pm, 1.0 - tc.ema)
        self.record_step(loss)

    def check_finite(self) -> None:
        """Raise TrainingDiverged on a NaN/inf loss; the loop calls this every
        FINITE_CHECK_EVERY steps and at each segment's end, where it syncs the device anyway:
        the steps' losses kept for the live curves are fetched then, in one transfer."""
        if not math.isfinite(float(self.loss_sum)):
            raise TrainingDiverged(
                f"loss became NaN/inf before step {self.step}; stopped, the last good checkpoint "
                f"is {self.run_dir.last_checkpoint} (try a lower train.lr)"
            )
        if self.scalars is not None and self.step_losses:
            first = self.step - len(self.step_losses) + 1
            self.scalars.log_steps("train/loss", first, torch.stack(self.step_losses).tolist())
            self.step_losses = []

    def evaluate(self) -> dict:
        t0 = time.perf_counter()
        ec = self.cfg.eval
        images = self.exp.images
        if images is None:
            cells = generate(self.model, self.noise, ec.batch, self.cfg.train.precision)
        else:
            cells, values = generate_values(self.model, self.noise, ec.batch, self.cfg.train.precision)
        metrics, outcomes = score(cells, self.exp.task, self.exp.index, self.cfg.clocks.ci_level)
        if images is not None:
            metrics.update(images.metrics(self.model, cells, values, metrics))
        metrics.update(self.exp.family_metrics(self.model))  # e.g. GPT log-likelihoods
        if self.ema is not None:
            ema_cells = generate(self.ema, self.noise, ec.batch, self.cfg.train.precision)
            ema_metrics, _ = score(ema_cells, self.exp.task, self.exp.index, self.cfg.clocks.ci_level)
            ema_metrics.update(self.exp.family_metrics(self.ema))
            metrics.update({f"ema_{k}": v for k, v in ema_metrics.items()})
        if ec.keep_samples:
            save_outcomes(self.run_dir.samples_file(self.step), outcomes)
        eval_time = time.perf_counter() - t0
        self.eval_seconds += eval_time
        row = {
            "step": self.step,
            "epoch": self.step * self.cfg.train.batch / self.cfg.data.N,
            "loss": float(self.loss_sum) / max(1, self.loss_count),
            "lr": self.lr_at(self.step - 1),
            **metrics,
            "train_seconds": self.train_seconds,
            "eval_seconds": eval_time,
        }
        self.loss_sum.zero_()
        self.loss_count = 0
        return row

    def save_snapshot(self) -> None:
        weights = {"model": self.model.state_dict(), "step": self.step}
        if self.ema is not None:
            weights["ema"] = self.ema.state_dict()
        last = self.step == self.cfg.train.steps or self.stop_reason() is not None
        if self.cfg.eval.keep_checkpoints == "all" or last:
            checkpoint.save(self.run_dir.snapshot(self.step), weights)

    def save_last(self) -> None:
        checkpoint.save(self.run_dir.last_checkpoint, self.state().to_dict())

    def run(self) -> dict:
        """Train to train.steps (from the current state) and write every output file."""
        self.start_clock(time.perf_counter())
        cfg = self.cfg
        train_on_schedule(
            self,
            self.exp.eval_steps,
            self.exp.device,
            f"{cfg.model.family} {self.exp.task.describe()} N={cfg.data.N}",
            self.progress,
        )
        return self.finish()

    # ----- the hooks of train_on_schedule ----------------------------------------------------
    def end_segment(self, seconds: float) -> None:
        self.train_seconds += seconds

    def stop_reason(self) -> str | None:
        """Why the run ends before train.steps (its wanted clocks are settled), or None."""
        return stop_reason(self.cfg, self.rows)

    def evaluate_and_record(self) -> dict:
        """Evaluate, append the row to metrics.parquet, keep the weights; returns the progress
        bar's postfix."""
        row = self.evaluate()
        self.rows.append(row)
        self.run_dir.write_metrics(pd.DataFrame(self.rows))
        if self.scalars is not None:
            self.scalars.log(row)
        self.save_snapshot()
        return {"valid": f"{row['valid']:.2f}", "mem": f"{row['mem']:.2f}", "loss": f"{row['loss']:.3f}"}

    def finish(self) -> dict:
        cfg = self.cfg
        if self.scalars is not None:
            self.scalars.close()
            self.scalars = None
        df = pd.DataFrame(self.rows)
        self.run_dir.write_metrics(df)
        clocks = compute_clocks(df, cfg.clocks, cfg.train.batch, cfg.data.N)
        if self.ema is not None:
            ema_df = df[["step"] + [c for c in df if c.startswith("ema_")]].rename(
                columns=lambda c: c.removeprefix("ema_")
            )
            clocks["ema_clocks"] = compute_clocks(ema_df, cfg.clocks, cfg.train.batch, cfg.data.N)
        task = self.exp.task
        reason = self.stop_reason()
        summary = run_summary(
            clocks,
            train_seconds=self.train_seconds,
            eval_seconds=self.eval_seconds,
            wall_seconds=self.prior_wall + self.session_wall(),
            eval_share=self.eval_seconds / max(1e-9, self.train_seconds + self.eval_seconds),
            num_params=self.model.num_params(),
            log2_population=task.log2_population,
            valid_chance=task.valid_chance,
            **self.exp.chance_levels(df),
            device=str(self.exp.device),
            stop_at=cfg.train.stop_at,
            stopped_step=None if reason is None else self.step,
            stop_reason=reason,
            steps=cfg.train.steps,
            seed=cfg.seed,
            N=cfg.data.N,
            task=task.describe(),
            task_name=task.name,
            task_knob=task.knob,
            task_hash=task.content_hash(),
            model_family=cfg.model.family,
            status="finished",
            versions=versions(),
            config=cfg.to_dict(),
            steps_auto=self.run_dir.load_budget(),  # the prediction beside the measurement
        )
        title = f"{cfg.model.family} on {task.describe()}, N={cfg.data.N}, seed={cfg.seed}\n" + "  ".join(
            f"{key}={format_clock(summary[key], summary['max_step'])}"
            for key in (*(rc.tau for rc in RULE_CLOCKS), MEM.tau)
        )
        if reason is not None:
            title += f"  (stopped at step {self.step:,}: train.stop_at={cfg.train.stop_at})"
        plot_clocks(df, summary, self.run_dir.clocks_plot, title)
        if self.exp.images is not None:
            write_samples_plot(self.run_dir, self.exp.train_cells, task.num_values, summary, title)
        # Last: a summary that says "finished" is only ever written after every other output.
        self.run_dir.write_summary(summary)
        return summary


def train_on_schedule(
    driver: ScheduleDriver, eval_steps: list[int], device: torch.device, desc: str, progress: bool
) -> None:
    """The training schedule of a run (`Trainer`) or of a group of runs (`group.GroupTrainer`).

    Trains in segments that end at the next evaluation step or checkpoint; after each: wait
    for the device, `driver.end_segment(seconds)`, check the loss is finite, evaluate if the
    step is an evaluation step (`driver.evaluate_and_record()`), and write last.pt
    (`driver.save_last()`), so that a kill at any moment loses at most one segment. Within a
    segment the loss is checked every FINITE_CHECK_EVERY steps (each check syncs the device).
    The schedule ends early once `driver.stop_reason()` gives one (train.stop_at).
    """
    cfg = driver.cfg
    steps = fixed_steps(cfg)
    pending = [s for s in eval_steps if s > driver.step]
    if driver.step == 0:
        driver.save_last()
    bar = tqdm(total=steps, initial=driver.step, disable=not progress, unit="step", desc=desc, dynamic_ncols=True)
    last_saved = driver.step
    try:
        while driver.step < steps and driver.stop_reason() is None:
            target = min(pending[0], last_saved + cfg.train.checkpoint_every)
            t0 = time.perf_counter()
            while driver.step < target:
                driver.train_step()
                if driver.step % FINITE_CHECK_EVERY == 0:
                    driver.check_finite()
                bar.update(1)
            if device.type == "cuda":
                torch.cuda.synchronize()
            driver.end_segment(time.perf_counter() - t0)
            driver.check_finite()
            if driver.step == pending[0]:
                pending.pop(0)
                bar.set_postfix(driver.evaluate_and_record())
            driver.save_last()
            last_saved = driver.step
    finally:
        bar.close()


def versions() -> dict:
    return {
        "twoclocks": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }
