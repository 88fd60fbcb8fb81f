"""Comparing finished runs: overlays the clock curves of several finished runs in one figure and prints a table of their
clocks, with each clock's offset from the first run's as a ratio and in decades.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from twoclocks.clocks import PRIMARY, RULE_CLOCKS, RuleClock, threshold
from twoclocks.clocks.text import format_clock, window_text
from twoclocks.config import flatten, keys_of_role
from twoclocks.core.domains import UNMODELLED
from twoclocks.core.io import write_figure
from twoclocks.errors import TwoClocksError
from twoclocks.prediction.reference import PILOT_DIR, REFERENCE_DIR, reference_curves, reference_runs, shipped_names
from twoclocks.records.recorded import task_label
from twoclocks.training.rundir import RunDir

# metric -> (line style, legend label); runs are told apart by colour.
STYLES = {"valid": ("-", "valid"), "mem": ("--", "mem (copies)"), "novel_valid": (":", "novel & valid")}


@dataclass
class Run:
    path: Path
    label: str
    metrics: pd.DataFrame  # one row per evaluation, sorted by step
    summary: dict  # summary.json


def run_label(summary: dict) -> str:
    """family + task (with its complexity knob) + N + seed, e.g. 'gpt parity G=2 N=32 seed=0':
    the rule's name and knob as the run recorded them, else as the config names them."""
    task = summary.get("config", {}).get("task", {})
    name, knob = task_label(task["name"]) if "name" in task else (summary.get("task", "?"), "")
    name, knob = summary.get("task_name") or name, summary.get("task_knob", knob)
    knob_part = f" {knob}={task[knob]}" if knob and knob in task else ""
    return f"{summary['model_family']} {name}{knob_part} N={summary['N']} seed={summary['seed']}"


def load_run(path: str | Path) -> Run:
    """A finished run directory; anything else is a one-line TwoClocksError."""
    rd = RunDir(path)
    summary, metrics = rd.load_finished()
    missing = [c for c in STYLES if c not in metrics]  # load_finished checked the summary's keys
    if missing:
        raise TwoClocksError(f"{rd}: {rd.METRICS} lacks {missing}, not a twoclocks run")
    return Run(rd.path, run_label(summary), metrics, summary)


def same_config(row: pd.Series, config: dict) -> bool:
    """Whether a reference results row is a run of `config` (any seed, budget or execution)."""
    unmodelled = keys_of_role(*UNMODELLED)
    for key, value in flatten(config).items():
        if key in unmodelled or key not in row.index:
            continue
        if row[key] != value and not (value is None and pd.isna(row[key])):
            return False
    return True


def reference_like(run: Run) -> list[Run]:
    """The shipped reference runs (or shipped pilot runs) of `run`'s config (its seed band), as
    Runs to overlay."""
    matches = []
    for name, folder in [(n, f) for f in (REFERENCE_DIR, PILOT_DIR) for n in shipped_names(f)]:
        table = reference_runs((name,), folder).table
        rows = table[[same_config(row, run.summary["config"]) for _, row in table.iterrows()]]
        if rows.empty:
            continue
        curves = reference_curves(name, folder)
        for _, row in rows.iterrows():
            summary = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            summary.update(
                N=row["data.N"], model_family=row["model.family"], config={"train": {"batch": row["train.batch"]}}
            )
            metrics = curves[curves["point"] == row["point"]].sort_values("step").reset_index(drop=True)
            matches.append(
                Run(Path(name) / str(row["run_dir"]), f"reference {name} seed={row['seed']}", metrics, summary)
            )
    if not matches:
        raise TwoClocksError(
            f"{run.path}: no shipped reference run has its config (references: {', '.join(shipped_names()) or 'none'})"
        )
    return matches


def _offset(tau: float | None, ref: float | None, max_step: int, ref_max: int) -> tuple[str, str]:
    """(ratio, decades) of tau relative to ref as text, with bounds when either is censored."""
    if tau is not None and ref is not None:
        return f"x{tau / ref:.3g}", f"{math.log10(tau / ref):+.2f}"
    if tau is None and ref is not None:  # this run's clock is later than its last step
        return f"> x{max_step / ref:.3g}", f"> {math.log10(max_step / ref):+.2f}"
    if tau is not None:  # the reference's clock is later than its last step
        return f"< x{tau / ref_max:.3g}", f"< {math.log10(tau / ref_max):+.2f}"
    return "n/a", "n/a"


def _window(s: dict, rc: RuleClock = PRIMARY) -> str:
    """The window in decades as a table cell ('n/a' when neither clock was reached)."""
    text = window_text(s, rc)
    return "n/a" if text == "undefined" else text.removesuffix(" decades")


def compare_table(runs: list[Run]) -> pd.DataFrame:
    """One row per run: clocks (censored as '> max step'), window, offsets from the first run;
    then the same for the other rule clocks (tau_rule_low, tau_group)."""
    ref = runs[0].summary
    rows = []
    for run in runs:
        s = run.summary
        m = int(s["max_step"])
        row = {
            "run": run.label,
            "params": s.get("num_params"),
            "tau_rule": format_clock(s["tau_rule"], m),
            "tau_mem": format_clock(s["tau_mem"], m),
            "window_log10": _window(s),
        }
        for clock in ("tau_rule", "tau_mem"):
            ratio, dec = _offset(s[clock], ref[clock], m, int(ref["max_step"]))
            short = clock.removeprefix("tau_")
            row[f"{short}_vs_first"], row[f"{short}_dec"] = ratio, dec
        for rc in RULE_CLOCKS[1:]:
            row[rc.tau] = format_clock(s[rc.tau], m)
            row[rc.key("window_log10")] = _window(s, rc)
            ratio, dec = _offset(s[rc.tau], ref[rc.tau], m, int(ref["max_step"]))
            short = rc.tau.removeprefix("tau_")
            row[f"{short}_vs_first"], row[f"{short}_dec"] = ratio, dec
        row["wall_s"] = None if s.get("wall_seconds") is None else round(float(s["wall_seconds"]))
        rows.append(row)
    return pd.DataFrame(rows)


def plot_compare(runs: list[Run], path: str | Path, x: str = "step") -> None:
    """valid / mem / novel_valid vs log step (or epoch) of every run, tau markers on top."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, run in enumerate(runs):
        color, df, s = colors[i % len(colors)], run.metrics, run.summary
        # epochs = step * batch / N, the same conversion the clocks use.
        scale = s["config"]["train"]["batch"] / s["N"] if x == "epoch" else 1.0
        xs = df["step"].to_numpy() * scale
        for col, (ls, _) in STYLES.items():
            ax.plot(xs, df[col], ls=ls, color=color, lw=1.4)
        th = s.get("thresholds", {})
        chance = float(s.get("mem_chance", 0.0))
        for rc in RULE_CLOCKS:  # markers where each curve crosses its threshold
            if s.get(rc.tau) is not None:
                theta = threshold(rc.theta, th)
                theta += rc.offset(df, theta)  # where the curve crosses: raised by chance validity
                marker = rc.style[2]
                ax.plot(s[rc.tau] * scale, theta, marker=marker, ms=8, color=color, mec="black", ls="none")
        if s.get("tau_mem") is not None:
            ax.plot(
                s["tau_mem"] * scale,
                threshold("theta_mem", th) + chance,
                marker="v",
                ms=9,
                color=color,
                mec="black",
                ls="none",
            )
    run_handles = [Line2D([], [], color=colors[i % len(colors)], lw=3, label=r.label) for i, r in enumerate(runs)]
    metric_handles = [Line2D([], [], color="gray", ls=ls, label=lab) for ls, lab in STYLES.values()]
    metric_handles += [
        *(
            Line2D([], [], marker=rc.style[2], color="gray", mec="black", ls="none", label=rc.label())
            for rc in RULE_CLOCKS
        ),
        Line2D([], [], marker="v", color="gray", mec="black", ls="none", label=r"$\tau_{mem}$"),
    ]
    # Legends outside the axes, so they never hide a curve.
    first = ax.legend(
        handles=run_handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, title="run", title_fontsize=7
    )
    ax.add_artist(first)
    second = ax.legend(handles=metric_handles, loc="lower left", bbox_to_anchor=(1.01, 0.0), fontsize=7)
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("training step" if x == "step" else "epoch (step x batch / N)")
    ax.set_ylabel("fraction of samples")
    ax.grid(alpha=0.3, which="both")
    try:  # into an existing folder only: the figure's path is the user's
        write_figure(fig, path, bbox_inches="tight", bbox_extra_artists=[first, second])
    finally:
        plt.close(fig)
