"""Small input never asks for unbounded work: a message quotes a few hundred characters of a
value however large, YAML aliases are refused, and a run whose memory exceeds the machine's,
or an item file declaring more than it has, is one line before anything is written."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import twoclocks.core.memory as memory
from conftest import TINY
from twoclocks import cli
from twoclocks.config import RunConfig, apply_overrides, parse_value
from twoclocks.errors import QUOTE_CHARS, ConfigError, quote
from twoclocks.itemfile import declared_bytes
from twoclocks.models import build_model
from twoclocks.training.experiment import build_task
from twoclocks.training.footprint import PARAM_STATE_BYTES, planned_footprint

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=2000),
    lambda inner: st.lists(inner, max_size=30) | st.dictionaries(st.text(max_size=50), inner, max_size=30),
    max_leaves=200,
)


@given(values)
def test_a_quoted_value_is_short_and_is_its_repr_when_short(value):
    text = quote(value)
    assert len(text) <= QUOTE_CHARS
    if len(repr(value)) <= 30 and not isinstance(value, (list, dict)):
        assert text == repr(value)


def test_quoting_a_shared_structure_of_10_to_the_18_leaves_is_quick():
    bomb: list = ["lol"] * 9
    for _ in range(18):
        bomb = [bomb] * 9
    start = time.perf_counter()
    assert len(quote(bomb)) <= QUOTE_CHARS
    assert time.perf_counter() - start < 0.5


def alias_bomb(levels: int, key: str) -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + f"\n{key}: *l{levels - 1}\n"


def refused(capsys, words: list[str], *fragments: str) -> str:
    code = cli.main(words)
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert all(f in err for f in fragments), err
    return err


@pytest.mark.parametrize("key", ["task.G", "train.lr", "model", "seed"])
def test_a_yaml_alias_bomb_is_refused_in_one_line(tmp_path, monkeypatch, capsys, key):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bomb.yaml").write_text(alias_bomb(9, key))
    refused(capsys, ["run", "--config", "bomb.yaml", "--quiet"], "--config bomb.yaml", "aliases")
    (tmp_path / "spec.yaml").write_text(alias_bomb(9, "grid"))
    refused(capsys, ["sweep", "spec.yaml", "--out", "s"], "spec.yaml", "aliases")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.yaml", "spec.yaml"]


def test_an_alias_in_an_override_is_its_text():
    assert parse_value("[&a [1, 2], *a, *a]") == "[&a [1, 2], *a, *a]"
    assert parse_value("*name") == "*name"
    assert parse_value("[1, 2]") == [1, 2]


@pytest.mark.parametrize(
    "words, biggest",
    [
        (["model.width=16384", "model.depth=256"], "parameters and optimiser state"),
        (["model=gpt", "model.width=8192", "model.depth=64"], "parameters and optimiser state"),
        (["train.batch=1048576"], "activations at train.batch"),
        (["model=mdm", "train.batch=524288"], "activations at train.batch"),
        (["task.G=36", "data.N=100000000"], "the training set"),
        (["eval.samples=4194304", "eval.batch=4194304"], "evaluation samples"),
    ],
)
def test_a_run_bigger_than_the_machine_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys, words, biggest):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(memory, "available_ram", lambda: 8 << 30)
    refused(capsys, ["run", *TINY, *words, "--quiet"], "needs about", "8.0 GiB available", biggest)
    assert not any(tmp_path.iterdir())


@settings(max_examples=12, deadline=None)
@given(st.sampled_from(["dit", "gpt", "mlp", "mdm"]), st.integers(1, 3), st.sampled_from([16, 32, 48]))
def test_the_planned_parameters_are_those_of_the_built_model(family, depth, width):
    cfg = apply_overrides(RunConfig(), {"model": family, "model.depth": depth, "model.width": width})
    task = build_task(cfg)
    encoding = task.encoding(cfg.model.encoding)
    cells = task.sample(4, np.random.default_rng(0))
    built = build_model(cfg.model, encoding, cells)
    assert planned_footprint(cfg, task, encoding).params == PARAM_STATE_BYTES * sum(
        p.numel() for p in built.parameters()
    )
    assert not torch.get_default_device().type == "meta"


def header_only(path: Path, shape: tuple[int, ...], descr: str = "|u1") -> None:
    """An .npz whose array header declares `shape` but which holds a kilobyte."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("cells.npy", buf.getvalue() + bytes(1024))


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 50), st.integers(1, 6), st.sampled_from([np.uint8, np.int16, np.int64]), st.booleans())
def test_declared_bytes_are_the_arrays_bytes(tmp_path_factory, n, side, dtype, npz):
    folder = tmp_path_factory.mktemp("items")
    items = np.zeros((n, side, side), dtype=dtype)
    path = folder / ("a.npz" if npz else "a.npy")
    if npz:
        np.savez_compressed(path, cells=items, other=items[:1])
        assert declared_bytes(path) == items.nbytes + items[:1].nbytes
    else:
        np.save(path, items)
        assert declared_bytes(path) == items.nbytes


@pytest.mark.parametrize("shape", [(10**9, 6, 6), (4 * 2**30, 1, 1), (2**20, 64, 64)])
def test_an_item_file_declaring_more_than_the_machine_has_is_refused_before_loading(
    tmp_path, monkeypatch, capsys, shape
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(memory, "available_ram", lambda: 2 << 30)
    header_only(tmp_path / "items.npz", shape)
    refused(capsys, ["run", *TINY, "data.path=items.npz", "--quiet"], "items.npz", "2.0 GiB available")
    assert [p.name for p in tmp_path.iterdir()] == ["items.npz"]


def test_a_refusal_names_the_total_and_the_biggest_term():
    with pytest.raises(
        ConfigError, match=r"about 3\.0 GiB .* 1\.0 GiB available on here; the biggest part is b \(2\.0"
    ):
        memory.check_fits({"a": 1 << 30, "b": 2 << 30}, 1 << 30, "this", "here")
    memory.check_fits({"a": 1 << 30}, None, "this", "here")  # nothing known: nothing refused
    memory.check_fits({"a": 1 << 30}, 1 << 30, "this", "here")
