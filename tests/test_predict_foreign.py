"""`predict --from` on sweeps it did not write the way this version does: a rule named by import
path (never imported: its runs recorded what the laws read), a table older than the later
rule clocks, a table missing a column, the same sweep given several times, and key=value words
after --from. Each is an answer or one line, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from predict_tables import synthetic_row, synthetic_runs
from twoclocks.cli import main as cli_main
from twoclocks.config import build_config
from twoclocks.core.io import write_table
from twoclocks.errors import ConfigError, TwoClocksError
from twoclocks.prediction import fitted
from twoclocks.prediction.autobudget import resolve_steps
from twoclocks.prediction.predict import Laws, predict_config
from twoclocks.prediction.reference import sweep_runs
from twoclocks.prediction.variables import config_variables

DRAWS = 6
LATER = ("tau_rule_low", "tau_group")
MARKED = """
from pathlib import Path
Path(__file__).with_suffix(".imported").write_text("imported")
from twoclocks.tasks.base import Task


class Ladder(Task):
    name = "ladder"
    knob = "rungs"
"""


@pytest.fixture(autouse=True)
def quick(monkeypatch, tmp_path):
    """Few bootstrap refits, and a cache of this test's own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(fitted, "CALIBRATION_DRAWS", 2)
    fit = Laws.fit
    monkeypatch.setattr(
        Laws, "fit", staticmethod(lambda runs, forms=None, draws=DRAWS, **kw: fit(runs, forms, DRAWS, **kw))
    )


def sweep(path: Path, table: pd.DataFrame) -> Path:
    write_table(path / "results.parquet", table.drop(columns=["source"], errors="ignore"), parents=True)
    return path


def plugin_table(rule: str) -> pd.DataFrame:
    """Runs of a rule named by import path: its parameters and log2 population as a sweep of it
    records them; the clocks drawn as `synthetic_row` draws them."""
    rng = np.random.default_rng(3)
    rows = []
    for N in (6, 12, 24):
        for rungs, bits in ((3, 14.0), (5, 22.0)):
            for seed in range(2):
                row = synthetic_row({"data.N": N, "model.width": 48, "model.heads": 4}, seed, rng, 30000)
                row = {k: v for k, v in row.items() if not k.startswith("task")}
                row.update({"task": rule, "task.rungs": rungs, "task.source": "0f" * 8, "log2_population": bits})
                rows.append(row)
    return pd.DataFrame(rows)


def test_a_sweep_of_a_rule_named_by_path_is_fitted_and_calibrated_without_importing_it(tmp_path):
    rule_file = tmp_path / "ladder.py"
    rule_file.write_text(MARKED)
    d = sweep(tmp_path / "s", plugin_table(f"{rule_file}:Ladder"))
    laws = fitted.sweep_laws([d])  # the calibration holds out each rung count by its bits
    assert set(laws.laws) == {"tau_rule", "tau_rule_low", "tau_group", "tau_mem"} and laws.calibration
    assert not rule_file.with_suffix(".imported").exists()
    # A built-in rule the sweep never ran: one rule says nothing of how far another lies off it.
    parity = build_config(["data.N=12", "model.width=48", "model.heads=4"])
    assert "1 rule (" in str(predict_config(laws, parity).clocks["tau_mem"].refused)
    assert laws.reaches(config_variables(parity))["tau_mem"].rule_unseen == 1


def test_a_table_older_than_the_later_rule_clocks_predicts_the_clocks_it_has(tmp_path, capsys):
    table = synthetic_runs(seeds=2, Ns=(8, 16, 32)).table
    old = table.drop(columns=[c for c in table if c.startswith(LATER)])
    d = sweep(tmp_path / "old", old)
    assert cli_main(["predict", "--from", str(d), "data.N=20", "task.G=3", "model.width=64", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["clocks"]) == {"tau_rule", "tau_mem"}
    assert f"{', '.join(LATER)}: not predicted; no fitted run recorded it" in " ".join(out["warnings"])
    laws = fitted.sweep_laws([d])
    with pytest.raises(ConfigError, match=r"^train.steps=auto: the laws have no tau_rule_low, tau_group"):
        resolve_steps(build_config(["train.steps=auto", "train.stop_at=rule", "model.width=64"]), laws)
    sized, _ = resolve_steps(build_config(["train.steps=auto", "train.stop_at=mem", "model.width=64"]), laws)
    assert sized.train.steps > 0


@pytest.mark.parametrize("column", ["max_step", "log2_population", "status"])
def test_a_table_missing_a_column_the_laws_need_is_one_line(tmp_path, capsys, column):
    d = sweep(tmp_path / "s", synthetic_runs(seeds=2, Ns=(8, 16)).table.drop(columns=[column]))
    assert cli_main(["predict", "--from", str(d)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"twoclocks: error: sweep {d}: the results table lacks {column}, which the laws need"
    assert not (d / "predict_cache.json").exists()


def test_a_config_column_a_table_lacks_is_at_its_default(tmp_path):
    table = synthetic_runs(seeds=2, Ns=(8, 16, 32)).table
    d = sweep(tmp_path / "s", table.drop(columns=["model.patch", "train.lr"]))
    runs = sweep_runs([d])
    assert (runs.table["model.patch"] == 2).all() and (runs.table["train.lr"] == 1e-3).all()


def test_the_same_runs_given_several_times_count_once(tmp_path, monkeypatch):
    table = synthetic_runs(seeds=2, Ns=(8, 16)).table
    d = sweep(tmp_path / "s", table)
    copy = sweep(tmp_path / "copy", table.iloc[:5])  # a few of its runs copied into another sweep
    monkeypatch.chdir(tmp_path)
    runs = sweep_runs([d, Path("s"), tmp_path / "s" / ".", copy])
    assert len(runs.table) == len(table) and runs.table["point"].is_unique
    assert len(runs.sources) == 2


def test_overrides_after_from_are_overrides(tmp_path, capsys):
    d = sweep(tmp_path / "s", synthetic_runs(seeds=2, Ns=(8, 16, 32)).table)
    args = ["predict", "--from", str(d), "data.N=20", "model.width=64", "train.steps=777", "--json"]
    assert cli_main(args) == 0
    out = json.loads(capsys.readouterr().out)
    expected = predict_config(fitted.sweep_laws([d]), build_config(["data.N=20", "model.width=64", "train.steps=777"]))
    assert out == json.loads(json.dumps(expected.to_dict())) and out["steps"] == 777
    assert cli_main(["predict", "--from", "data.N=20", "seed=3"]) == 1
    assert capsys.readouterr().err.strip() == (
        "twoclocks: error: --from needs a sweep directory; got only overrides: data.N=20 seed=3"
    )
    with pytest.raises(TwoClocksError, match="no results.parquet"):
        sweep_runs([tmp_path / "nothing"])
