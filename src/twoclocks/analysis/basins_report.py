"""The basin analysis as one section of an HTML report: `section(run_dir) -> (title, html)`.

Reads what `twoclocks basins` wrote (RUN_DIR/basins by default) and returns self-contained
HTML: a table of sigma_half per vertex set and checkpoint, the basin sizes at the figure's
sigma, the notes, and every figure embedded as a base64 PNG. Needs no plotting library.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from twoclocks.core.io import read_bytes, read_json, read_table

SUMMARY = "summary.json"  # the analysis's own summary, in its output folder (RUN_DIR/basins)
TITLE = "Basins of attraction and denoiser dissection"
FIGURES = (
    (
        "basin_vs_step.png",
        "Basin size per vertex set vs training step, at one sigma; right: where held-out valid vertices end up.",
    ),
    (
        "basin_vs_sigma.png",
        "Basin size vs sigma, one line per checkpoint; population (dashed) and "
        "empirical (dotted) denoisers for reference.",
    ),
    ("loss_gap.png", "Per-sigma EDM-weighted loss gaps over (step, sigma)."),
    (
        "explained_variance.png",
        "Explained variance of each checkpoint's denoiser against the population and empirical denoisers.",
    ),
)


def section(run_dir: str | Path, basins_dir: str | Path | None = None) -> tuple[str, str]:
    """(title, html) for a report. basins_dir defaults to RUN_DIR/basins; when it holds no
    analysis the html says how to make one instead of failing."""
    out = Path(basins_dir) if basins_dir else Path(run_dir) / "basins"
    if not (out / SUMMARY).is_file():
        return TITLE, (
            f"<p>No basin analysis in <code>{html.escape(str(out))}</code>. Run "
            f"<code>twoclocks basins {html.escape(str(run_dir))}</code> to make one.</p>"
        )
    summary = read_json(out / SUMMARY)
    parts = [
        f"<p>{html.escape(summary['task'])}, N={summary['N']}; {_clock_text(summary)}; "
        f"{summary['settings']['per_set']} trajectories per set, {summary['settings']['ode_steps']} "
        f"Heun levels per trajectory. Definitions: docs/basins.md.</p>",
        _table(summary, out),
    ]
    parts += [f"<p class='note'>Note: {html.escape(n)}</p>" for n in summary.get("notes", [])]
    for name, caption in FIGURES:
        if (out / name).is_file():
            data = base64.b64encode(read_bytes(out / name)).decode("ascii")
            parts.append(
                f"<figure><img alt='{name}' style='max-width:100%' src='data:image/png;base64,{data}'/>"
                f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
    return TITLE, "\n".join(parts)


def _clock_text(summary: dict) -> str:
    def fmt(v):
        return "censored" if v is None else f"{v:.0f}"

    return f"tau_rule = {fmt(summary.get('tau_rule'))}, tau_mem = {fmt(summary.get('tau_mem'))} steps"


def _table(summary: dict, out: Path) -> str:
    """Rows: references then checkpoints; columns: sigma_half and basin size at plot_sigma, per set."""
    sets = list(summary["trajectories"])
    sigma = summary["plot_sigma"]
    basins = read_table(out / "basins.parquet")
    at = basins[(basins["sigma"] - sigma).abs() < 1e-9].set_index(["checkpoint", "set"])["basin_size"]
    head = "".join(f"<th>sigma_half {s}</th>" for s in sets) + "".join(f"<th>basin {s} @ {sigma:g}</th>" for s in sets)
    rows = []
    for label, per_set in summary["sigma_half"].items():
        halves = "".join(
            f"<td>{html.escape(format_sigma_half(per_set.get(s), summary['settings']['sigmas']))}</td>" for s in sets
        )
        sizes = "".join(f"<td>{at.get((label, s), float('nan')):.2f}</td>" for s in sets)
        rows.append(f"<tr><td>{html.escape(label)}</td>{halves}{sizes}</tr>")
    return f"<table><tr><th>checkpoint</th>{head}</tr>{''.join(rows)}</table>"


def format_sigma_half(entry: dict | None, sigmas: list[float]) -> str:
    """sigma_half as text: a number, '<min' (left-censored) or '>max' (right-censored) of the
    sigmas probed, '-' when there is none."""
    if entry is None:
        return "-"
    if entry["censored"] == "left":
        return f"<{min(sigmas):g}"
    if entry["censored"] == "right":
        return f">{max(sigmas):g}"
    return f"{entry['sigma_half']:.3g}"
