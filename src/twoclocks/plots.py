"""Figures of a single run: the clock curves with tau markers and the shaded window."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: figures go to files
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from twoclocks.io import atomic_path  # noqa: E402

CURVES = (
    ("valid", "valid", "tab:blue"),
    ("mem", "mem (copies)", "tab:red"),
    ("novel_valid", "novel & valid", "tab:green"),
)


def plot_clocks(df: pd.DataFrame, summary: dict, path: str | Path, title: str = "") -> None:
    """The clocks figure of a run, written to `path` (PNG unless the suffix says otherwise)."""
    save_figure(clocks_figure(df, summary, title), path)


def save_figure(fig: Figure, path: str | Path) -> None:
    """Write `fig` atomically and release it."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png")
    plt.close(fig)


def clocks_figure(df: pd.DataFrame, summary: dict, title: str = "") -> Figure:
    """valid / mem / novel_valid vs log step with CIs, tau markers and the shaded window."""
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    steps = df["step"].to_numpy()
    for col, label, color in CURVES:
        ax.plot(steps, df[col], marker="o", ms=3, color=color, label=label)
        if f"{col}_lo" in df:
            ax.fill_between(steps, df[f"{col}_lo"], df[f"{col}_hi"], color=color, alpha=0.15, lw=0)
    if "mem_chance" in df:
        ax.plot(steps, df["mem_chance"], ls=":", color="tab:red", lw=1, label="mem chance")
    tr, tm = summary.get("tau_rule"), summary.get("tau_mem")
    if tr is not None:
        ax.axvline(tr, color="tab:blue", ls="--", lw=1)
        ax.text(tr, 1.02, r"$\tau_{rule}$", color="tab:blue", ha="center", transform=ax.get_xaxis_transform())
    if tm is not None:
        ax.axvline(tm, color="tab:red", ls="--", lw=1)
        ax.text(tm, 1.02, r"$\tau_{mem}$", color="tab:red", ha="center", transform=ax.get_xaxis_transform())
    if tr is not None and not summary.get("window_vanished"):
        right = tm if tm is not None else steps.max()
        ax.axvspan(tr, right, color="gold", alpha=0.15, label="innovation window")
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("training step")
    ax.set_ylabel("fraction of samples")
    ax.set_title(title, fontsize=9, pad=16)
    ax.legend(loc="center left", fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig
