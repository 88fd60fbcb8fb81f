"""Figures of a single run: the clock curves with tau markers and the shaded window."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: figures go to files
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from twoclocks.clocks import RULE_CLOCKS, band, mem_levels  # noqa: E402
from twoclocks.clocks.text import window_text  # noqa: E402
from twoclocks.core.io import write_figure  # noqa: E402

CURVES = (
    ("valid", "valid", "tab:blue"),
    ("mem", "mem (copies)", "tab:red"),
    ("novel_valid", "novel & valid", "tab:green"),
)
GROUP_CURVE = ("constraint_acc", "constraint_acc (per group)", "tab:purple")
WINDOW_ROW = -0.05  # the k-th rule clock's window bar lies at y = (k + 1) * this, below the curves


def plot_clocks(df: pd.DataFrame, summary: dict, path: str | Path, title: str = "") -> None:
    """The clocks figure of a run, written to `path` (PNG unless the suffix says otherwise);
    its folder (plots/ of a run, report/) is created when missing."""
    save_figure(clocks_figure(df, summary, title), path, parents=True)


def save_figure(fig: Figure, path: str | Path, parents: bool = False) -> None:
    """Write `fig` atomically (its legends outside the axes included) and release it; a
    missing folder is an error unless `parents`."""
    try:
        # The tight box from the artists' extents: savefig(bbox_inches="tight") finds the same box
        # by rasterising the whole figure once more (a quarter of a clocks figure's cost).
        box: Bbox | str = "tight"
        if isinstance(fig.canvas, FigureCanvasAgg):  # every figure here (matplotlib.use above)
            box = fig.get_tightbbox(fig.canvas.get_renderer()).padded(plt.rcParams["savefig.pad_inches"])
        write_figure(fig, path, parents, bbox_inches=box)
    finally:
        plt.close(fig)


def clocks_figure(df: pd.DataFrame, summary: dict, title: str = "") -> Figure:
    """valid / mem / novel_valid / constraint_acc vs log step with CIs; each rule clock marked
    where its curve crosses its threshold (and, x, where it is lost again); tau_mem; the
    tau_rule window shaded and every rule clock's window as a bar under the curves."""
    fig, ax = plt.subplots(figsize=(8.6, 4.6), dpi=120)
    steps = df["step"].to_numpy()
    curves = list(CURVES) + ([GROUP_CURVE] if {"constraint_acc", "samples"} <= set(df) else [])
    level = summary.get("thresholds", {}).get("ci_level", 0.95)
    for col, label, color in curves:
        ax.plot(steps, df[col], marker="o", ms=3, color=color, label=label)
        if f"{col}_lo" in df or col == "constraint_acc":
            lo, hi = band(df, col, level)
            ax.fill_between(steps, lo, hi, color=color, alpha=0.15, lw=0)
    if "mem_chance" in df:
        ax.plot(steps, df["mem_chance"], ls=":", color="tab:red", lw=1, label="mem chance")
    _near_copies(ax, df, summary, steps, level)
    th = summary.get("thresholds", {})
    for k, rc in enumerate(RULE_CLOCKS):
        y = (k + 1) * WINDOW_ROW
        color, ls, marker = rc.style
        tau, theta = summary[rc.tau], th.get(rc.theta)
        name = rc.label(th)
        shift = rc.offset(df, theta) if theta is not None else 0.0
        if shift:  # read against chance validity: the curve crosses the raised threshold
            theta, name = theta + shift, f"{name}, {theta + shift:g} against chance"
        if tau is not None:
            ax.axvline(tau, color=color, ls=ls, lw=1)
            ax.plot([tau], [theta], marker=marker, color=color, mec="black", ms=7, ls="none", label=f"{name}")
        else:
            ax.plot([], [], marker=marker, color=color, mec="black", ls="none", label=f"{name}: not reached")
        lost = summary.get(f"{rc.tau}_lost")
        if lost is not None:
            ax.plot([lost], [theta], marker="x", color=color, mew=2, ms=8, ls="none", label=f"{rc.tau} lost")
        _window_bar(ax, summary, rc, y, color, steps.max())
    tm = summary.get("tau_mem")
    if tm is not None:
        ax.axvline(tm, color="tab:red", ls="--", lw=1)
        ax.text(tm, 1.02, r"$\tau_{mem}$", color="tab:red", ha="center", transform=ax.get_xaxis_transform())
    tr = summary.get("tau_rule")
    if tr is not None and not summary.get("window_vanished"):
        right = tm if tm is not None else steps.max()
        ax.axvspan(tr, right, color="gold", alpha=0.15, label="innovation window (tau_rule)")
    ax.set_xscale("log")
    ax.set_ylim(len(RULE_CLOCKS) * WINDOW_ROW - 0.04, 1.02)
    ax.set_xlabel("training step")
    ax.set_ylabel("fraction of samples")
    ax.set_title(title, fontsize=9, pad=16)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    ax.grid(alpha=0.3, which="both")
    return fig


def _near_copies(ax, df: pd.DataFrame, summary: dict, steps, level: float) -> None:
    """The curve of each memorisation level beyond exact copies (near copies, and on images the
    ratio criterion and the loss gap), and its clock."""
    for mc in mem_levels()[1:]:
        if mc.curve not in df:
            continue
        color, ls = mc.style
        ax.plot(steps, df[mc.curve], marker=".", ms=3, lw=1, color=color, label=mc.curve)
        lo, hi = band(df, mc.curve, level)
        ax.fill_between(steps, lo, hi, color=color, alpha=0.1, lw=0)
        tau = summary.get(mc.tau)
        if tau is not None:
            ax.axvline(tau, color=color, ls=ls, lw=1, label=mc.tau)


def _window_bar(ax, summary: dict, rc, y: float, color: str, max_step: float) -> None:
    """A horizontal bar from the rule clock to tau_mem (to the last step when tau_mem is not
    reached), or the word 'vanished', so that windows of different rule clocks can be compared."""
    tau, tm = summary.get(rc.tau), summary.get("tau_mem")
    text = window_text(summary, rc)
    short = rc.key("window")
    if tau is None or summary.get(rc.key("window_vanished")):
        x = tm if tm is not None else max_step
        ax.text(x, y, f"{short}: {text}", color=color, fontsize=7, va="center", ha="right")
        return
    right = tm if tm is not None else max_step
    ax.plot([tau, right], [y, y], color=color, lw=4, solid_capstyle="butt", alpha=0.7)
    ax.text(right, y, f" {short}: {text}", color=color, fontsize=7, va="center", ha="left")


# Frame of a sample in `samples_figure`, by its outcome: (colour, legend text).
SAMPLE_FRAMES = {
    "copied": ("tab:red", "copied (a training item)"),
    "novel_valid": ("tab:green", "valid and novel"),
    "invalid": ("tab:gray", "breaks the rule"),
}


def sample_kind(valid: bool, copied: bool) -> str:
    return "copied" if copied else ("novel_valid" if valid else "invalid")


def samples_figure(cells, valid, train_match, title: str = "") -> Figure:
    """A grid of sample items (cells: (n, H, W), values 0..K-1), each framed by its outcome:
    red when it copies a training item, green when valid and novel, grey when it breaks the rule."""
    n = len(cells)
    cols = min(n, 8)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols + 1.6, 1.1 * rows + 0.5), dpi=100, squeeze=False)
    vmax = max(1, int(cells.max(initial=0)))
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= n:
            ax.axis("off")
            continue
        ax.imshow(cells[i], cmap="gray_r", vmin=0, vmax=vmax, interpolation="nearest")
        color = SAMPLE_FRAMES[sample_kind(bool(valid[i]), int(train_match[i]) >= 0)][0]
        for spine in ax.spines.values():
            spine.set_edgecolor(color)
            spine.set_linewidth(3)
    handles = [plt.Line2D([], [], color=c, lw=3, label=text) for c, text in SAMPLE_FRAMES.values()]
    fig.legend(handles=handles, loc="upper right", fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=9, x=0.02, ha="left")
    return fig
