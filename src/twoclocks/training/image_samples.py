"""plots/samples.png of a run on images: at a few chosen evaluations, the first samples (the
same fixed noise at every step, so a row shows how one draw changes with training), each
beside its nearest training image (L2 on grey levels), framed by what it is: an exact copy,
a near copy, recognisable and new, or not recognisable."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from twoclocks.clocks import GEN, mem_levels
from twoclocks.evaluate import NEAR_HAMMING, Outcomes, load_outcomes
from twoclocks.plots import save_figure
from twoclocks.training.rundir import RunDir

SHOWN_SAMPLES = 8  # samples per row
SHOWN_STEPS = 5  # rows, at most
FRAMES = {  # a sample's frame by its outcome: (colour, legend text), checked in this order
    "copy": ("tab:red", "exact copy of a training image"),
    "near": ("tab:orange", f"within {NEAR_HAMMING} cell of one"),
    "new": ("tab:green", "recognisable and new"),
    "unrecognised": ("tab:gray", "not recognisable"),
}


def chosen_steps(steps: list[int], marks: list[float | None], count: int = SHOWN_STEPS) -> list[int]:
    """Up to `count` evaluation steps: the first evaluation at or after each clock in `marks`
    (when reached), the last, and evenly spaced others, in step order."""
    steps = sorted(steps)
    picked = {steps[-1]}
    for mark in marks:
        after = [s for s in steps if mark is not None and s >= mark]
        if after:
            picked.add(after[0])
    for i in np.linspace(0, len(steps) - 1, count).round().astype(int):
        if len(picked) >= count:
            break
        picked.add(steps[int(i)])
    return sorted(picked)


def nearest_items(cells: np.ndarray, train_cells: np.ndarray) -> np.ndarray:
    """uint8 (M, H, W), (N, H, W) -> int64 (M,): the index of each sample's nearest training item
    in L2 on grey levels (the first on ties)."""
    q = torch.as_tensor(cells.reshape(len(cells), -1), dtype=torch.float64)
    t = torch.as_tensor(train_cells.reshape(len(train_cells), -1), dtype=torch.float64)
    return torch.cdist(q, t).argmin(dim=1).numpy()


def frame_of(out: Outcomes, i: int) -> str:
    if out.train_match[i] >= 0:
        return "copy"
    if out.nn_hamming[i] <= NEAR_HAMMING:
        return "near"
    return "new" if out.valid[i] else "unrecognised"


def samples_grid(rows: list[tuple[int, Outcomes]], train_cells: np.ndarray, levels: int, title: str = "") -> Figure:
    """One row per (step, outcomes): SHOWN_SAMPLES pairs (sample, its nearest training image)."""
    n = min(SHOWN_SAMPLES, min(len(out.cells) for _, out in rows))
    fig, axes = plt.subplots(len(rows), 2 * n, figsize=(0.75 * 2 * n + 1.2, 0.9 * len(rows) + 0.9), squeeze=False)
    for r, (step, out) in enumerate(rows):
        near = nearest_items(out.cells[:n], train_cells)
        for i in range(n):
            pair = axes[r, 2 * i], axes[r, 2 * i + 1]
            pair[0].imshow(out.cells[i], cmap="gray", vmin=0, vmax=levels - 1, interpolation="nearest")
            pair[1].imshow(train_cells[near[i]], cmap="gray", vmin=0, vmax=levels - 1, interpolation="nearest")
            for ax, color in zip(pair, (FRAMES[frame_of(out, i)][0], "white")):
                ax.set_xticks([])
                ax.set_yticks([])
                for spine in ax.spines.values():
                    spine.set_edgecolor(color)
                    spine.set_linewidth(2.5)
        axes[r, 0].set_ylabel(f"step {step:,}", fontsize=8)
    handles = [plt.Line2D([], [], color=c, lw=3, label=text) for c, text in FRAMES.values()]
    fig.legend(handles=handles, loc="lower center", ncol=len(FRAMES), fontsize=7, frameon=False)
    fig.suptitle(f"{title}\neach sample (framed) beside its nearest training image", fontsize=9)
    return fig


def write_samples_plot(run_dir: RunDir, train_cells: np.ndarray, levels: int, summary: dict, title: str) -> bool:
    """Draw plots/samples.png of a run from its saved samples, at the first evaluations after its
    generalisation and memorisation clocks among others; False when no evaluation kept them."""
    files = dict(run_dir.sample_files())
    if not files:
        return False
    marks = [summary.get(c) for c in (GEN.tau, *(mc.tau for mc in mem_levels()))]
    rows = [(s, load_outcomes(files[s])) for s in chosen_steps(list(files), marks)]
    save_figure(samples_grid(rows, train_cells, levels, title), run_dir.samples_plot, parents=True)
    return True
