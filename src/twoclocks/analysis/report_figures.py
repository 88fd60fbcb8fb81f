"""The figures of a sweep report (twoclocks.analysis.report): clocks vs a swept value with their
fits, the window's phase diagram, family curves and every run's clock curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from twoclocks.clocks import RULE_CLOCKS
from twoclocks.core.io import write_figure
from twoclocks.plots import CURVES
from twoclocks.sweeps.claims.fits import Fit, fit_relation, non_slicing, varied_columns, y_values
from twoclocks.training.rundir import RunDir


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    try:
        write_figure(fig, path, parents=True, dpi=110)
    finally:
        _plt().close(fig)
    return path


def _short(where: dict) -> str:
    return ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in where.items()) or "all runs"


def plot_relation(ax, df: pd.DataFrame, fits: list[Fit], y: str) -> None:
    """Runs of each slice (censored as open triangles at the last step), fit line, slope CI."""
    plt = _plt()
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, fit in enumerate(fits):
        c = colors[i % len(colors)]
        part = df.loc[fit.index]
        xs = part[fit.x].to_numpy(float)
        vals, rc, lc, bound = y_values(part, y)
        ax.plot(xs, vals, "o", color=c, ms=4, alpha=0.8)
        # Censored runs at their bound: later than the last step (^), or no later than the first evaluation (v).
        ax.plot(xs[rc], bound[rc], "^", color=c, mfc="none", ms=7)
        ax.plot(xs[lc], bound[lc], "v", color=c, mfc="none", ms=7)
        label = _short(fit.where)
        if fit.slope is not None:
            fitted = [g.x for g in fit.groups if g.used]  # draw the line where it was fitted
            grid = np.geomspace(min(fitted), max(fitted), 20)
            ax.plot(
                grid,
                fit.predict(grid),
                "-",
                color=c,
                lw=1.5,
                label=f"{label}: slope {fit.slope:.2f}"
                + ("" if fit.ci is None else f" [{fit.ci[0]:.2f}, {fit.ci[1]:.2f}]"),
            )
            for s in fit.ci or ():
                ax.plot(grid, fit.predict_slope(grid, s), ":", color=c, lw=1)
        else:
            ax.plot([], [], "o", color=c, label=f"{label}: no fit")
    ax.set_xscale("log")
    if fits and fits[0].log_y:
        ax.set_yscale("log")
    if fits:  # label the swept values themselves, not decades
        from matplotlib.ticker import NullFormatter

        ticks = sorted({float(v) for f in fits for v in df.loc[f.index, f.x]})
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(fits[0].x if fits else "")
    ax.set_ylabel(y)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)


def fig_relations(df: pd.DataFrame, x: str, ys: list[str], path: Path, title: str) -> Path | None:
    fits = {y: fit_relation(df, x, y) for y in ys}
    if not any(fits.values()):
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(ys), figsize=(5.2 * len(ys), 4), squeeze=False)
    for ax, y in zip(axes[0], ys):
        plot_relation(ax, df, fits[y], y)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def _window_value(df: pd.DataFrame) -> np.ndarray:
    v = pd.to_numeric(df["window_log10"], errors="coerce").to_numpy(float)
    return np.where(df["window_vanished"].fillna(False).astype(bool).to_numpy(), 0.0, v)


def modal_slice(df: pd.DataFrame, keep: set[str], ref: pd.DataFrame | None = None) -> tuple[pd.DataFrame, dict]:
    """Rows where every other varied config column takes its most common value (in `ref`)."""
    ref = df if ref is None else ref
    chosen = {}
    for col in varied_columns(df):
        if col in keep or col in non_slicing():
            continue
        value = ref[col].astype(str).mode().iloc[0]
        chosen[col] = value
        df = df[df[col].astype(str) == value]
    return df, chosen


def fig_phase(df: pd.DataFrame, knob: str, path: Path) -> Path | None:
    """Median window_log10 over (knob, N), one panel per family; 'vanished' = majority vanished."""
    df, _ = modal_slice(df, {knob, "data.N", "model.family"})
    if df[knob].nunique() < 2 or df["data.N"].nunique() < 2:
        return None
    plt = _plt()
    families = sorted(df["model.family"].unique())
    fig, axes = plt.subplots(1, len(families), figsize=(5 * len(families), 4), squeeze=False)
    Gs, Ns = sorted(df[knob].unique()), sorted(df["data.N"].unique())
    for ax, fam in zip(axes[0], families):
        sub = df[df["model.family"] == fam].assign(_w=lambda d: _window_value(d))
        grid = np.full((len(Gs), len(Ns)), np.nan)
        for (g, n), cell in sub.groupby([knob, "data.N"]):
            i, j = Gs.index(g), Ns.index(n)
            grid[i, j] = np.nanmedian(cell["_w"]) if cell["_w"].notna().any() else np.nan
            vanished = cell["window_vanished"].fillna(False).astype(bool).mean() > 0.5
            bound = cell["window_log10_is_lower_bound"].fillna(False).astype(bool).any()
            text = (
                "vanished"
                if vanished
                else ("n/a" if np.isnan(grid[i, j]) else f"{'≥' if bound else ''}{grid[i, j]:.2f}")
            )
            light = np.isnan(grid[i, j]) or grid[i, j] > 0.6 * max(1e-9, np.nanmax(sub["_w"].to_numpy(float)))
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="black" if light else "white")
        im = ax.imshow(np.ma.masked_invalid(grid), origin="lower", cmap="viridis", aspect="auto", vmin=0)
        ax.set_xticks(range(len(Ns)), [str(n) for n in Ns])
        ax.set_yticks(range(len(Gs)), [str(g) for g in Gs])
        ax.set_xlabel("N")
        ax.set_ylabel(knob)
        ax.set_title(f"{fam}: window (decades)", fontsize=9)
        fig.colorbar(im, ax=ax)
    fig.tight_layout()
    return _save(fig, path)


def fig_families(df: pd.DataFrame, root: Path, path: Path) -> Path | None:
    """Median valid and mem curves of each family at the N they share."""
    fams = sorted(df["model.family"].unique())
    if len(fams) < 2:
        return None
    rarest = min(fams, key=lambda f: int((df["model.family"] == f).sum()))
    df, _ = modal_slice(df, {"model.family", "data.N"}, df[df["model.family"] == rarest])
    shared = set.intersection(*(set(df.loc[df["model.family"] == f, "data.N"]) for f in fams))
    if not shared:
        return None
    plt = _plt()
    Ns = sorted(shared)
    fig, axes = plt.subplots(1, len(Ns), figsize=(5 * len(Ns), 3.8), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, n in zip(axes[0], Ns):
        for k, fam in enumerate(fams):
            rows = df[(df["model.family"] == fam) & (df["data.N"] == n)]
            curves = [RunDir(root / r).load_metrics().set_index("step") for r in rows["run_dir"]]
            if not curves:
                continue
            steps = curves[0].index  # runs of one slice share the schedule only if their budgets match
            same = [c for c in curves if c.index.equals(steps)]
            for col, ls in (("valid", "-"), ("mem", "--")):
                med = np.median(np.stack([c[col].to_numpy() for c in same]), axis=0)
                ax.plot(steps, med, ls, color=colors[k], label=f"{fam} {col} (median of {len(same)})")
        ax.set_xscale("log")
        ax.set_title(f"N={n}", fontsize=9)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def fig_small_multiples(root: Path, df: pd.DataFrame, path: Path, per_fig: int = 30) -> list[Path]:
    """Every finished run's valid / mem / novel_valid curves, 6 per row."""
    plt = _plt()
    out = []
    rows = list(df.itertuples(index=False))
    for start in range(0, len(rows), per_fig):
        chunk = rows[start : start + per_fig]
        ncol = min(6, len(chunk))
        nrow = -(-len(chunk) // ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(2.3 * ncol, 1.9 * nrow), squeeze=False, sharey=True)
        for ax, r in zip(axes.flat, chunk):
            m = RunDir(root / r.run_dir).load_metrics()
            for col, _, color in CURVES:
                ax.plot(m["step"], m[col], color=color, lw=1)
            marks = [(getattr(r, rc.tau, None), *rc.style[:2]) for rc in RULE_CLOCKS]
            for tau, color, ls in [*marks, (r.tau_mem, "tab:red", "--")]:
                if tau is not None and pd.notna(tau):
                    ax.axvline(tau, color=color, ls=ls, lw=0.8)
            ax.set_xscale("log")
            ax.set_title(r.name.rsplit("-", 1)[0], fontsize=6)
            ax.tick_params(labelsize=6)
        for ax in list(axes.flat)[len(chunk) :]:
            ax.axis("off")
        fig.tight_layout()
        out.append(_save(fig, path.with_name(f"{path.stem}_{start // per_fig + 1}.png")))
    return out
