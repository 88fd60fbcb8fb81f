"""Many runs in one process, trained as one batched computation.

K runs whose configs differ only in their seeds, training-set size (`seed`, `data.N`,
`data.seed`, `eval.noise_seed`) and task (of one item shape and cell values, e.g. parity's G)
share every tensor shape, so their models can be stacked into one `GroupedModel` (the
family's `GenerativeModel.grouped`: twoclocks.models.grouped stacks the network's linear,
norm and embedding layers), and the K batches travel as one (K*B, ...) batch, member-major.

Each member keeps its own seed streams: its training set, initial weights (built exactly as a
single run builds them), its training generator (the batch indices and whatever the loss
draws, sigma and noise or masking times and uniforms, in the single run's order) and its fixed
sampling noise. On the CPU a grouped step gives each member bit-identical weights to its
single run (tests/test_perf.py, tests/test_group_families.py), so a member's run directory
(config.json, train_set.npz, metrics.parquet, summary.json, checkpoints/, samples/, plots/) is
the single run's, timings aside; each member's checkpoints/last.pt is an ordinary single-run
state, so a member also resumes with `twoclocks run --resume DIR`.

A sweep's driver deals points of one `group_key` into tasks when `can_group` accepts them, and
its worker trains the task with `train_group(cfgs, out_dirs)` (twoclocks.sweeps.worker
`run_points`), falling back to the points one by one when the group cannot run together.

`group_key(cfg)` is equal for configs that may share a group; `can_group(cfgs)` also asks the
model whether it can be grouped (`GenerativeModel.group_blocker`: every built-in family can,
a backbone of one's own whose parameters sit outside stackable layers cannot) and checks that
neither EMA nor gradient clipping is on. On CPUs a group is 1.2-1.3x faster than its runs one
after another on one thread, and faster with two threads per process (docs/performance.md);
on a GPU it is the way to fill it.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import torch
from torch import nn

from twoclocks.config import RunConfig, flatten
from twoclocks.errors import ConfigError
from twoclocks.training.experiment import Experiment, build_experiment, make_optimizer
from twoclocks.training.numerics import precision_context
from twoclocks.training.rundir import RunDir, State
from twoclocks.training.runner import fresh_dirs
from twoclocks.training.trainer import Trainer, train_on_schedule

# Config fields in which the members of one group may differ. The task may differ too (e.g.
# parity's G), as long as its items have the same shape and cell values: that is all the
# batched model sees of a task; each member draws from and is scored on its own task.
MEMBER_FIELDS = (("seed",), ("data", "N"), ("data", "seed"), ("eval", "noise_seed"))
_TASK_SIGNATURES: dict[str, str] = {}  # task config -> its encoding's repr (each task built once)
_MODEL_BLOCKERS: dict[str, str | None] = {}  # group key -> its model's group_blocker (built once)


# ----- which runs may share a group -------------------------------------------------------------
def group_key(cfg: RunConfig) -> str:
    """Equal for configs that differ only in MEMBER_FIELDS and in tasks of the same item shape
    and cell values (a sort/group key for sweeps)."""
    d = cfg.to_dict()
    for path in MEMBER_FIELDS:
        section = d
        for key in path[:-1]:
            section = section[key]
        section.pop(path[-1], None)
    d["task"] = task_signature(cfg)
    return repr(sorted(flatten(d).items()))


def task_signature(cfg: RunConfig) -> str:
    """What the batched model sees of the task: its encoding (item shape, cell values, order)."""
    key = repr((sorted(cfg.task.items()), cfg.model.encoding))
    if key not in _TASK_SIGNATURES:
        from twoclocks.training.experiment import build_task

        _TASK_SIGNATURES[key] = repr(build_task(cfg).encoding(cfg.model.encoding))
    return _TASK_SIGNATURES[key]


def model_blocker(cfg: RunConfig) -> str | None:
    """Why the model of this config cannot be grouped (its `group_blocker`), asked of one model
    built on the CPU once per group key."""
    key = group_key(cfg)
    if key not in _MODEL_BLOCKERS:
        train = dataclasses.replace(cfg.train, device="cpu", tensorboard=False)
        _MODEL_BLOCKERS[key] = build_experiment(dataclasses.replace(cfg, train=train)).model.group_blocker()
    return _MODEL_BLOCKERS[key]


def group_blocker(cfgs: list[RunConfig]) -> str | None:
    """Why these configs cannot be trained as one group, or None if they can."""
    if not cfgs:
        return "no configs"
    if cfgs[0].train.ema > 0 or cfgs[0].train.grad_clip > 0:
        return "runs with EMA or gradient clipping are not groupable"
    keys = {group_key(c) for c in cfgs}
    if len(keys) > 1:
        fields = ", ".join(".".join(p) for p in MEMBER_FIELDS)
        return f"configs differ beyond {fields} and tasks of one item shape and cell values"
    blocker = model_blocker(cfgs[0])
    return None if blocker is None else f"model {cfgs[0].model.family!r} is not groupable: {blocker}"


def can_group(cfgs: list[RunConfig]) -> bool:
    """True when `train_group(cfgs, ...)` accepts these configs."""
    return group_blocker(cfgs) is None


# ----- training ---------------------------------------------------------------------------------
class GroupTrainer:
    """Drives K member `Trainer`s with one batched training step. The members keep their own
    generators, loss sums, metric rows and run directories; their models and optimizers are
    brought up to date from the group before every evaluation and checkpoint.

    The whole step is batched, the AdamW update mostly so. The fused AdamW kernel is
    elementwise but runs a tensor's last (size mod vector width) elements through scalar code,
    which rounds differently: so weights whose per-member size is a multiple of ALIGNED get one
    fused AdamW over the stacked tensors (member k's slice gets its single run's update bit for
    bit, tests/test_perf.py), and the few others (e.g. a 4-element output bias) keep one AdamW
    per member over views of its slices.
    """

    ALIGNED = 64  # elements: a multiple of every vector width, also split in two threads

    def __init__(self, members: list[Trainer], progress: bool = False):
        self.members, self.progress = members, progress
        self.cfg, self.device = members[0].cfg, members[0].exp.device
        models = [m.model for m in members]
        self.model = type(models[0]).grouped(models)
        self.names = [name for name, _ in self.model.named_parameters()]
        self.params = [p for _, p in self.model.named_parameters()]
        self.stacked = [i for i, P in enumerate(self.params) if P[0].numel() % self.ALIGNED == 0]
        self.loose = [i for i in range(len(self.params)) if i not in self.stacked]
        # (a tiny model may have no aligned weight: then every weight is updated per member)
        self.optimizer = (
            make_optimizer([self.params[i] for i in self.stacked], self.cfg.train, self.device)
            if self.stacked
            else None
        )
        # views[k][j]: member k's slice of loose parameter j, sharing its storage.
        self.views = [[nn.Parameter(self.params[i].detach()[k]) for i in self.loose] for k in range(len(members))]
        self.loose_optimizers = (
            [make_optimizer(v, self.cfg.train, self.device) for v in self.views] if self.loose else []
        )
        self.optimizers = ([self.optimizer] if self.optimizer else []) + self.loose_optimizers
        self.step = members[0].step
        self.summaries: dict[int, dict] = {}  # members that have finished, by index
        self.lr = members[0].optimizer.param_groups[0]["lr"]  # of the last step, as in a single run
        self.from_members()

    # ----- state sharing -------------------------------------------------------------------
    def from_members(self) -> None:
        """Take the members' weights and AdamW moments (at the start and on resume)."""
        with torch.no_grad():
            for i, (name, P) in enumerate(zip(self.names, self.params)):
                ps = [m.model.get_parameter(name) for m in self.members]
                states = [m.optimizer.state.get(p) for m, p in zip(self.members, ps)]
                for k, p in enumerate(ps):
                    P[k].copy_(p)
                full = [st for st in states if st is not None]
                if len(full) < len(states):
                    if full:
                        raise ConfigError("cannot group runs of which some have AdamW state and some not")
                    continue
                if i in self.stacked:  # the members' moments stacked; the step count is shared
                    assert self.optimizer is not None
                    self.optimizer.state[P] = {
                        n: full[0][n].clone() if n == "step" else torch.stack([st[n] for st in full]) for n in full[0]
                    }
                else:
                    for k, st in enumerate(full):
                        view = self.views[k][self.loose.index(i)]
                        self.loose_optimizers[k].state[view] = {n: t.clone() for n, t in st.items()}

    def to_members(self) -> None:
        """Give every member its weights, AdamW moments and learning rate, so that its
        evaluation and its last.pt are exactly a single run's."""
        with torch.no_grad():
            for i, (name, P) in enumerate(zip(self.names, self.params)):
                for k, m in enumerate(self.members):
                    p = m.model.get_parameter(name)
                    p.copy_(P[k])
                    if i in self.stacked:
                        assert self.optimizer is not None
                        st = self.optimizer.state.get(P)
                        member_state = st and {n: t.clone() if n == "step" else t[k].clone() for n, t in st.items()}
                    else:
                        st = self.loose_optimizers[k].state.get(self.views[k][self.loose.index(i)])
                        member_state = st and {n: t.clone() for n, t in st.items()}
                    if member_state:
                        m.optimizer.state[p] = member_state
            for m in self.members:
                for group in m.optimizer.param_groups:
                    group["lr"] = self.lr

    # ----- loop ------------------------------------------------------------------------------
    def train_step(self) -> None:
        """One step of every member: the single run's draws from each member's generator,
        one batched forward, backward and AdamW update."""
        tc = self.cfg.train
        lr = self.lr = self.members[0].lr_at(self.step)
        batches, draws = [], []
        for m in self.members:  # each member's draws in its single run's order
            batches.append(m.draw_batch())
            draws.append(m.draw_loss_randomness(batches[-1]))
        with precision_context(self.device, tc.precision):
            losses = self.model.member_losses(batches, draws)
        for P in self.params:
            P.grad = None
        torch.stack(losses).sum().backward()  # members share no weight: each gets its own gradient
        for k, views in enumerate(self.views):
            for view, i in zip(views, self.loose):
                grad = self.params[i].grad
                assert grad is not None
                view.grad = grad[k]
        for opt in self.optimizers:
            for group in opt.param_groups:
                group["lr"] = lr
            opt.step()
        for m, loss in zip(self.members, losses):
            m.record_step(loss)
        self.step += 1

    def run(self) -> list[dict]:
        """Train every member to train.steps, evaluating and checkpointing each exactly where a
        single run would (the same `train_on_schedule`); returns the members' summaries.

        With train.stop_at, a member whose clocks are settled writes its summary at that
        evaluation and stops recording; the group trains on until every member has stopped."""
        t_start = time.perf_counter()
        for k, m in enumerate(self.members):
            m.start_clock(t_start)
            if m.stop_reason() is not None:  # resumed after it had settled
                self.summaries[k] = m.finish()
        train_on_schedule(
            self,
            self.members[0].exp.eval_steps,
            self.device,
            f"group of {len(self.members)} {self.cfg.model.family}",
            self.progress,
        )
        for k, m in enumerate(self.members):
            if k not in self.summaries:
                self.summaries[k] = m.finish()
        return [self.summaries[k] for k in range(len(self.members))]

    def active(self) -> list[Trainer]:
        """The members still recording (not yet stopped by train.stop_at)."""
        return [m for k, m in enumerate(self.members) if k not in self.summaries]

    # ----- the hooks of train_on_schedule ----------------------------------------------------
    def end_segment(self, seconds: float) -> None:
        """Split the segment's time evenly and bring every member up to date."""
        for m in self.active():
            m.end_segment(seconds / len(self.members))
        self.to_members()

    def evaluate_and_record(self) -> dict:
        """Each member evaluates and records as a single run does (member by member: one batch
        of all members falls out of cache, docs/performance.md); the bar shows the first."""
        postfixes = [m.evaluate_and_record() for m in self.active()]
        return postfixes[0]

    def save_last(self) -> None:
        for k, m in enumerate(self.members):
            if k in self.summaries:
                continue
            m.save_last()
            if m.stop_reason() is not None:  # settled: its run is complete at this step
                self.summaries[k] = m.finish()

    def check_finite(self) -> None:
        for m in self.active():
            m.check_finite()

    def stop_reason(self) -> str | None:
        return "every member stopped" if not self.active() else None


def train_group(
    cfgs: list[RunConfig], out_dirs: list[str | Path], progress: bool = False, budgets: list[dict | None] | None = None
) -> list[dict]:
    """Train K runs as one group and write each one's ordinary run directory; returns their
    summaries in order. Each directory's state is decided as a single run's is
    (`RunDir.finishable_state`): all finished, their summaries are returned as they are; all
    checkpointed, they resume (they must have stopped at the same step); none started (absent or
    inputs only), the group starts.
    `budgets`: how train.steps=auto sized each config (`runner.StepsResolver`), if it did."""
    blocker = group_blocker(cfgs)
    if blocker:
        raise ConfigError(f"cannot train these runs as one group: {blocker}")
    if len(out_dirs) != len(cfgs):
        raise ConfigError(f"{len(cfgs)} configs but {len(out_dirs)} output directories")
    dirs = [RunDir(d) for d in out_dirs]
    budgets = budgets or [None] * len(cfgs)
    exps = [build_experiment(c, d.saved_train_set(), b) for c, d, b in zip(cfgs, dirs, budgets)]  # errors before files
    for d, e in zip(dirs, exps):
        d.check_sources(e.task)
    if len({e.encoding for e in exps}) > 1:
        raise ConfigError("cannot train these runs as one group: their tasks encode items differently")
    if len({e.cfg.train.steps for e in exps}) > 1:  # train.steps=auto sized them differently
        raise ConfigError("cannot train these runs as one group: their budgets differ")
    states = [d.finishable_state(c) for d, c in zip(dirs, cfgs)]  # member by member, as a single run
    if all(s is State.FINISHED for s in states):
        return [d.load_finished()[0] for d in dirs]
    if all(s is State.CHECKPOINTED for s in states):
        members = [Trainer(exp, d, progress=False) for exp, d in zip(exps, dirs)]
        for m in members:
            m.resume()
        if len({m.step for m in members}) > 1:
            raise ConfigError("these runs stopped at different steps; resume them separately")
        return GroupTrainer(members, progress).run()
    if any(s in (State.FINISHED, State.CHECKPOINTED) for s in states):
        raise ConfigError("some of these runs have started and others have not; resume or start them separately")
    return start_group(exps, dirs, progress)


def start_group(exps: list[Experiment], dirs: list[RunDir], progress: bool) -> list[dict]:
    """Create every member's directory (or clear one that holds only its inputs: nothing was
    trained) and train the group; a fault before the first checkpoint (a full disk from the
    start) leaves none of the directories it created behind, as `runner.train_new` does."""
    absent = [d for d in dirs if d.state() is State.ABSENT]
    for d in absent:
        d.check_creatable()
    for d in [d for d in dirs if d not in absent]:
        d.check_folders()  # a folder of a run that holds its inputs is not a planted link
    members = [Trainer(exp, d, progress=False) for exp, d in zip(exps, dirs)]  # before any file
    with fresh_dirs(absent):
        for exp, d in zip(exps, dirs):
            d.clear(keep=d.INPUTS)
            d.write_inputs(exp)
        return GroupTrainer(members, progress).run()
