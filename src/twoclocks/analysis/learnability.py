"""The learnability map figure: log10 of the rule clock over the task's knob (x) and depth (y),
one panel per tokenisation; cells not learned within the budget are hatched and read "> S"."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from twoclocks.plots import save_figure  # noqa: E402


def plot_learnability(table: pd.DataFrame, path: str | Path, clock: str = "tau_rule") -> Path:
    """Heat maps of `learnability_table` rows; returns the path written."""
    toks = sorted(table["tokenisation"].unique())
    finite = table["median"].dropna()
    lo, hi = (math.log10(finite.min()), math.log10(finite.max())) if len(finite) else (1.0, 4.0)
    hi = max(hi, lo + 0.5)
    fig, axes = plt.subplots(1, len(toks), figsize=(3.6 * len(toks) + 1.2, 3.4), dpi=120, squeeze=False)
    image = None
    for ax, tok in zip(axes[0], toks):
        part = table[table["tokenisation"] == tok]
        xs, ys = sorted(part["value"].unique()), sorted(part["depth"].unique())
        grid = np.full((len(ys), len(xs)), np.nan)
        for _, r in part.iterrows():
            i, j = ys.index(r["depth"]), xs.index(r["value"])
            if r["median"] is not None and not pd.isna(r["median"]):
                grid[i, j] = math.log10(r["median"])
        image = ax.imshow(grid, origin="lower", cmap="viridis", vmin=lo, vmax=hi, aspect="auto")
        for _, r in part.iterrows():
            i, j = ys.index(r["depth"]), xs.index(r["value"])
            learned = r["median"] is not None and not pd.isna(r["median"])
            if not learned:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=True, fc="0.85", hatch="//", ec="0.5"))
            text = f"{r['median']:,.0f}" if learned else f"> {r['budget']:,}"
            ax.text(
                j,
                i,
                f"{text}\n{r['learned_runs']}/{r['runs']}",
                ha="center",
                va="center",
                fontsize=7,
                # dark text on the bright end of the colour map, light text on the dark end
                color="white" if learned and (grid[i, j] - lo) / (hi - lo) < 0.6 else "black",
            )
        ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs])
        ax.set_yticks(range(len(ys)), [str(d) for d in ys])
        ax.set_xlabel(str(part["knob"].iloc[0]))
        ax.set_ylabel("model.depth")
        Ns = sorted({n for ns in part["N"] for n in ns})
        ax.set_title(f"{tok}; N={','.join(map(str, Ns))}", fontsize=8)
    if image is not None:
        fig.colorbar(image, ax=axes[0].tolist(), label=f"log10 {clock} (median over seeds)")
    fig.suptitle(f"learnability: {clock}; hatched = not learned by most seeds within the budget", fontsize=9)
    save_figure(fig, path, parents=True)
    return Path(path)
