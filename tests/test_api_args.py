"""The Python API's own arguments: every public function of `twoclocks` (and every public method
of Run and Sweep), every argument, values of the wrong type drawn by hypothesis: each call is
one ConfigError line naming the argument, raised before anything is written. Also the cases a
user met (tc.run(5), tc.sweep(grid=[1, 2]), ...), nested dicts as --config takes them, and a
file given where a directory is meant."""

from __future__ import annotations

import inspect
import math
import typing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import twoclocks as tc
from conftest import SMALL
from twoclocks.api_args import matches
from twoclocks.config import parse_overrides
from twoclocks.errors import ConfigError, TwoClocksError

# Values of many types; each argument is tried with those its annotation does not admit.
POOL = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**9),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.binary(max_size=4),
    st.lists(st.integers(), max_size=3),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.integers(), st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.tuples(st.integers()),
    st.just(object()),
    st.just(1 + 2j),
    st.sets(st.integers(), max_size=2),
)
# The sweep's execution options (its **execution), with the types a spec gives them.
EXECUTION = {
    "executor": str,
    "workers": int | None,
    "threads": int | None,
    "address": str | None,
    "gpus_per_run": float | None,
    "group": bool | None,
    "group_size": int | None,
    "gpus_per_group": float | None,
}


def wrong_for(name: str, hint: Any):
    if name == "seeds":  # Any: a positive count or a list of distinct integers is right (None: one seed)
        return POOL.filter(
            lambda v: (
                v is not None
                and not (type(v) is int and v > 0)
                and not (
                    isinstance(v, (list, tuple))
                    and v
                    and all(type(s) is int and s >= 0 for s in v)
                    and len(set(v)) == len(v)
                )
            )
        )
    if name == "executor":
        return POOL.filter(lambda v: v is not None and v not in ("local", "ray"))
    if name in EXECUTION:  # None leaves the option as it is
        return POOL.filter(lambda v: v is not None and not matches(v, hint))
    return POOL.filter(lambda v: not matches(v, hint))


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("api")
    tc.sweep(overrides=SMALL, grid={"data.N": [8]}, out=root / "sweep", progress=False, workers=1)
    return {"root": root, "sweep": root / "sweep", "run": tc.load_sweep(root / "sweep").runs()[0].path}


def calls(made: dict[str, Path]) -> list[tuple[str, Any, dict[str, Any], dict[str, Any]]]:
    """(name, callable, valid arguments, annotations) of every public function and method."""
    never = made["root"] / "never"
    run, sweep = tc.load(made["run"]), tc.load_sweep(made["sweep"])
    valid = {
        "run": (tc.run, {"overrides": SMALL, "out": never, "progress": False}),
        "load": (tc.load, {"path": made["run"]}),
        "sweep": (tc.sweep, {"overrides": SMALL, "grid": {"data.N": [4]}, "out": never, "progress": False}),
        "load_sweep": (tc.load_sweep, {"path": made["sweep"]}),
        "report": (tc.report, {"path": never}),
        "compare": (tc.compare, {"runs": [made["run"]], "out": never / "c.png"}),
        "fits": (tc.fits, {"sweep": never}),
        "predict": (tc.predict, {"overrides": SMALL}),
        "Run": (tc.Run, {"path": made["run"]}),
        "Sweep": (tc.Sweep, {"path": made["sweep"]}),
        "Run.samples": (run.samples, {}),
        "Run.show_samples": (run.show_samples, {}),
        "Run.plot": (run.plot, {"path": never / "c.png"}),
        "Run.resume": (run.resume, {"progress": False}),
        "Run.text": (run.text, {}),
        "Sweep.runs": (sweep.runs, {}),
    }
    public = {n for n in tc.__all__ if callable(getattr(tc, n))}
    methods = {f"{c}.{m}" for c in ("Run", "Sweep") for m, _ in inspect.getmembers(getattr(tc, c), inspect.isfunction)}
    assert public | {m for m in methods if not m.split(".")[1].startswith("_")} == set(valid)
    out = []
    for name, (fn, args) in valid.items():
        target = fn.__init__ if isinstance(fn, type) else fn
        hints = typing.get_type_hints(inspect.unwrap(target))
        params = {p: hints.get(p, Any) for p in inspect.signature(fn).parameters if p not in ("self", "execution")}
        if name == "sweep":
            params.update(EXECUTION)
        out.append((name, fn, args, params))
    return out


def test_every_argument_of_every_public_function(made):
    tried = []
    for name, fn, args, params in calls(made):
        for param, hint in params.items():
            check_argument(name, fn, args, param, hint, made)
            tried.append(f"{name}({param})")
    assert len(tried) >= 30, tried


def check_argument(name: str, fn, args: dict, param: str, hint: Any, made: dict[str, Path]) -> None:
    before = sorted(made["root"].rglob("*"))

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(value=wrong_for(param, hint))
    def wrong(value):
        with pytest.raises(ConfigError) as caught:
            fn(**{**args, param: value})
        text = str(caught.value)
        assert len(text.splitlines()) == 1 and param in text, (name, param, value, text)

    try:
        wrong()
    except BaseException as exc:
        raise AssertionError(f"{name}({param}: {hint})") from exc
    assert sorted(made["root"].rglob("*")) == before, f"{name}({param}) wrote files"


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda out: tc.run(5, out=out), "overrides must be"),
        (lambda out: tc.run(None, out=123), "out must be"),
        (lambda out: tc.load(None), "path must be"),
        (lambda out: tc.sweep(grid={"data.N": 8}, out=out), "grid must be"),
        (lambda out: tc.sweep(grid=[1, 2], out=out), "grid must be"),
        (lambda out: tc.sweep(grid={"data.N": [4]}, seeds=1.5, out=out), "seeds must be"),
        (lambda out: tc.sweep(grid={"data.N": [4]}, seeds="1.5", out=out), "seeds must be"),
        (lambda out: tc.run({"train": {"steps": "x"}}, out=out), "train.steps"),
        (lambda out: tc.compare([]), "at least one"),
        (lambda out: tc.compare(p for p in [3]), "runs must be"),
    ],
)
def test_the_cases_a_user_met(tmp_path, call, message):
    with pytest.raises(ConfigError, match=message):
        call(tmp_path / "x")
    assert list(tmp_path.iterdir()) == []


def test_nested_dicts_are_the_same_overrides_as_dotted_keys(made, tmp_path):
    nested: dict[str, Any] = {}
    for key, value in parse_overrides(SMALL).items():
        section, field = key.split(".")
        nested.setdefault(section, {})[field] = value
    nested["task"] = {"name": "parity", "G": 2}
    run = tc.run(nested, out=tmp_path / "nested", progress=False)
    assert run.config == tc.load(made["run"]).config
    assert run.metrics["valid"].tolist() == tc.load(made["run"]).metrics["valid"].tolist()


def test_a_file_is_named_as_a_file(made):
    for load in (tc.load, tc.load_sweep):
        with pytest.raises(TwoClocksError, match="is a file, not a"):
            load(made["run"] / "config.json")


def test_plans_are_bounded_before_any_planning(tmp_path, capsys):
    """--seeds 100000000 and a grid of 19,701 points are refused at once, with their count."""
    from twoclocks import cli
    from twoclocks.sweeps.spec import MAX_POINTS

    out = tmp_path / "s"
    assert cli.main(["sweep", "--seeds", "100000000", "--out", str(out)]) == 1
    assert "100,000,000" in capsys.readouterr().err
    big = math.isqrt(MAX_POINTS) + 1
    grid = [
        "--grid",
        "data.N=" + ",".join(map(str, range(1, big + 1))),
        "--grid",
        "train.lr=" + ",".join(["1e-3"] * big),
    ]
    assert cli.main(["sweep", *grid, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{big * big:,} points" in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()
