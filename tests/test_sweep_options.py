"""A sweep's execution options are declared once, as SweepSpec fields: every one is an option of
`twoclocks sweep` and `reproduce`, a key of a spec file and a keyword of `tc.sweep`, checked
against its domain in one line wherever it is given."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest

import twoclocks.sweeps.spec as spec_module
from twoclocks.api import sweep_spec
from twoclocks.commands import reproduce, sweep
from twoclocks.core.domains import closed
from twoclocks.errors import ConfigError
from twoclocks.sweeps.spec import SweepSpec, load_recorded_spec, load_spec, option, options, record_spec

GOOD = {
    "executor": "ray",
    "workers": 3,
    "address": "auto",
    "threads": 2,
    "gpus_per_run": 0.5,
    "group": True,
    "group_size": 4,
    "gpus_per_group": 0.25,
}
BAD = {
    "executor": "slurm",
    "workers": 0,
    "address": "",
    "threads": -1,
    "gpus_per_run": 0,
    "group": "yes",
    "group_size": 0,
    "gpus_per_group": -0.5,
}


def test_every_option_has_a_good_and_a_bad_value_here():
    assert set(GOOD) == set(BAD) == set(options())


def _parsed(command, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers())
    return parser.parse_args(argv)


@pytest.mark.parametrize("command", [sweep, reproduce])
def test_every_option_is_a_command_line_option(command):
    head = ["sweep"] if command is sweep else ["reproduce", "--scale", "tiny"]
    for name, value in GOOD.items():
        flag = "--" + name.replace("_", "-")
        args = _parsed(command, [*head, flag] if value is True else [*head, flag, str(value)])
        assert getattr(args, name) == value
    unset = _parsed(command, head)
    assert all(getattr(unset, name) is None for name in options())


def test_every_option_is_a_spec_key_and_a_keyword(tmp_path):
    lines = [f"{k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in GOOD.items()]
    path = tmp_path / "s.yaml"
    path.write_text("base: {train.steps: 10}\n" + "\n".join(lines) + "\n")
    from_file = load_spec(path)
    from_api, _ = sweep_spec(None, ["train.steps=10"], out=tmp_path / "o", **GOOD)
    for name, value in GOOD.items():
        assert getattr(from_file, name) == value == getattr(from_api, name)


@pytest.mark.parametrize("name", list(options()))
def test_an_option_outside_its_domain_is_one_line_naming_it(tmp_path, name):
    with pytest.raises(ConfigError) as exc:
        sweep_spec(None, ["train.steps=10"], out=tmp_path / "o", **{name: BAD[name]})
    assert str(exc.value).startswith(name) and "\n" not in str(exc.value)
    path = tmp_path / "s.yaml"
    path.write_text(f"base: {{train.steps: 10}}\n{name}: {BAD[name]!r}\n")
    with pytest.raises(ConfigError, match=f"^{name}"):
        load_spec(path)


def test_an_unknown_option_names_the_known_ones(tmp_path):
    with pytest.raises(ConfigError, match="unknown sweep option 'gpus'; choose from"):
        sweep_spec(None, ["train.steps=10"], out=tmp_path / "o", gpus=1)
    assert SweepSpec().group is False and SweepSpec().executor == "local"


@dataclass
class SpecWithMore(SweepSpec):
    prefetch: int | None = option(None, "points planned ahead of the workers", closed(1, 8), metavar="P")


@pytest.fixture
def more_options(monkeypatch):
    """An option added to the one declaration, SweepSpec, and to nothing else."""
    monkeypatch.setattr(spec_module, "SweepSpec", SpecWithMore)
    monkeypatch.setitem(GOOD, "prefetch", 3)
    monkeypatch.setitem(BAD, "prefetch", 9)


def test_an_option_added_to_the_spec_is_found_everywhere(more_options, tmp_path):
    test_every_option_has_a_good_and_a_bad_value_here()
    for command in (sweep, reproduce):
        test_every_option_is_a_command_line_option(command)
    test_every_option_is_a_spec_key_and_a_keyword(tmp_path)
    test_an_option_outside_its_domain_is_one_line_naming_it(tmp_path, "prefetch")
    spec, out = sweep_spec(None, ["train.steps=10"], out=tmp_path / "o", prefetch=4)
    out.mkdir()
    record_spec(out, spec, [])
    assert load_recorded_spec(out).prefetch == 4  # kept for a restart with no arguments


@pytest.mark.parametrize("name", list(options()))
def test_an_option_of_the_wrong_kind_is_refused_not_converted(tmp_path, name):
    """The text "1" for a number and the number 1 for text are refused, not read as each other."""
    wrong = str(GOOD[name]) if not isinstance(GOOD[name], str) else 1
    with pytest.raises(ConfigError) as exc:
        sweep_spec(None, ["train.steps=10"], out=tmp_path / "o", **{name: wrong})
    assert str(exc.value).startswith(name) and "\n" not in str(exc.value)
