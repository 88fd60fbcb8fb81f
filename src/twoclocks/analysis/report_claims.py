"""The claims table of a sweep report: one row per claim, its verdict at each rule clock as a
coloured cell, whether the verdict survives the choice of rule clock, what the verdict rests on
(fits on learned rules, censoring bounds alone, ...) and, for the claims that compare rule
complexities, the verdict over every slice beside the one on learned rules; then the evidence
and the reason (at tau_rule; the other clocks' are in the cell's tooltip and in claims.json)."""

from __future__ import annotations

import html

from twoclocks.records.formats import claim_by_clock
from twoclocks.sweeps.claims.evaluate import knob_claims

# verdict -> cell colour: green holds, red contradicted, grey undecided.
COLOURS = {"supported": "#c8e6c9", "not supported": "#ffcdd2", "inconclusive": "#eeeeee"}


def _cell(entry: dict | None) -> str:
    if entry is None:
        return "<td>not computed</td>"
    verdict = entry["verdict"]
    tip = html.escape(f"{entry.get('evidence', '')} -- {entry.get('reason', '')}", quote=True)
    colour = COLOURS.get(verdict, "#ffffff")
    return f'<td style="background:{colour}" title="{tip}">{html.escape(verdict)}</td>'


def _numbers(ids: tuple[int, ...]) -> str:
    """(1, 3, 6) -> '1, 3 and 6'."""
    words = [str(i) for i in ids]
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words)


def claims_html(claims: list[dict]) -> str:
    """The table, from the `claims` list of claims.json (formats.claim_by_clock reads each
    entry's verdict per rule clock)."""
    clocks: dict[str, str] = {}
    for c in claims:
        for tau, entry in claim_by_clock(c).items():
            clocks.setdefault(tau, entry.get("clock", tau))
    head = "".join(f"<th>{html.escape(label)}</th>" for label in clocks.values())
    # Memorisation levels beyond tau_mem (whose verdicts the rule-clock cells are): near copies.
    levels: dict[str, str] = {}
    for c in claims:
        for tau, entry in list((c.get("by_mem") or {}).items())[1:]:
            levels.setdefault(tau, entry.get("clock", tau))
    mem_head = "".join(f"<th>at {html.escape(label)}</th>" for label in levels.values())
    mem_head += "<th>across memorisation levels</th>" if levels else ""
    rows = []
    for c in claims:
        by_clock = claim_by_clock(c)
        robust = c.get("robust")
        mark = "" if robust is None else ("robust: " if robust else "depends on the clock: ")
        rows.append(
            "<tr>"
            f"<td>{c['id']}</td><td>{html.escape(c['claim'])}</td>"
            + "".join(_cell(by_clock.get(tau)) for tau in clocks)
            + f"<td>{html.escape(mark + c.get('across_clocks', ''))}</td>"
            + "".join(_cell((c.get("by_mem") or {}).get(tau)) for tau in levels)
            + (f"<td>{html.escape(c.get('across_mem', ''))}</td>" if levels else "")
            + f"<td>{html.escape(c.get('basis', ''))}</td><td>{html.escape(c.get('all_slices', ''))}</td>"
            f"<td>{html.escape(c['evidence'])}</td><td>{html.escape(c['reason'])}</td>"
            "</tr>"
        )
    return (
        "<table><thead><tr><th>id</th><th>claim</th>"
        + head
        + "<th>across rule clocks</th>"
        + mem_head
        + "<th>basis</th><th>every slice, learned or not</th>"
        "<th>evidence (tau_rule)</th><th>reason (tau_rule)</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
        + "<p>Verdict at each rule clock: green supported, red not supported, grey inconclusive; hover a "
        "cell for the evidence at that clock. Basis: what the verdict rests on -- fits on learned rules "
        "(every level compared was learned before copying), fits that include unlearned rules, or censoring "
        "bounds alone; claims " + _numbers(knob_claims()) + " are judged on learned slices where the sweep has them. "
        "Near copies (tau_mem_near): the same claims with copying read at samples within one cell of a "
        "training item. Decision rules, rule clocks and memorisation levels: docs/sweeps.md, docs/protocol.md.</p>"
    )
