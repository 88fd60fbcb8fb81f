"""Starting, resuming and summarising single runs (used by the CLI and by sweeps)."""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from twoclocks.clocks import (
    CHANCE,
    GEN,
    GEN_CLOCKS,
    MEM,
    PEAK_CURVES,
    RULE_CLOCKS,
    RuleClock,
    mem_levels,
    threshold,
    window,
)
from twoclocks.clocks.text import format_clock, window_text
from twoclocks.config import AUTO_STEPS, RunConfig
from twoclocks.core.paths import safe_name
from twoclocks.errors import ConfigError, TwoClocksError
from twoclocks.tasks import task_class
from twoclocks.training.experiment import Experiment, build_experiment
from twoclocks.training.rundir import RunDir, State
from twoclocks.training.sample_text import sample_lines
from twoclocks.training.trainer import Trainer


def default_run_name(cfg: RunConfig) -> str:
    """A readable directory name: task, its knob, family, N, seed and a timestamp; one folder
    name whatever the rule's name and parameters hold (`paths.safe_name`)."""
    cls = task_class(cfg.task["name"])
    knob_part = f"-{cls.knob}{safe_name(cfg.task[cls.knob], 24)}" if cls.knob in cfg.task else ""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = f"{safe_name(cls.name, 40)}{knob_part}_{family_label(cfg.model.family)}_N{cfg.data.N}_seed{cfg.seed}"
    return f"{safe_name(name, 200)}_{stamp}"


def family_label(family: str) -> str:
    """A model family's short name: a registered name as it is, a builder's name from its path."""
    return safe_name(family.rpartition(":")[2], 40)


# train.steps=auto -> (the config with its budget, the record of how it was sized). The entry
# points (`twoclocks run`, `tc.run`, a sweep's driver) pass the one of the prediction layer
# down, so that nothing below it imports the laws.
StepsResolver = Callable[[RunConfig], tuple[RunConfig, dict | None]]


def resolved(cfg: RunConfig, resolve: StepsResolver | None) -> tuple[RunConfig, dict | None]:
    """`cfg` with a number of steps and the record of how train.steps=auto was sized (None for
    a config that gave the number)."""
    if cfg.train.steps != AUTO_STEPS:
        return cfg, None
    if resolve is None:
        raise ConfigError(
            "train.steps=auto needs the predicted clocks: start the run with twoclocks run, tc.run or a sweep"
        )
    return resolve(cfg)


def start_run(
    cfg: RunConfig, out: str | Path | None = None, progress: bool = True, resolve: StepsResolver | None = None
) -> tuple[Path, dict]:
    """Validate everything, then create the run directory and train. Returns (dir, summary).
    train.steps=auto is sized by `resolve`."""
    exp = experiment_for(cfg, resolve)  # all config errors surface here
    run_dir = RunDir(out if out is not None else Path("runs") / default_run_name(exp.cfg))
    run_dir.check_creatable()
    with run_dir.lock():
        return run_dir.path, finish(run_dir, exp, progress)[1]


def resume_run(run_dir: str | Path, progress: bool = True) -> tuple[Path, dict]:
    """Continue a stopped run from checkpoints/last.pt; a finished run just returns its summary."""
    rd = RunDir(run_dir).require()
    with rd.lock():
        return rd.path, finish(rd, progress=progress)[1]


def experiment_for(cfg: RunConfig, resolve: StepsResolver | None) -> Experiment:
    cfg, budget = resolved(cfg, resolve)
    return build_experiment(cfg, budget=budget)


def say_notes(exp: Experiment, progress: bool) -> None:
    """The run's notes (`Experiment.notes`), one line each, as a run starts."""
    if progress:
        for note in exp.notes():
            print(f"twoclocks: note: {note}", file=sys.stderr)


# What finishing a run directory does in each state (the word a sweep's worker reports).
ACTIONS = {State.FINISHED: "skipped", State.CHECKPOINTED: "resumed", State.INPUTS: "restarted", State.ABSENT: "started"}


def finish(
    run_dir: RunDir,
    point: Experiment | RunConfig | None = None,
    progress: bool = True,
    resolve: StepsResolver | None = None,
) -> tuple[str, dict]:
    """Finish the run in `run_dir` whatever state it is in (the caller holds the lock); returns
    (ACTIONS' word, summary). `point` is what the directory is for (a config is built, its
    train.steps=auto sized by `resolve`, only when the run starts), None what it holds. A
    finished run returns its summary; a checkpointed one resumes; one with inputs only starts
    again from them; an absent one starts. Either way a run trains on its saved
    train_set.npz, whatever route gave the items when it started."""
    cfg = point.cfg if isinstance(point, Experiment) else point
    state = run_dir.finishable_state(cfg)
    if state is State.FINISHED:
        return ACTIONS[state], run_dir.load_finished()[0]
    if state is State.ABSENT:
        assert point is not None  # finishable_state refuses to start a run with no point
        exp = point if isinstance(point, Experiment) else experiment_for(point, resolve)
        run_dir.clear()  # the debris of a start killed before config.json
        return ACTIONS[state], train_new(exp, run_dir, progress)
    return ACTIONS[state], continue_run(run_dir, state, progress)


def train_new(exp: Experiment, run_dir: RunDir, progress: bool = True) -> dict:
    """Create `run_dir` for `exp`, write its inputs and train."""
    trainer = Trainer(exp, run_dir, progress=progress)  # optimizer and noise, before any file
    say_notes(exp, progress)
    with fresh_dirs([run_dir]):
        run_dir.write_inputs(exp)
        return trainer.run()


def continue_run(run_dir: RunDir, state: State, progress: bool) -> dict:
    """Continue from last.pt (a run whose last.pt is at the final step only writes its outputs
    again, which restores any that were lost), or start again from the saved inputs when
    nothing was trained. The inputs stay until they are written again (atomically), so that a
    failing restart still leaves a run that can be resumed; the budget record too
    (`experiment_of` carries it into the inputs written again)."""
    run_dir.check_folders()
    exp = experiment_of(run_dir)
    run_dir.remove_temp_files()
    if state is State.CHECKPOINTED:
        trainer = Trainer(exp, run_dir, progress=progress)
        trainer.resume()
        say_notes(exp, progress)
        return trainer.run()
    run_dir.clear(keep=run_dir.INPUTS)
    trainer = Trainer(exp, run_dir, progress=progress)
    run_dir.write_inputs(exp)
    return trainer.run()


def experiment_of(run_dir: RunDir) -> Experiment:
    """The experiment of a run directory: its saved config (train.steps=auto saved as the number
    it was sized to, with budget.json the record of how), on its saved training set (when a
    run was killed before writing it, the set its config names)."""
    exp = build_experiment(run_dir.load_config(), run_dir.saved_train_set(), run_dir.load_budget())
    run_dir.check_sources(exp.task)
    return exp


def mem_chance_text(summary: dict) -> str:
    """mem_chance as the summary prints it; an unknown population says so."""
    if GEN.tau in summary:
        return f"{summary['mem_chance']:.2e} (measured on held-out images)"
    bits = summary.get("log2_population", 0.0)
    if bits is None or not math.isfinite(bits):  # null in summary.json: unknown
        return f"{summary['mem_chance']:.2e} (population unknown: taken as 0)"
    return f"{summary['mem_chance']:.2e}"


def budget_line(record: dict) -> str:
    """How train.steps=auto sized the run, with the predicted clocks it waited for."""
    clocks = record["prediction"]["clocks"]
    predicted = "; ".join(
        f"{c} ~ {clocks[c]['median']:,.0f} [{clocks[c]['interval_95'][0]:,.0f}, {clocks[c]['interval_95'][1]:,.0f}]"
        for c in record["waits_for"]
    )
    return f"train.steps=auto: {record['steps']:,} steps, the {record['rule']} (predicted {predicted})"


def threshold_text(summary: dict, rc: RuleClock) -> str:
    """'valid >= 0.9', or where the run read it against chance validity (clocks.chance_shift)
    'valid >= 0.75 (0.5 in excess of chance validity 0.5)'."""
    theta = threshold(rc.theta, summary.get("thresholds", {}))
    chance = summary.get(CHANCE) or 0.0
    samples = int(summary.get("config", {}).get("eval", {}).get("samples", 0))
    shift = rc.shift(chance, theta, samples)
    if not shift:
        return f"{rc.curve} >= {theta:g}"
    return f"{rc.curve} >= {theta + shift:g} ({theta:g} in excess of chance validity {chance:.3g})"


def window_line(summary: dict, rc: RuleClock) -> str:
    """A rule clock's window as text, saying why when it vanished or is undefined."""
    text = window_text(summary, rc)
    if text == "vanished" and summary.get(rc.tau) is None:
        return text + f" (copying began and {rc.tau} was never reached)"
    if text == "vanished":
        return text + f" (copying starts no later than {rc.tau})"
    if text == "undefined":
        return text + f" (neither {rc.tau} nor tau_mem reached)"
    return text


def generalisation_lines(summary: dict, clock: Callable[[str], str], width: int) -> list[str]:
    """The generalisation clocks of a run on images (GEN_CLOCKS), each with its curve and
    threshold, and the windows from them to the other memorisation levels."""
    th = summary.get("thresholds", {})
    lines = []
    for gc in [gc for gc in GEN_CLOCKS if gc.tau in summary]:
        theta = threshold(gc.theta, th)
        lines.append(f"{clock(gc.tau):<44}{gc.curve} >= {theta:g} (valid relative to the held-out images')")
        for mc in [mc for mc in mem_levels()[1:] if mc.tau in summary]:
            shown = window(summary[gc.tau], summary[mc.tau], summary["max_step"])
            text = window_text({gc.key(k): v for k, v in shown.items()}, gc)
            lines.append(f"{gc.key('window')} to {mc.tau}: {text}")
    return lines


def summary_lines(summary: dict, run_dir: Path | None = None) -> list[str]:
    """The human-readable end-of-run summary: the three rule clocks (with erosion), tau_mem,
    each rule clock's window, the peaks; with `run_dir`, a few samples as text where the task
    writes its items as text (training.sample_text)."""
    m = summary["max_step"]
    th = summary.get("thresholds", {})
    width = max(len(rc.tau) for rc in RULE_CLOCKS)

    stopped = summary.get("stopped_step") is not None

    def clock(key: str) -> str:
        tau = summary[key]
        if tau is None and stopped:  # the run ended early by train.stop_at
            return f"{key:<{width}} = not reached by step {m:,} (stopped)"
        epochs = "" if tau is None else f" ({summary[f'{key}_epochs']:.1f} epochs)"
        return f"{key:<{width}} = {format_clock(tau, m)} steps{epochs}"

    lines = [
        f"task {summary['task']}  model {summary['model_family']} ({summary['num_params']:,} params)  "
        f"N={summary['N']}  seed={summary['seed']}  mem_chance={mem_chance_text(summary)}"
    ]
    for rc in RULE_CLOCKS:
        text = f"{clock(rc.tau):<44}{threshold_text(summary, rc)}"
        lost = summary.get(f"{rc.tau}_lost")
        if lost is not None:
            mem = summary.get("tau_mem")
            when = "tau_mem not reached" if mem is None else ("before" if lost < mem else "after") + " tau_mem"
            text += f"; lost at {lost:,.0f} ({rc.curve} below it again, {when})"
        lines.append(text)
    lines.append(clock(MEM.tau))
    for mc in mem_levels()[1:]:
        if mc.tau in summary:  # absent when a run's samples were not kept
            lines.append(f"{clock(mc.tau):<44}{mc.curve} - {mc.chance} >= {threshold(mc.theta, th):g}")
    lines += generalisation_lines(summary, clock, width)
    lines += [f"{rc.key('window'):<{width}} = {window_line(summary, rc)}" for rc in RULE_CLOCKS]
    lines += [f"{gc.key('window'):<{width}} = {window_line(summary, gc)}" for gc in GEN_CLOCKS if gc.tau in summary]
    peaks = [
        f"peak {c} = {summary[f'peak_{c}']:.3f} at step {summary[f'peak_{c}_step']:,}"
        for c in (*PEAK_CURVES, "novel_valid")
        if f"peak_{c}" in summary
    ]
    lines.append("; ".join(peaks))
    if stopped:
        lines.append(f"stopped at step {m:,} of {summary['steps']:,}: {summary['stop_reason']}")
    if summary.get("steps_auto"):
        lines.append(budget_line(summary["steps_auto"]))
    if run_dir is not None:
        lines += sample_lines(summary, run_dir)
    lines.append(
        f"wall {summary['wall_seconds']:.0f}s (train {summary['train_seconds']:.0f}s, "
        f"eval {summary['eval_seconds']:.0f}s = {100 * summary['eval_share']:.0f}%)"
    )
    if run_dir is not None:
        lines.append(f"run directory: {run_dir}")
    return lines


@contextlib.contextmanager
def fresh_dirs(dirs: Sequence[RunDir]) -> Iterator[None]:
    """Create `dirs` for runs that start inside the block; a fault there before any of them
    holds a checkpoint (a full disk from the start) takes back every directory made, so no
    half-started run is left behind."""
    made: list[RunDir] = []
    try:
        for d in dirs:
            d.create()
            made.append(d)
        yield
    except TwoClocksError:
        if not any(d.has_checkpoint() for d in made):
            for d in made:
                d.remove_created()
        raise
