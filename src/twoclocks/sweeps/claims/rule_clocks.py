"""Judging the claims at every rule clock (tau_rule, tau_rule_low, tau_group).

A claim is written against the columns of tau_rule (`tau_rule`, `tau_rule_censored`,
`window_log10`, `window_vanished`, ...). `clock_view` returns the results table with those
columns holding another rule clock's values, so that every claim, including one added later,
is judged at each rule clock without knowing there are several; `relabel` then renames the
columns in its text back to the clock it was judged at.
"""

from __future__ import annotations

import re

import pandas as pd

from twoclocks.clocks import PRIMARY, RULE_CLOCKS, RuleClock


def renames(rc: RuleClock) -> dict[str, str]:
    """tau_rule's column -> the same column of `rc` (identity for tau_rule)."""
    return dict(zip(PRIMARY.result_columns(), rc.result_columns()))


def clock_view(df: pd.DataFrame, rc: RuleClock) -> pd.DataFrame:
    """`df` with tau_rule's columns replaced by those of `rc` (the others kept as they are)."""
    if rc == PRIMARY:
        return df
    pairs = renames(rc)
    # tau_rule's own columns go even where rc lacks one, so that none is read as rc's.
    view = df.drop(columns=[c for c in pairs if c in df])
    return view.rename(columns={theirs: ours for ours, theirs in pairs.items() if theirs in df})


def rename_words(text: str, mapping: dict[str, str]) -> str:
    """`text` with every whole name in `mapping` replaced (so that tau_rule_censored is not read
    as tau_rule + _censored)."""
    mapping = {k: v for k, v in mapping.items() if k != v}
    if not mapping:
        return text
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, mapping), key=len, reverse=True)) + r")\b")
    return pattern.sub(lambda m: mapping[m.group(1)], text)


def rename_obj(obj, mapping: dict[str, str]):
    """rename_words applied to every string in a nested structure of dicts and lists (fit dicts)."""
    if isinstance(obj, str):
        return rename_words(obj, mapping)
    if isinstance(obj, dict):
        return {k: rename_obj(v, mapping) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(rename_obj(v, mapping) for v in obj)
    return obj


def relabel(text: str, rc: RuleClock) -> str:
    """Text written about tau_rule's columns, about `rc`'s instead."""
    return rename_words(text, renames(rc))


def relabel_obj(obj, rc: RuleClock):
    """relabel applied to every string in a nested structure of dicts and lists (fit dicts)."""
    return rename_obj(obj, renames(rc))


def clock_labels(df: pd.DataFrame) -> dict[str, str]:
    """tau -> 'tau_group (constraint_acc >= 0.95)', with the sweep's threshold when all its
    runs share one (else the default, marked 'varies')."""
    labels = {}
    for rc in RULE_CLOCKS:
        col = f"clocks.{rc.theta}"
        values = df[col].dropna().unique() if col in df else []
        labels[rc.tau] = rc.label({rc.theta: float(values[0])} if len(values) == 1 else None)
        if len(values) > 1:
            labels[rc.tau] += " (threshold varies between runs)"
    return labels
