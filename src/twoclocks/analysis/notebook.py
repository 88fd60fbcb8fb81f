"""What the Python API shows in a notebook: HTML views of a run and a sweep (every text escaped,
figures inline as base64 PNG), and the tables of compare and fits as DataFrames whose censored
clocks are explicit values.

A censored clock (not reached by the last evaluated step) is NaN in a numeric column, so that
arithmetic on it cannot mistake it for a step; beside it, `<clock>_censored_at` holds the last
evaluated step, the bound the clock is known to exceed, and is NaN where the clock was reached.
The clocks are `clocks.clock_names()`.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from twoclocks.analysis.compare import compare_table, load_run, plot_compare
from twoclocks.analysis.pages import table_html
from twoclocks.analysis.report import progress_text, results_table
from twoclocks.clocks import RULE_CLOCKS, clock_names
from twoclocks.errors import TwoClocksError
from twoclocks.plots import clocks_figure
from twoclocks.sweeps.claims.fits import finished, fits_frame, standard_fits
from twoclocks.training.rundir import RunDir
from twoclocks.training.runner import summary_lines


def with_censored_at(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with `<clock>_censored_at` after each clock that has a `<clock>_censored` flag:
    max_step where the clock was not reached, else NaN."""
    df = df.copy()
    for key in clock_names():
        flag = f"{key}_censored"
        if key not in df or flag not in df or "max_step" not in df:
            continue
        censored = df[flag].fillna(False).astype(bool).to_numpy()
        bound = np.where(censored, pd.to_numeric(df["max_step"], errors="coerce"), np.nan)
        df.insert(df.columns.get_loc(key) + 1, f"{key}_censored_at", bound)
    return df


def figure_data_uri(fig: Any) -> str:
    """A matplotlib figure as an inline PNG (data: URI); the figure is closed."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", bbox_inches="tight")
    finally:
        plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def run_html(run_dir: RunDir) -> str:
    """A run: its clocks and windows as the command line prints them, and the clocks figure;
    an unfinished or damaged run: the one line that says so."""
    head = f"<p><b>twoclocks run</b> <code>{html.escape(str(run_dir.path))}</code></p>"
    try:
        summary, metrics = run_dir.load_finished()
    except TwoClocksError as exc:
        return head + f"<p>{html.escape(str(exc))}</p>"
    title = f"{summary.get('model_family')} on {summary.get('task')}, N={summary.get('N')}"
    uri = figure_data_uri(clocks_figure(metrics, summary, title))
    text = html.escape("\n".join(summary_lines(summary)))
    return f'{head}<pre>{text}</pre><img src="{uri}" alt="clocks" style="max-width:100%">'


def sweep_html(path: Path, results: pd.DataFrame) -> str:
    """A sweep: its points with their clocks (censored as '> max step') and status."""
    done = int((results["status"] == "finished").sum()) if "status" in results else 0
    failed = int((results["status"] != "finished").sum()) if "status" in results else 0
    counts = html.escape(progress_text(path, results, done, failed))
    head = f"<p><b>twoclocks sweep</b> <code>{html.escape(str(path))}</code>: {counts}</p>"
    return head + (table_html(results_table(results)) if len(results) else "")


def compare_frame(paths: list[str | Path], out: str | Path | None = None, x: str = "step") -> pd.DataFrame:
    """One row per finished run: label, directory, every clock (NaN when censored) with its
    `_censored_at`, the windows, and the offsets from the first run as `twoclocks compare`
    prints them; the overlay figure is written to `out` when given."""
    runs = [load_run(p) for p in paths]
    # the numeric window columns, beside the text offsets of `compare_table`
    windows = [rc.key(k) for rc in RULE_CLOCKS for k in ("window_log10", "window_vanished")]
    rows = []
    for run in runs:
        s = run.summary
        row: dict[str, Any] = {"run": run.label, "run_dir": str(run.path), "max_step": s["max_step"]}
        for key in clock_names():
            if key in s:
                row[key] = np.nan if s[key] is None else float(s[key])
                row[f"{key}_censored"] = bool(s.get(f"{key}_censored", s[key] is None))
        row.update({k: s[k] for k in windows if k in s})
        rows.append(row)
    text = compare_table(runs)
    offsets = text[[c for c in text if c.endswith(("_vs_first", "_dec"))]]
    frame = pd.concat([with_censored_at(pd.DataFrame(rows)), offsets], axis=1)
    if out is not None:
        plot_compare(runs, out, x)
    return frame


def sweep_fits(results: pd.DataFrame) -> pd.DataFrame:
    """The fits of the report (censored clocks excluded, 95% bootstrap CI over seeds) of a
    results table as `read_results` gives it."""
    done = finished(results).reset_index(drop=True)
    return fits_frame(standard_fits(done)) if len(done) else fits_frame([])
