"""A user's task or model that breaks its contract is one line naming the plugin and the method,
exit 1: before anything is written when the probe of a run finds it, with the run left to
resume when it shows mid-run; a correct plugin's clocks are those it has unguarded."""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SMALL, TINY, run_metrics
from plugin_files import RULE
from twoclocks import cli
from twoclocks.tasks import GroupParity
from twoclocks.training import experiment
from twoclocks.training.contract import checked_task
from twoclocks.training.rundir import RunDir, State

FEW = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_COUNTER = itertools.count()

# RULE's row parity with one method replaced (`{body}` returns the output under test).
BROKEN = (
    RULE
    + '''

class Broken(RowParity):
    def {method}(self, {args}):
        {body}
'''
)
ARGS = {
    "sample": "n, rng",
    "constraints": "cells",
    "is_valid": "cells",
    "constraint_acc": "cells",
    "distinct_items": "read=True",
}


def broken_rule(tmp_path: Path, method: str, body: str) -> Path:
    """A rule file whose `Broken` is RULE's RowParity with `method` returning `body`'s value."""
    path = tmp_path / f"rule{next(_COUNTER)}.py"
    path.write_text(BROKEN.format(method=method, args=ARGS[method], body=body))
    return path


def refused_in_one_line(tmp_path: Path, capsys, words: list[str], *needles: str) -> str:
    """`twoclocks run TINY WORDS`: exit 1, one line on stderr holding the needles, no traceback,
    nothing written; returns the line."""
    out = tmp_path / f"run{next(_COUNTER)}"
    code = cli.main(["run", *TINY, *words, "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert all(n in err for n in needles), (needles, err)
    assert not out.exists(), list(out.iterdir())
    return err


def test_a_built_in_task_is_not_guarded():
    assert type(checked_task({"name": "parity", "G": 3, "layout": "random"})) is GroupParity


# Wrong outputs of constraints(cells) for 8 items: 1-D and 3-D arrays, too few rows, no columns,
# floats, integers, lists.
WRONG_CONSTRAINTS = st.one_of(
    st.integers(1, 5).map(lambda k: f"return np.zeros(len(cells) * {k}, bool)"),
    st.tuples(st.integers(1, 3), st.integers(1, 3)).map(
        lambda s: f"return np.zeros((len(cells), {s[0]}, {s[1]}), bool)"
    ),
    st.integers(1, 7).map(lambda r: f"return np.zeros((len(cells) - {r}, 2), bool)"),
    st.just("return np.zeros((len(cells), 0), bool)"),
    st.sampled_from(["float32", "float64", "int8", "int64", "uint8"]).map(
        lambda t: f"return np.ones((len(cells), 2), np.{t})"
    ),
    st.just("return [[True, True]] * len(cells)"),
    st.just("return (np.asarray(cells).sum(axis=2) % 2 == 0).tolist()"),
)


@FEW
@given(body=WRONG_CONSTRAINTS)
def test_constraints_of_a_wrong_kind_are_refused_before_anything_is_written(tmp_path, capsys, body):
    path = broken_rule(tmp_path, "constraints", body)
    refused_in_one_line(tmp_path, capsys, [f"task={path}:Broken"], f"task {path}:Broken: constraints() returned")


# Wrong outputs of sample(n, rng): shapes, floats, values outside [0, 2), lists, items that
# break the rule (a lone 1 in each row has odd parity).
WRONG_SAMPLES = st.one_of(
    st.tuples(st.integers(1, 6), st.integers(1, 6))
    .filter(lambda s: s != (4, 4))
    .map(lambda s: f"return np.zeros((n, {s[0]}, {s[1]}), np.uint8)"),
    st.integers(1, 3).map(lambda r: f"return np.zeros((n - {r}, 4, 4), np.uint8)"),
    st.just("return np.zeros((n, 16), np.uint8)"),
    st.sampled_from(["float32", "float64"]).map(lambda t: f"return np.zeros((n, 4, 4), np.{t})"),
    st.integers(2, 255).map(lambda v: f"return np.full((n, 4, 4), {v}, np.uint8)"),
    st.just("return np.full((n, 4, 4), -1, np.int64)"),
    st.just("return np.zeros((n, 4, 4), np.uint8).tolist()"),
    st.integers(0, 3).map(lambda c: f"x = np.zeros((n, 4, 4), np.uint8); x[:, :, {c}] = 1; return x"),
)


@FEW
@given(body=WRONG_SAMPLES)
def test_samples_of_a_wrong_kind_or_breaking_the_rule_are_refused(tmp_path, capsys, body):
    path = broken_rule(tmp_path, "sample", body)
    refused_in_one_line(tmp_path, capsys, [f"task={path}:Broken"], f"task {path}:Broken: sample() ")


@pytest.mark.parametrize(
    "method, body, says",
    [
        ("is_valid", "return np.ones(len(cells), np.int64)", "is_valid() returned int64, not bool"),
        ("is_valid", "return np.ones((len(cells), 1), bool)", "is_valid() returned shape (8, 1) for 8 items"),
        ("constraint_acc", "return np.full(len(cells), 2.0)", "constraint_acc() returned values outside [0, 1]"),
        ("constraints", "raise ValueError('bad cells')", "constraints() raised ValueError: bad cells"),
        ("sample", "raise SystemExit(0)", "sample() raised SystemExit: 0"),
        ("distinct_items", "return 'many'", "distinct_items() returned 'many', not None or a positive integer"),
        ("distinct_items", "return 0", "distinct_items() returned 0"),
    ],
)
def test_other_faults_of_a_rule_are_one_line(tmp_path, capsys, method, body, says):
    path = broken_rule(tmp_path, method, body)
    refused_in_one_line(tmp_path, capsys, [f"task={path}:Broken"], f"task {path}:Broken: {says}")


def test_sys_exit_at_import_is_one_line_not_a_silent_exit_0(tmp_path, capsys):
    path = tmp_path / "exits.py"
    path.write_text("import sys\nsys.exit(0)\n")
    refused_in_one_line(tmp_path, capsys, [f"task={path}:R"], f"{path}", "raised SystemExit: 0 when imported")


FAMILIES_FILE = '''
from twoclocks.models import FAMILIES


def raising(cfg, encoding, train_cells):
    raise RuntimeError("no such layer")


def not_a_model(cfg, encoding, train_cells):
    return object()


def cut(cfg, encoding, train_cells):
    model = FAMILIES["mlp"](cfg, encoding, train_cells)

    class Cut(type(model)):
        def generate(self, noise):
            return super().generate(noise)[:, :1]

    model.__class__ = Cut
    return model


def floats(cfg, encoding, train_cells):
    model = FAMILIES["mlp"](cfg, encoding, train_cells)

    class Floats(type(model)):
        def generate(self, noise):
            return super().generate(noise).astype(float)

    model.__class__ = Floats
    return model
'''


@pytest.mark.parametrize(
    "builder, says",
    [
        ("raising", "its builder raised RuntimeError: no such layer"),
        ("not_a_model", "built a object, not a twoclocks GenerativeModel"),
        ("cut", "generate() returned shape (2, 1, 6) for 2 rows of noise, not (2, 6, 6)"),
        ("floats", "generate() returned float64 cells, not integers"),
    ],
)
def test_a_model_family_that_breaks_its_contract_is_one_line(tmp_path, capsys, builder, says):
    path = tmp_path / "families.py"
    path.write_text(FAMILIES_FILE)
    refused_in_one_line(tmp_path, capsys, [f"model={path}:{builder}"], f"{path}:{builder}", says)


# constraints() raises on its 3rd call on an evaluation's samples (the second evaluation: two
# calls per evaluation) while FAIL_MIDWAY is set; without it the rule is RULE's.
MIDWAY = (
    RULE
    + """

import os

CALLS = []


class Midway(RowParity):
    def constraints(self, cells):
        if len(cells) == 16 and os.environ.get("FAIL_MIDWAY"):
            CALLS.append(1)
            if len(CALLS) == 3:
                raise RuntimeError("lost the lookup table")
        return super().constraints(cells)
"""
)


def test_a_fault_mid_run_is_one_line_and_the_run_resumes_to_the_clocks_of_an_unbroken_one(
    tmp_path, capsys, monkeypatch
):
    path = tmp_path / "midway.py"
    path.write_text(MIDWAY)
    args = ["run", *SMALL, f"task={path}:Midway", "--quiet", "--out"]
    assert cli.main([*args, str(tmp_path / "full")]) == 0, capsys.readouterr().err
    monkeypatch.setenv("FAIL_MIDWAY", "1")
    assert cli.main([*args, str(tmp_path / "broken")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"twoclocks: error: task {path}:Midway: constraints() raised RuntimeError: lost the lookup table"
    assert RunDir(tmp_path / "broken").state() is State.CHECKPOINTED
    monkeypatch.delenv("FAIL_MIDWAY")
    assert cli.main(["run", "--resume", str(tmp_path / "broken"), "--quiet"]) == 0, capsys.readouterr().err
    pd.testing.assert_frame_equal(run_metrics(tmp_path / "full"), run_metrics(tmp_path / "broken"))


def test_the_guard_leaves_a_correct_rule_and_family_their_clocks(tmp_path, capsys, monkeypatch):
    """The same run of RULE's rule with a plugin family, guarded and probed, and then with the
    task and model built as they were before any guard."""
    from twoclocks.models import build_model
    from twoclocks.tasks import build_task

    rule, family = tmp_path / "rule.py", tmp_path / "families.py"
    rule.write_text(RULE)
    family.write_text(
        FAMILIES_FILE
        + "\n\ndef plain(cfg, encoding, train_cells):\n    return FAMILIES['mlp'](cfg, encoding, train_cells)\n"
    )
    args = ["run", *SMALL, f"task={rule}:RowParity", f"model={family}:plain", "--quiet", "--out"]
    assert cli.main([*args, str(tmp_path / "guarded")]) == 0, capsys.readouterr().err
    monkeypatch.setattr(experiment, "checked_task", build_task)
    monkeypatch.setattr(experiment, "checked_model", build_model)
    monkeypatch.setattr(experiment, "probe_model", lambda *a: None)
    assert cli.main([*args, str(tmp_path / "plain")]) == 0, capsys.readouterr().err
    pd.testing.assert_frame_equal(run_metrics(tmp_path / "guarded"), run_metrics(tmp_path / "plain"))


def test_a_sweep_refuses_a_broken_rule_when_planned_before_anything_is_written(tmp_path, capsys):
    path = broken_rule(tmp_path, "is_valid", "return np.ones(len(cells), np.int64)")
    out = tmp_path / "sweep"
    code = cli.main(["sweep", *SMALL, f"task={path}:Broken", "--grid", "data.N=4,8", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert f"task {path}:Broken: is_valid() returned int64, not bool" in err and not out.exists()


def test_a_rule_whose_min_items_is_no_positive_integer_is_one_line(tmp_path, capsys):
    path = tmp_path / "rule_min.py"
    path.write_text(RULE + "\n\nclass Broken(RowParity):\n    min_items = 'two'\n")
    refused_in_one_line(tmp_path, capsys, [f"task={path}:Broken"], f"task {path}:Broken: min_items is 'two'")
