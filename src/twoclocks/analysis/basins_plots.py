"""Figures of a basin analysis (`twoclocks basins`); how to read them is in docs/basins.md.

- basin_vs_step.png: basin size per vertex set vs training step at one sigma, with tau_rule and
  tau_mem; beside it, where the held-out vertices end up at that sigma.
- basin_vs_sigma.png: basin size vs sigma, one panel per set, one line per checkpoint.
- loss_gap.png: per-sigma loss gaps (invalid - held-out, held-out - train) over (step, sigma).
- explained_variance.png: EV of each checkpoint's denoiser against each reference vs sigma.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: figures go to files
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from twoclocks.core.io import write_figure  # noqa: E402

SET_COLORS = {"train": "tab:red", "heldout": "tab:green", "invalid": "tab:gray"}
OUTCOME_COLORS = {
    "frac_self": "tab:green",
    "frac_other_train": "tab:red",
    "frac_novel_valid": "tab:blue",
    "frac_invalid": "tab:gray",
}
REF_STYLE = {"population": ("k", "--"), "empirical": ("tab:purple", ":")}


def plot_all(out: Path, basins: pd.DataFrame, losses: pd.DataFrame, evs: pd.DataFrame, summary: dict) -> list[Path]:
    """Write every figure into `out`; returns their paths. Tables as written by run_basins."""
    figures = {
        "basin_vs_step.png": (basin_vs_step, basins),
        "basin_vs_sigma.png": (basin_vs_sigma, basins),
        "loss_gap.png": (loss_gap, losses),
        "explained_variance.png": (explained_variance, evs),
    }
    for name, (draw, table) in figures.items():
        _save(draw(table, summary), out / name)
    return [out / name for name in figures]


def _checkpoint_rows(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["step"].notna()].assign(step=lambda d: d["step"].astype(int))


def _mark_clocks(ax, summary: dict) -> None:
    """Vertical lines at tau_rule and tau_mem (when reached) on a log-step axis, plain step labels."""
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    for key, color, text in (("tau_rule", "tab:blue", r"$\tau_{rule}$"), ("tau_mem", "tab:red", r"$\tau_{mem}$")):
        if summary.get(key):
            ax.axvline(summary[key], color=color, ls="--", lw=1)
            ax.text(
                summary[key],
                1.01,
                text,
                color=color,
                ha="center",
                va="bottom",
                fontsize=8,
                transform=ax.get_xaxis_transform(),
            )


def _step_colors(steps: list[int]):
    """viridis by log step, so early checkpoints are dark and late ones yellow."""
    logs = np.log(np.asarray(steps, float))
    span = max(logs.max() - logs.min(), 1e-9)
    return {s: plt.cm.viridis((lg - logs.min()) / span) for s, lg in zip(steps, logs)}


def basin_vs_step(basins: pd.DataFrame, summary: dict):
    sigma = summary["plot_sigma"]
    at = basins[np.isclose(basins["sigma"], sigma)]
    ck = _checkpoint_rows(at).sort_values("step")
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4), dpi=110)
    for name, color in SET_COLORS.items():
        rows = ck[ck["set"] == name]
        ax.plot(rows["step"], rows["basin_size"], marker="o", ms=4, color=color, label=name)
        for ref, (_, ls) in REF_STYLE.items():
            val = at[(at["checkpoint"] == ref) & (at["set"] == name)]["basin_size"]
            if len(val):
                ax.axhline(float(val.iloc[0]), color=color, ls=ls, lw=0.8, alpha=0.7)
    ax.set(xscale="log", ylim=(-0.02, 1.02), xlabel="training step", ylabel="basin size (fraction back to itself)")
    ax.set_title(f"basin size at sigma={sigma:g}  (dashed: population, dotted: empirical)", fontsize=9, pad=14)
    ax.legend(fontsize=8, loc="center left")
    held = ck[ck["set"] == "heldout"]
    ax2.stackplot(
        held["step"],
        *[held[c] for c in OUTCOME_COLORS],
        colors=list(OUTCOME_COLORS.values()),
        labels=[c.removeprefix("frac_").replace("_", " ") for c in OUTCOME_COLORS],
        alpha=0.8,
    )
    ax2.set(xscale="log", ylim=(0, 1), xlabel="training step", ylabel="fraction of held-out trajectories")
    ax2.set_title(f"where held-out valid vertices go at sigma={sigma:g}", fontsize=9, pad=14)
    ax2.legend(fontsize=7, loc="lower left")
    for a in (ax, ax2):
        _mark_clocks(a, summary)
        a.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def basin_vs_sigma(basins: pd.DataFrame, summary: dict):
    ck = _checkpoint_rows(basins)
    colors = _step_colors(sorted(ck["step"].unique()))
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), dpi=110, sharey=True)
    for ax, name in zip(axes, SET_COLORS):
        for step, rows in ck[ck["set"] == name].groupby("step"):
            rows = rows.sort_values("sigma")
            ax.plot(rows["sigma"], rows["basin_size"], marker=".", color=colors[step], label=f"step {step}")
        for ref, (color, ls) in REF_STYLE.items():
            rows = basins[(basins["checkpoint"] == ref) & (basins["set"] == name)].sort_values("sigma")
            if len(rows):
                ax.plot(rows["sigma"], rows["basin_size"], color=color, ls=ls, lw=2, label=ref)
        ax.axhline(0.5, color="k", lw=0.5)
        ax.set(xscale="log", ylim=(-0.02, 1.02), xlabel="sigma", title=f"{name} vertices")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("basin size")
    axes[-1].legend(fontsize=6, loc="upper right", ncol=1)
    fig.tight_layout()
    return fig


def loss_gap(losses: pd.DataFrame, summary: dict):
    ck = _checkpoint_rows(losses)
    grid = ck.pivot_table(index="sigma", columns=["set", "step"], values="loss")
    steps = np.asarray(sorted(ck["step"].unique()), float)
    sigmas = np.asarray(grid.index, float)
    gaps = (
        ("invalid", "heldout", "loss(invalid) - loss(held-out): rule learned where > 0"),
        ("heldout", "train", "loss(held-out) - loss(train): memorisation where > 0"),
    )
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), dpi=110)
    for ax, (a, b, title) in zip(axes, gaps):
        gap = (grid[a] - grid[b])[steps.astype(int)].to_numpy()  # (sigma, step)
        lim = float(np.nanmax(np.abs(gap))) or 1.0
        mesh = ax.pcolormesh(_edges(steps), _edges(sigmas), gap, cmap="RdBu_r", vmin=-lim, vmax=lim, shading="flat")
        fig.colorbar(mesh, ax=ax, label="EDM-weighted loss gap")
        ax.set(xscale="log", yscale="log", xlabel="training step", ylabel="sigma")
        ax.set_title(title, fontsize=9, pad=14)
        _mark_clocks(ax, summary)
    fig.tight_layout()
    return fig


def explained_variance(evs: pd.DataFrame, summary: dict):
    """Rows: EV at noisy held-out points (where the references disagree: the population keeps the
    item, the empirical denoiser pulls it to a training item) and at noisy training points."""
    refs = [r for r in REF_STYLE if r in set(evs["ref"])]
    fig, axes = plt.subplots(2, max(1, len(refs)), figsize=(5.5 * max(1, len(refs)), 7), dpi=110, squeeze=False)
    ck = _checkpoint_rows(evs)
    colors = _step_colors(sorted(ck["step"].unique())) if len(ck) else {}
    for row, points in zip(axes, ("heldout", "train")):
        for ax, ref in zip(row, refs):
            rows = evs[(evs["ref"] == ref) & (evs["set"] == points)]
            for label, grp in rows.groupby("checkpoint", sort=False):
                grp = grp.sort_values("sigma")
                if grp["step"].notna().all():
                    step = int(grp["step"].iloc[0])
                    ax.plot(grp["sigma"], grp["ev"], marker=".", color=colors[step], label=f"step {step}")
                else:
                    color, ls = REF_STYLE[label]
                    ax.plot(grp["sigma"], grp["ev"], color=color, ls=ls, lw=2, label=f"{label} (reference)")
            ax.set(xscale="log", ylim=(-0.5, 1.02), xlabel="sigma", ylabel="explained variance")
            ax.set_title(f"EV against the {ref} denoiser, at noisy {points} points (clipped at -0.5)", fontsize=9)
            ax.grid(alpha=0.3, which="both")
    for ax in axes[0]:
        ax.legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    return fig


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges for a log axis: geometric midpoints, extended half a step at each end."""
    c = np.asarray(centres, float)
    if len(c) == 1:
        return np.array([c[0] / 1.5, c[0] * 1.5])
    mid = np.sqrt(c[1:] * c[:-1])
    return np.concatenate([[c[0] ** 2 / mid[0]], mid, [c[-1] ** 2 / mid[-1]]])


def _save(fig, path: Path) -> None:
    try:
        write_figure(fig, path, parents=True)
    finally:
        plt.close(fig)
