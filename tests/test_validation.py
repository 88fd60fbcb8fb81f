"""Every config field with values outside its domain: one line naming the field, exit 1, no
traceback, nothing written. The walk iterates over the config dataclasses, so a new field is
walked as soon as it exists (with its type's domain until the field declares one)."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TINY
from twoclocks import cli
from twoclocks.config import RunConfig, build_config, config_fields
from twoclocks.core.domains import ROLES, base_type, domain_of, role_of
from twoclocks.core.fields import field_types
from twoclocks.errors import ConfigError
from twoclocks.tasks import TASKS

PARITY = TASKS["parity"].Params
FIELDS = config_fields() + [(f"task.{f.name}", f, field_types(PARITY)[f.name]) for f in dataclasses.fields(PARITY)]
HUGE_INT = 10**20  # 20 digits


def _yaml(value: object) -> str:
    """`value` spelled as the right-hand side of key=value (read back with YAML rules)."""
    if isinstance(value, float) and math.isnan(value):
        return ".nan"
    if isinstance(value, float) and math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    if value == "":
        return '""'
    return json.dumps(value)


def bad_values(f: dataclasses.Field, annotation: object) -> list[object]:
    """Values outside the field's domain: negative, zero, nan, inf, huge, wrong type, empty."""
    kind = base_type(annotation)
    domain = domain_of(f, annotation)
    optional = kind is not annotation
    wrong_type: list[object] = [[1, 2], {"a": 1}, "" if kind is not str else 3.5]
    values = wrong_type + ([] if optional else [None])
    if kind is bool:
        return values + ["yes please", 2]
    if kind is str:
        return values + ["", "  ", "no-such-choice"] if domain and domain.choices else values + ["", "  "]
    numbers: list[object] = [-1, 0, math.nan, math.inf, -math.inf, HUGE_INT, 1e300, -1e300, "abc"]
    if kind is int:
        numbers += [0.5]
    if domain is not None and domain.lo is not None:
        numbers += [domain.lo - 1 if kind is int else domain.lo - abs(domain.lo) * 0.5 - 0.25]
        numbers += [domain.lo] if domain.lo_open else []
    if domain is not None and domain.hi is not None:
        numbers += [domain.hi + 1 if kind is int else domain.hi * 2 + 1]
        numbers += [domain.hi] if domain.hi_open else []
    bad = values + [v for v in numbers if not _accepted(domain, kind, v)]
    return list({_yaml(v): v for v in bad}.values())  # each spelling once


def _accepted(domain, kind, value) -> bool:
    if isinstance(value, str) or (kind is int and isinstance(value, float) and not value.is_integer()):
        return False
    return domain is None or domain.contains(value)


CASES = [(key, value) for key, f, ann in FIELDS for value in bad_values(f, ann)]


def test_every_field_has_bad_values_and_a_domain():
    assert len(FIELDS) > 40 and len(CASES) > 350
    assert all(domain_of(f, ann) is not None for _, f, ann in FIELDS if base_type(ann) in (int, float))
    task_fields = [(f, field_types(t.Params)[f.name]) for t in TASKS.values() for f in dataclasses.fields(t.Params)]
    assert all(domain_of(f, ann) is not None for f, ann in task_fields if base_type(ann) in (int, float))
    assert all(role_of(f) in ROLES for _, f, _ in FIELDS)


def _one_line(capsys, code: int, key: str) -> str | None:
    """The problem with what a command printed for a bad `key`, or None if it is right: exit 1,
    one line that names the field, no traceback."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    if code != 1 or len(lines) != 1 or not lines[0].startswith("twoclocks: error: "):
        return f"exit {code}: {err!r}"
    return None if key in lines[0] and "Traceback" not in err else f"field not named: {lines[0]!r}"


def test_bad_values_are_one_line_and_write_nothing(tmp_path, monkeypatch, capsys):
    """Every (field, bad value) on the command line; one loop (in-process) keeps it fast."""
    problems = []
    for i, (key, value) in enumerate(CASES):
        cwd = tmp_path / str(i)
        cwd.mkdir()
        monkeypatch.chdir(cwd)  # a default run directory (./runs) would appear here
        code = cli.main(["run", *TINY, f"{key}={_yaml(value)}", "--out", str(cwd / "r"), "--quiet"])
        problem = _one_line(capsys, code, key) or (f"wrote {list(cwd.iterdir())}" if any(cwd.iterdir()) else None)
        if problem:
            problems.append(f"{key}={_yaml(value)}: {problem}")
    assert not problems, "\n".join(problems)


def test_bad_values_in_a_saved_config_on_resume(tmp_path, capsys):
    """The same walk through config.json (a hand-edited or damaged run directory): refused in
    one line naming the field, and nothing added to the directory."""
    problems = []
    for i, (key, value) in enumerate(CASES):
        run = tmp_path / str(i)
        run.mkdir()
        cfg = build_config(TINY).to_dict()
        section, _, name = key.rpartition(".")
        (cfg[section] if section else cfg)[name] = value
        (run / "config.json").write_text(json.dumps(cfg))
        code = cli.main(["run", "--resume", str(run), "--quiet"])
        problem = _one_line(capsys, code, key)
        if problem is None and sorted(p.name for p in run.iterdir()) != ["config.json"]:
            problem = f"wrote {sorted(p.name for p in run.iterdir())}"
        if problem:
            problems.append(f"{key}={_yaml(value)}: {problem}")
    assert not problems, "\n".join(problems)


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**25), max_value=10**25),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(FIELDS), value=JUNK)
def test_any_value_is_accepted_in_domain_or_refused_naming_the_field(field, value):
    """Property: whatever the value, the config is either valid (and the value lies in the
    field's domain) or refused with a ConfigError that names the field, never another error."""
    key, f, annotation = field
    try:
        cfg = build_config([f"{key}={_yaml(value)}"])
    except ConfigError as exc:
        assert key in str(exc) and "\n" not in str(exc)
        return
    flat = {**{f"task.{k}": v for k, v in cfg.task.items()}, "seed": cfg.seed}
    for section in ("data", "model", "train", "eval", "clocks"):
        flat.update({f"{section}.{k}": v for k, v in getattr(cfg, section).__dict__.items()})
    got = flat[key]
    domain = domain_of(f, annotation)
    assert got is None or domain is None or domain.contains(got), (key, got)


ISSUE_VALUES = [
    ("train.lr=nan", "train.lr"),
    ("train.lr=inf", "train.lr"),
    ("train.beta1=2", "train.beta1"),
    (f"train.steps={HUGE_INT}", "train.steps"),
    ("model.rho=0", "model.rho"),
    ("model.sigma_min=-1", "model.sigma_min"),
    ("model.sigma_max=0.01", "model.sigma_max"),
    ("seed=-1", "seed"),
    ("train.warmup=-1", "train.warmup"),
    ("train.threads=-1", "train.threads"),
    ("train.grad_clip=-1", "train.grad_clip"),
]


def test_values_named_in_the_issue(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for override, key in ISSUE_VALUES:
        code = cli.main(["run", *TINY, override, "--out", str(tmp_path / "r"), "--quiet"])
        assert _one_line(capsys, code, key) is None, override
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [[*TINY, "--out", ""], [*TINY, "--out", "."], ["--resume", ""]])
def test_empty_directory_names_are_refused(tmp_path, monkeypatch, capsys, args):
    monkeypatch.chdir(tmp_path)
    code = cli.main(["run", *args, "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert list(tmp_path.iterdir()) == [], "wrote into the working directory"


def test_defaults_and_every_task_default_are_valid():
    RunConfig()  # the dataclass defaults
    for task in TASKS:
        build_config([f"task={task}"])
