"""`twoclocks report DIR`: figures and one self-contained HTML page for a run or a sweep.

Writes DIR/report/*.png and DIR/report/index.html (figures embedded as base64 data URIs, so
the page can be mailed or archived alone). A sweep page has: the claims table (when
reproduce wrote DIR/claims.json), the fits, tau vs N with fit lines and slope CIs, tau_rule
vs the task's knob per capacity, a window phase diagram over (knob, N), the curves of each
model family when several ran, the results table, and small multiples of every run's clock curves. The
claims table shows each claim's verdict at every rule clock (report_claims.py); the figures are
drawn by report_figures.py.

Hook for other modules: append a callable to EXTRA_SECTIONS (or decorate it with
@register_section). It receives a ReportInput and returns None, one (title, html) pair or a
list of them; its html is inserted as is, so it must be self-contained. A failing hook
becomes a note on the page, not a failed report. The basins analysis is wired in this way.
"""

from __future__ import annotations

import html
import importlib
import importlib.util
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from twoclocks.analysis.learnability import plot_learnability
from twoclocks.analysis.pages import Section, embed, page, table_html
from twoclocks.analysis.report_claims import claims_html
from twoclocks.analysis.report_figures import fig_families, fig_phase, fig_relations, fig_small_multiples
from twoclocks.clocks import RULE_CLOCKS
from twoclocks.core.io import read_json, write_text
from twoclocks.core.paths import check_no_links
from twoclocks.core.staging import staged_folder
from twoclocks.errors import ReadNote, TwoClocksError
from twoclocks.plots import plot_clocks
from twoclocks.records.formats import rule_clocks_of
from twoclocks.sweeps.claims.fits import (
    finished,
    fits_frame,
    knob_column,
    mem_levels_in,
    standard_fits,
)
from twoclocks.sweeps.claims.learnability import depth_extends_range, learnability_table, varies_knob_and_depth
from twoclocks.sweeps.claims.learned import map_runs
from twoclocks.sweeps.results import read_results
from twoclocks.sweeps.spec import pending_points, sweep_description
from twoclocks.sweeps.sweepdir import SweepDir
from twoclocks.training.rundir import RunDir
from twoclocks.training.runner import summary_lines
from twoclocks.training.sample_text import shown_samples


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


@register_section
def sample_text_section(inp: ReportInput) -> Section | None:
    """A sweep's samples as text, one row per run whose task writes its items as text (a run's
    page has them in its summary)."""
    if inp.kind != "sweep":
        return None
    rows = []
    for d in inp.run_dirs:
        summary = RunDir(d).load_summary() or {}
        shown = shown_samples(summary, d)
        if shown is not None:
            novel = f"({shown.novel_distinct}) {', '.join(shown.novel)}"
            copies = f"({shown.copies_distinct}) {', '.join(shown.copies)}"
            rows.append({"run": d.name, "step": shown.step, "at": shown.at, "novel valid": novel, "copies": copies})
    if not rows:
        return None
    caption = (
        "<p>Each run's samples at the first evaluation at or after tau_mem (the last when it was not "
        "reached): distinct novel valid items and distinct copies, with their counts.</p>"
    )
    return "Samples as text", caption + table_html(pd.DataFrame(rows))


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
    for rc in rule_clocks_of(df.columns):
        if rc.tau not in out:  # tau_rule is above
            out[rc.tau] = [
                _clock_cell(v, c, m) if s == "finished" else ""
                for v, c, m, s in zip(df[rc.tau], df[f"{rc.tau}_censored"], df["max_step"], df["status"])
            ]
    for mc in mem_levels_in(df)[1:]:
        out[mc.tau] = [
            _clock_cell(v, c, m) if s == "finished" else ""
            for v, c, m, s in zip(df[mc.tau], df[f"{mc.tau}_censored"], df["max_step"], df["status"])
        ]
    for rc in rule_clocks_of(df.columns):
        out[rc.key("window_log10")] = [
            "vanished" if v else ("" if pd.isna(w) else f"{'≥' if b else ''}{w:.2f}")
            for v, w, b in zip(
                df[rc.key("window_vanished")].fillna(False),
                df[rc.key("window_log10")],
                df[rc.key("window_log10_is_lower_bound")].fillna(False),
            )
        ]
    out["wall_s"] = df["wall_seconds"].round(0)
    out["error"] = df["error"].fillna("")
    return out


def learnability_sections(df: pd.DataFrame, out: Path) -> list[Section]:
    """The learnability map of a sweep that varies its main task's knob and model.depth: one
    heat map per rule clock (learnability.png is tau_rule's) and the cells as a table."""
    main = df[df["task"] == df["task"].value_counts().idxmax()] if "task" in df and len(df) else df
    if not varies_knob_and_depth(main):
        return []
    runs = map_runs(main, str(knob_column(main)))
    secs: list[Section] = []
    for rc in [rc for rc in RULE_CLOCKS if rc.tau in runs]:
        suffix = rc.tau.removeprefix("tau_rule").removeprefix("tau")
        table = learnability_table(runs, rc.tau)
        png = plot_learnability(table, out / f"learnability{suffix}.png", rc.tau)
        verdict, why = depth_extends_range(table)
        caption = (
            f"log10 {rc.tau} (median over seeds) per knob and depth; hatched cells were not reached by most "
            f"seeds within the budget (> the budget in steps). Depth extends the learnable range: {verdict} ({why})."
        )
        secs.append((f"Learnability map ({rc.tau})", embed(png, caption)))
    cells = learnability_table(runs).drop(columns=["knob"])
    secs.append(("Learnability cells (tau_rule)", table_html(cells)))
    return secs


@dataclass(frozen=True)
class Figure:
    """A figure of the sweep page (None when the sweep has nothing to show in it)."""

    png: Path | None
    title: str
    caption: str


def sweep_sections(root: Path, results: pd.DataFrame, out: Path) -> list[Section]:
    df = finished(results).reset_index(drop=True)
    secs = overview_sections(root, results, len(df))
    if df.empty:
        return secs
    fits = standard_fits(df)
    if fits:
        secs.append(("Fits (censored clocks excluded, 95% bootstrap CI over seeds)", table_html(fits_frame(fits))))
    secs += learnability_sections(df, out)
    figs = n_figures(df, out) + rule_clock_figures(df, out) + knob_figures(df, out) + capacity_figures(df, out)
    figs.append(family_figure(df, root, out))
    secs += [(f.title, embed(f.png, f.caption)) for f in figs if f.png is not None]
    secs.append(("Results", table_html(results_table(results))))
    caption = (
        "valid (blue), mem (red), novel & valid (green); lines: tau_rule (blue dashed), tau_rule_low "
        "(cyan dotted), tau_group (purple dash-dot), tau_mem (red dashed)"
    )
    pngs = fig_small_multiples(root, df, out / "runs.png")
    secs.append(("Clock curves of every run", "".join(embed(p, caption) for p in pngs)))
    return secs


def overview_sections(root: Path, results: pd.DataFrame, n_finished: int) -> list[Section]:
    """The claims table (when reproduce wrote claims.json) and the sweep's description and counts."""
    secs: list[Section] = []
    if SweepDir(root).claims.is_file():
        secs.append(("Claims of the paper", claims_html(read_json(SweepDir(root).claims)["claims"])))
    n_fail = int((results["status"] != "finished").sum()) if "status" in results else 0
    description = sweep_description(root)
    about = f"<p>{html.escape(description)}</p>" if description else ""
    secs.append(("Sweep", f"{about}<p>{html.escape(progress_text(root, results, n_finished, n_fail))}</p>"))
    return secs


def progress_text(root: Path, results: pd.DataFrame, n_finished: int, n_fail: int) -> str:
    """'12 points, 10 finished, 2 failed.', and what is pending when the sweep is incomplete."""
    pending = pending_points(root, set(results["point"]) if "point" in results else set())
    text = f"{len(results) + pending} points, {n_finished} finished, {n_fail} failed"
    if not pending:
        return text + "."
    return (
        f"{text}, {pending} pending: the sweep is incomplete (still running, or stopped: "
        f"`twoclocks sweep --out {root}` continues it), and this report shows the finished points."
    )


def n_figures(df: pd.DataFrame, out: Path) -> list[Figure]:
    return [
        Figure(
            fig_relations(df, "data.N", ["tau_rule", "tau_mem"], out / "tau_vs_N.png", "clocks vs N"),
            "Clocks vs N",
            "tau_rule and tau_mem vs N per slice: fit (solid), lines at the slope's CI limits "
            "(dotted), censored runs as open triangles at their bound (^ later than the last step, v no later "
            "than the first evaluation).",
        ),
        Figure(
            fig_relations(
                df, "data.N", ["tau_mem_epochs", "window_log10"], out / "epochs_window_vs_N.png", EPOCHS_WINDOW
            ),
            EPOCHS_WINDOW,
            "tau_mem in epochs (flat if tau_mem is proportional to N) and window_log10 vs N.",
        ),
    ]


EPOCHS_WINDOW = "tau_mem in epochs and the window vs N"


def rule_clock_figures(df: pd.DataFrame, out: Path) -> list[Figure]:
    """Every rule clock against N and the knob, when the table has more than tau_rule."""
    rules = [rc.tau for rc in rule_clocks_of(df.columns)]
    if len(rules) < 2:
        return []
    knob = knob_column(df)
    return [
        Figure(
            fig_relations(
                df, x, rules, out / f"rule_clocks_vs_{name.rsplit('.', 1)[-1]}.png", f"rule clocks vs {name}"
            ),
            f"The rule clocks vs {name}",
            f"{', '.join(rules)} vs {name} per slice: tau_rule at valid >= theta_rule, tau_rule_low at "
            "valid >= theta_rule_low, tau_group at constraint_acc >= theta_group (docs/protocol.md).",
        )
        for x, name in [("data.N", "N")] + ([(knob, knob)] if knob else [])
    ]


def knob_figures(df: pd.DataFrame, out: Path) -> list[Figure]:
    knob = knob_column(df)
    if not knob:
        return []
    return [
        Figure(
            fig_relations(df, knob, ["tau_rule", "tau_mem"], out / "tau_vs_knob.png", f"clocks vs {knob} per capacity"),
            f"Clocks vs {knob} per capacity",
            f"tau_rule and tau_mem vs {knob}, one slice per capacity (depth/width/family/N).",
        ),
        Figure(
            fig_phase(df, knob, out / "phase.png"),
            f"Phase diagram of the window over ({knob}, N)",
            f"Median window_log10 over ({knob}, N); 'vanished' where most runs have tau_mem <= tau_rule, "
            "≥ where tau_mem is right-censored (a lower bound).",
        ),
    ]


def capacity_figures(df: pd.DataFrame, out: Path) -> list[Figure]:
    return [
        Figure(
            fig_relations(df, x, ["tau_rule"], out / f"tau_rule_vs_{x.split('.')[1]}.png", f"tau_rule vs {x}"),
            f"tau_rule vs {x}",
            f"tau_rule vs {x}, per slice.",
        )
        for x in ("model.depth", "model.width")
    ]


def family_figure(df: pd.DataFrame, root: Path, out: Path) -> Figure:
    fams = sorted(df["model.family"].dropna().unique()) if "model.family" in df else []
    return Figure(
        fig_families(df, root, out / "families.png"),
        " vs ".join(fams) if fams else "Model families",
        "Median valid (solid) and mem (dashed) curves per model family at each shared N.",
    )


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
    cols = [
        c
        for c in ("step", "valid", "constraint_acc", "mem", "novel_valid", "unique_novel_valid", "loss")
        if c in metrics
    ]
    return [
        ("Summary", text),
        (
            "Clocks",
            embed(
                png,
                "valid, mem, novel & valid, constraint_acc vs step; each rule clock marked where its curve "
                "crosses its threshold (x where it is lost again); the tau_rule window shaded; bars: the window "
                "of each rule clock",
            ),
        ),
        *samples_section(RunDir(root).samples_plot),
        ("Evaluations", table_html(metrics[cols])),
    ]


def samples_section(png: Path) -> list[Section]:
    """A run on images: its samples at chosen steps beside their nearest training images."""
    caption = "samples at chosen steps (same noise in every row), each beside its nearest training image"
    return [("Samples", embed(png, caption))] if png.is_file() else []


def build_report(path: str | Path) -> Path:
    """Write DIR/report/index.html (and its PNGs) for a run or sweep directory, whole or not at
    all (`core.staging`): a report that fails (a damaged run) leaves the previous one as it was
    and no partial files."""
    root = Path(path)
    out = SweepDir(root).report
    check_no_links(root, out.name)
    with staged_folder(out) as staging:
        title, sections = report_sections(root, staging)
        write_text(staging / "index.html", page(title, sections), parents=True)
    return out / "index.html"


def report_sections(root: Path, out: Path) -> tuple[str, list[Section]]:
    """The title and sections of the report of a run or sweep directory, its figures written
    into `out`."""
    if SweepDir(root).results.is_file():
        results = read_results(root)
        run_dirs = [root / r for r in finished(results)["run_dir"]]
        lost = [d for d in run_dirs if not d.is_dir()]
        if lost:
            raise TwoClocksError(
                f"{root}: {len(lost)} point(s) recorded as finished are missing "
                f"({lost[0].relative_to(root)}); `twoclocks sweep --out {root}` runs them again"
            )
        pending = pending_points(root, set(results["point"]) if "point" in results else set())
        if pending:
            warnings.warn(f"{root}: {pending} point(s) pending, the report shows the finished ones", ReadNote, 2)
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
    return title, sections
