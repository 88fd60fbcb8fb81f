"""`twoclocks report DIR`: figures and one self-contained HTML page for a run or a sweep.

Writes DIR/report/*.png and DIR/report/index.html (figures embedded as base64 data URIs, so
the page can be mailed or archived alone). A sweep page has: the claims table (when
reproduce wrote DIR/claims.json), the fits, tau vs N with fit lines and slope CIs, tau_rule
vs the task's knob per capacity, a window phase diagram over (knob, N), DiT vs GPT curves when
both families ran, the results table, and small multiples of every run's clock curves.

Hook for other modules: append a callable to EXTRA_SECTIONS (or decorate it with
@register_section). It receives a ReportInput and returns None, one (title, html) pair or a
list of them; its html is inserted as is, so it must be self-contained. A failing hook
becomes a note on the page, not a failed report. The basins analysis is wired in this way.
"""

from __future__ import annotations

import base64
import html
import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from twoclocks.errors import TwoClocksError
from twoclocks.io import atomic_path, read_json
from twoclocks.plots import CURVES, plot_clocks
from twoclocks.sweeps.fits import (
    NON_SLICING,
    Fit,
    finished,
    fit_relation,
    fits_frame,
    knob_column,
    standard_fits,
    varied_columns,
    y_values,
)
from twoclocks.sweeps.spec import read_results, sweep_description
from twoclocks.training.rundir import RunDir
from twoclocks.training.runner import summary_lines

Section = tuple[str, str]  # (title, self-contained html)


@dataclass
class ReportInput:
    path: Path  # the run or sweep directory
    kind: str  # "run" | "sweep"
    results: pd.DataFrame | None  # results.parquet of a sweep
    run_dirs: list[Path]  # the finished runs


SectionFn = Callable[[ReportInput], "Section | list[Section] | None"]
EXTRA_SECTIONS: list[SectionFn] = []


def register_section(fn: SectionFn) -> SectionFn:
    EXTRA_SECTIONS.append(fn)
    return fn


@register_section
def basins_sections(inp: ReportInput) -> list[Section] | None:
    """The basins analysis (twoclocks.analysis.basins_report) of every directory that has a basins/ folder."""
    if importlib.util.find_spec("twoclocks.analysis.basins_report") is None:
        return None
    dirs = [d for d in dict.fromkeys([inp.path, *inp.run_dirs]) if (d / "basins").is_dir()]
    if not dirs:
        return None
    mod = importlib.import_module("twoclocks.analysis.basins_report")
    return [(f"{t} ({d.name})", h) for d in dirs for t, h in [mod.section(d)]]


# ----- html ----------------------------------------------------------------------------------------
def embed(png: Path, caption: str) -> str:
    data = base64.b64encode(png.read_bytes()).decode()
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(png.name)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def table_html(df: pd.DataFrame) -> str:
    return df.to_html(index=False, na_rep="", escape=True, float_format=lambda v: f"{v:.3g}", border=0)


CSS = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;font-size:13px}td,th{padding:2px 8px;border-bottom:1px solid #ddd}"
    "th{text-align:left}img{max-width:100%}figcaption{font-size:13px;color:#555}"
)


def page(title: str, sections: list[Section]) -> str:
    body = "".join(f"<h2>{html.escape(t)}</h2>\n{h}\n" for t, h in sections)
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>\n{body}</body></html>\n"
    )


# ----- figures -------------------------------------------------------------------------------------
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
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
        if col in keep or col in NON_SLICING:
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
    """Median valid and mem curves of each family at the N they share (DiT vs GPT)."""
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
            for tau, color in ((r.tau_rule, "tab:blue"), (r.tau_mem, "tab:red")):
                if pd.notna(tau):
                    ax.axvline(tau, color=color, ls="--", lw=0.8)
            ax.set_xscale("log")
            ax.set_title(r.name.rsplit("-", 1)[0], fontsize=6)
            ax.tick_params(labelsize=6)
        for ax in list(axes.flat)[len(chunk) :]:
            ax.axis("off")
        fig.tight_layout()
        out.append(_save(fig, path.with_name(f"{path.stem}_{start // per_fig + 1}.png")))
    return out


# ----- pages ---------------------------------------------------------------------------------------
def _clock_cell(v, censored, max_step) -> str:
    return f"> {int(max_step)}" if censored or pd.isna(v) else f"{v:,.0f}"


def results_table(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"point": df["name"], "status": df["status"]})
    for y in ("tau_rule", "tau_mem"):
        out[y] = [
            _clock_cell(v, c, m) if s == "finished" else ""
            for v, c, m, s in zip(df[y], df[f"{y}_censored"], df["max_step"], df["status"])
        ]
    out["window_log10"] = [
        "vanished" if v else ("" if pd.isna(w) else f"{'≥' if b else ''}{w:.2f}")
        for v, w, b in zip(
            df["window_vanished"].fillna(False), df["window_log10"], df["window_log10_is_lower_bound"].fillna(False)
        )
    ]
    out["wall_s"] = df["wall_seconds"].round(0)
    out["error"] = df["error"].fillna("")
    return out


def sweep_sections(root: Path, results: pd.DataFrame, out: Path) -> list[Section]:
    df = finished(results).reset_index(drop=True)
    secs: list[Section] = []
    if (root / "claims.json").is_file():
        claims = pd.DataFrame(read_json(root / "claims.json")["claims"])
        secs.append(
            (
                "Claims of the paper",
                table_html(claims[["id", "claim", "evidence", "verdict", "reason"]])
                + "<p>Decision rules: docs/sweeps.md.</p>",
            )
        )
    n_fail = int((results["status"] != "finished").sum()) if "status" in results else 0
    description = sweep_description(root)
    about = f"<p>{html.escape(description)}</p>" if description else ""
    secs.append(("Sweep", f"{about}<p>{len(results)} points, {len(df)} finished, {n_fail} failed.</p>"))
    if df.empty:
        return secs
    fits = standard_fits(df)
    if fits:
        secs.append(("Fits (censored clocks excluded, 95% bootstrap CI over seeds)", table_html(fits_frame(fits))))
    knob = knob_column(df)
    figs: list[tuple[Path | None, str, str]] = [  # (figure, section title, caption)
        (
            fig_relations(df, "data.N", ["tau_rule", "tau_mem"], out / "tau_vs_N.png", "clocks vs N"),
            "Clocks vs N",
            "tau_rule and tau_mem vs N per slice: fit (solid), lines at the slope's CI limits "
            "(dotted), censored runs as open triangles at their bound (^ later than the last step, v no later "
            "than the first evaluation).",
        ),
        (
            fig_relations(
                df,
                "data.N",
                ["tau_mem_epochs", "window_log10"],
                out / "epochs_window_vs_N.png",
                "tau_mem in epochs and the window vs N",
            ),
            "tau_mem in epochs and the window vs N",
            "tau_mem in epochs (flat if tau_mem is proportional to N) and window_log10 vs N.",
        ),
    ]
    if knob:
        figs += [
            (
                fig_relations(
                    df, knob, ["tau_rule", "tau_mem"], out / "tau_vs_knob.png", f"clocks vs {knob} per capacity"
                ),
                f"Clocks vs {knob} per capacity",
                f"tau_rule and tau_mem vs {knob}, one slice per capacity (depth/width/family/N).",
            ),
            (
                fig_phase(df, knob, out / "phase.png"),
                f"Phase diagram of the window over ({knob}, N)",
                f"Median window_log10 over ({knob}, N); 'vanished' where most runs have tau_mem <= tau_rule, "
                "≥ where tau_mem is right-censored (a lower bound).",
            ),
        ]
    for x in ("model.depth", "model.width"):
        figs.append(
            (
                fig_relations(df, x, ["tau_rule"], out / f"tau_rule_vs_{x.split('.')[1]}.png", f"tau_rule vs {x}"),
                f"tau_rule vs {x}",
                f"tau_rule vs {x}, per slice.",
            )
        )
    figs.append(
        (
            fig_families(df, root, out / "families.png"),
            "DiT vs GPT",
            "Median valid (solid) and mem (dashed) curves per model family at each shared N.",
        )
    )
    for png, title, caption in figs:
        if png is not None:
            secs.append((title, embed(png, caption)))
    secs.append(("Results", table_html(results_table(results))))
    pngs = fig_small_multiples(root, df, out / "runs.png")
    secs.append(
        (
            "Clock curves of every run",
            "".join(
                embed(p, "valid (blue), mem (red), novel & valid (green); dashed: tau_rule, tau_mem") for p in pngs
            ),
        )
    )
    return secs


def run_sections(root: Path, out: Path) -> list[Section]:
    summary, metrics = RunDir(root).load_finished()
    png = out / "clocks.png"
    plot_clocks(
        metrics,
        summary,
        png,
        f"{summary.get('model_family')} on {summary.get('task')}, N={summary.get('N')}, seed={summary.get('seed')}",
    )
    text = "<pre>" + html.escape("\n".join(summary_lines(summary, root))) + "</pre>"
    cols = [c for c in ("step", "valid", "mem", "novel_valid", "unique_novel_valid", "loss") if c in metrics]
    return [
        ("Summary", text),
        ("Clocks", embed(png, "valid, mem, novel & valid vs step; window shaded")),
        ("Evaluations", table_html(metrics[cols])),
    ]


def build_report(path: str | Path) -> Path:
    """Write DIR/report/index.html (and its PNGs) for a run or sweep directory."""
    root = Path(path)
    out = root / "report"
    if (root / "results.parquet").is_file():
        results = read_results(root)
        run_dirs = [root / r for r in finished(results)["run_dir"]]
        inp = ReportInput(root, "sweep", results, run_dirs)
        title = f"twoclocks sweep {root.name}"
        sections = sweep_sections(root, results, out)
    elif RunDir(root).exists() or RunDir(root).summary_path.is_file():  # a run, finished or not
        inp = ReportInput(root, "run", None, [root])
        title = f"twoclocks run {root.name}"
        sections = run_sections(root, out)
    else:
        raise TwoClocksError(f"{root}: neither a finished run (summary.json) nor a sweep (results.parquet)")
    for fn in EXTRA_SECTIONS:
        try:
            extra = fn(inp)
        except Exception as exc:  # a broken add-on must not cost the whole report
            extra = (
                getattr(fn, "__name__", "extra section"),
                f"<p>this section failed: {html.escape(type(exc).__name__)}: {html.escape(str(exc))}</p>",
            )
        if extra:
            sections += extra if isinstance(extra, list) else [extra]
    index = out / "index.html"
    with atomic_path(index) as tmp:
        tmp.write_text(page(title, sections))
    return index
