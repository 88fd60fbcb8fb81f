"""Fitted laws are kept by the content hash of their inputs: read back they predict exactly what
the fit did; beside a sweep (or in the user's cache) they are fitted once; a changed table, a
damaged record or an unwritable place costs a fit, never a stale answer; the user's cache keeps the
newest records of each kind."""

from __future__ import annotations

import json
import os

import pytest

from predict_tables import synthetic_runs
from twoclocks.config import build_config
from twoclocks.core.io import write_table
from twoclocks.prediction import cache, fitted
from twoclocks.prediction.predict import Laws, predict_config
from twoclocks.prediction.reference import Runs

CFG = ["model.width=64", "model.heads=4", "data.N=24", "task.G=3", "train.steps=9000"]
DRAWS = 8


@pytest.fixture(scope="module")
def runs() -> Runs:
    return synthetic_runs(seeds=2, Ns=(8, 16, 32))


@pytest.fixture
def quick_fit(monkeypatch):
    """Laws.fit with few bootstrap refits, counting its calls."""
    calls = []
    fit = Laws.fit

    def counted(runs, forms=None, draws=DRAWS, **kw):
        calls.append(len(runs.table))
        return fit(runs, forms, DRAWS, **kw)

    monkeypatch.setattr(Laws, "fit", staticmethod(counted))
    return calls


def sweep_dir(tmp_path, runs: Runs, name: str = "s"):
    d = tmp_path / name
    write_table(d / "results.parquet", runs.table.drop(columns=["source"]), parents=True)
    return d


def test_laws_read_back_predict_exactly_what_the_fit_did(runs):
    laws = Laws.fit(runs, draws=DRAWS)
    again = Laws.from_dict(runs, json.loads(json.dumps(laws.to_dict())))
    cfg = build_config(CFG)
    assert predict_config(again, cfg).to_dict() == predict_config(laws, cfg).to_dict()


def test_a_sweep_is_fitted_once_and_again_when_its_results_change(tmp_path, runs, quick_fit, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    d = sweep_dir(tmp_path, runs)
    cfg = build_config(CFG)
    first = predict_config(fitted.sweep_laws([d], calibrated=False), cfg).to_dict()
    assert len(quick_fit) == 1 and (d / cache.SWEEP_CACHE).is_file()
    assert predict_config(fitted.sweep_laws([d], calibrated=False), cfg).to_dict() == first
    assert len(quick_fit) == 1  # read back, not fitted
    sweep_dir(tmp_path, Runs(runs.table.iloc[1:], runs.sources))  # one run fewer: another key
    fitted.sweep_laws([d], calibrated=False)
    assert quick_fit == [len(runs.table), len(runs.table) - 1]


def test_a_damaged_or_foreign_record_is_fitted_again(tmp_path, runs, quick_fit, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    d = sweep_dir(tmp_path, runs)
    for text in ("{not json", json.dumps({"key": "0" * 64, "laws": {}}), json.dumps([1, 2])):
        (d / cache.SWEEP_CACHE).write_text(text)
        fitted.sweep_laws([d], calibrated=False)
    assert len(quick_fit) == 3
    assert json.loads((d / cache.SWEEP_CACHE).read_text())["key"] == cache.runs_key(
        fitted.sweep_runs([d]), "sweep-laws"
    )


def test_an_unwritable_sweep_is_cached_in_the_users_cache(tmp_path, runs, quick_fit, monkeypatch):
    home = tmp_path / "home-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    d = sweep_dir(tmp_path, runs)
    (d / cache.SWEEP_CACHE).mkdir()  # a directory where the record would go: not writable there
    fitted.sweep_laws([d], calibrated=False)
    fitted.sweep_laws([d], calibrated=False)
    assert len(quick_fit) == 1 and len(list((home / "twoclocks").glob("sweep-laws-*.json"))) == 1


def test_the_reference_laws_are_read_from_the_users_cache(tmp_path, runs, quick_fit, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(fitted, "reference_runs", lambda: runs)
    fitted.reference_laws.cache_clear()
    try:
        first = predict_config(fitted.reference_laws(), build_config(CFG)).to_dict()
        fitted.reference_laws.cache_clear()  # a new process
        assert predict_config(fitted.reference_laws(), build_config(CFG)).to_dict() == first
    finally:
        fitted.reference_laws.cache_clear()
    assert len(quick_fit) == 1 and len(list((tmp_path / "xdg" / "twoclocks").glob("reference-laws-*.json"))) == 1


def test_the_key_changes_with_the_code_and_not_with_the_column_order(runs, monkeypatch):
    key = cache.runs_key(runs, "p")
    assert cache.runs_key(Runs(runs.table[list(reversed(runs.table.columns))], runs.sources), "p") == key
    assert cache.runs_key(runs, "q") != key
    monkeypatch.setattr(cache, "code_digest", lambda: "edited")
    assert cache.runs_key(runs, "p") != key


def test_the_users_cache_keeps_the_newest_records_of_each_purpose(tmp_path):
    from twoclocks.prediction.cache import KEEP, prune

    for i in range(KEEP + 3):
        for purpose in ("reference-laws", "pilot-laws"):
            path = tmp_path / f"{purpose}-{i:024d}.json"
            path.write_text("{}")
            os.utime(path, (1_000_000 + i, 1_000_000 + i))
    prune(tmp_path, "reference-laws")
    kept = sorted(p.name for p in tmp_path.glob("reference-laws-*.json"))
    assert kept == [f"reference-laws-{i:024d}.json" for i in range(3, KEEP + 3)]
    assert len(list(tmp_path.glob("pilot-laws-*.json"))) == KEEP + 3  # another purpose: left alone
