"""The learnability map and claim 3 across rule families, on results tables built by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from twoclocks.analysis.learnability import plot_learnability
from twoclocks.sweeps.claims.learnability import depth_extends_range, learnability_table, varies_knob_and_depth
from twoclocks.sweeps.claims.rule_families import TOLERANCE, claim3_families, rule_family_sets


def results(cells: dict[tuple[int, int], list[float | None]], budget: int = 10_000) -> pd.DataFrame:
    """A parity sweep: {(G, depth): tau_rule per seed (None = not reached)}."""
    rows = []
    for (G, depth), taus in cells.items():
        for seed, tau in enumerate(taus):
            rows.append(
                {
                    "task": "parity",
                    "task.G": G,
                    "model.depth": depth,
                    "model.patch": 2,
                    "task.layout": "contiguous",
                    "data.N": 1024,
                    "seed": seed,
                    "status": "finished",
                    "max_step": budget,
                    "tau_rule": np.nan if tau is None else tau,
                }
            )
    return pd.DataFrame(rows)


def test_cells_are_learned_when_most_seeds_reach_the_clock():
    df = results({(2, 1): [100, 120, 110], (3, 1): [5000, None, None], (3, 2): [4000, 6000, None]})
    table = learnability_table(df).set_index(["value", "depth"])
    assert table.loc[(2, 1), "median"] == 110 and table.loc[(2, 1), "learned_runs"] == 3
    assert pd.isna(table.loc[(3, 1), "median"]) and table.loc[(3, 1), "learned_runs"] == 1
    assert table.loc[(3, 2), "median"] == 6000  # the censored seed sorts last
    assert table.loc[(3, 2), "budget"] == 10_000 and table.loc[(3, 2), "N"] == [1024]
    assert varies_knob_and_depth(df)


def test_depth_extends_range_verdicts():
    extends = results({(2, 1): [100], (3, 1): [None], (4, 1): [None], (2, 4): [90], (3, 4): [3000], (4, 4): [None]})
    verdict, why = depth_extends_range(learnability_table(extends))
    assert verdict == "supported" and "largest knob stays unlearned" in why
    no_limit = results({(2, 1): [100], (3, 1): [None], (2, 4): [90], (3, 4): [3000]})
    assert depth_extends_range(learnability_table(no_limit))[0] == "inconclusive"
    shrinks = results({(2, 1): [100], (3, 1): [2000], (2, 4): [90], (3, 4): [None]})
    assert depth_extends_range(learnability_table(shrinks))[0] == "not supported"
    same = results({(2, 1): [100], (3, 1): [None], (2, 4): [90], (3, 4): [None]})
    assert depth_extends_range(learnability_table(same))[0] == "not supported"


def test_map_figure_is_written(tmp_path):
    df = results({(2, 1): [100], (3, 1): [None], (2, 2): [90], (3, 2): [3000]})
    path = plot_learnability(learnability_table(df), tmp_path / "learnability.png")
    assert path.stat().st_size > 10_000


def family_results(taus: dict[str, tuple[list[float], list[float | None]]]) -> pd.DataFrame:
    """{task: (tau_mem per seed, tau_rule per seed)} at one N and model."""
    rows = []
    for task, (mems, rules) in taus.items():
        for seed, (m, r) in enumerate(zip(mems, rules)):
            rows.append(
                {
                    "task": task,
                    "data.N": 64,
                    "model.family": "dit",
                    "model.depth": 2,
                    "model.width": 64,
                    "seed": seed,
                    "status": "finished",
                    "tau_mem": m,
                    "tau_rule": np.nan if r is None else r,
                }
            )
    return pd.DataFrame(rows)


def test_rule_families_are_split_by_whether_the_rule_was_learned():
    df = family_results(
        {
            "parity": ([10_000, 11_000, 10_500], [200, 210, 190]),
            "mirror": ([12_000, 12_500, 11_500], [300, 320, 280]),
            "linear_code": ([4_000, 4_200, 3_900], [None, None, None]),
        }
    )
    learned, copied = rule_family_sets(df)
    assert set(learned.medians) == {"parity()", "mirror()"} and set(copied.medians) == {"linear_code()"}
    assert math.isclose(learned.ratio, 12_000 / 10_500)
    assert learned.verdict == "supported" and learned.ci[1] <= TOLERANCE
    assert copied.verdict == "inconclusive"  # one rule alone has no spread
    verdict, why = claim3_families(df)
    assert verdict == "supported" and "learned only by copying" in why


def test_a_large_spread_is_not_supported():
    df = family_results(
        {
            "parity": ([10_000, 11_000, 10_500], [200, 210, 190]),
            "mirror": ([40_000, 42_000, 41_000], [300, 320, 280]),
        }
    )
    assert claim3_families(df)[0] == "not supported"


def test_report_draws_the_map_for_a_knob_by_depth_sweep(tmp_path):
    from twoclocks.analysis.report import learnability_sections

    df = results({(2, 1): [100], (3, 1): [None], (2, 2): [90], (3, 2): [3000]})
    df["N"] = 1024
    secs = learnability_sections(df, tmp_path)
    assert secs[0][0] == "Learnability map (tau_rule)" and (tmp_path / "learnability.png").is_file()
    assert "Depth extends the learnable range: inconclusive" in secs[0][1]  # every G learned at depth 2
    no_depth = df[df["model.depth"] == 1]
    assert learnability_sections(no_depth, tmp_path) == []
