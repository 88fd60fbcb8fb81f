"""`twoclocks predict task=T data.N=64` for every task of the registry: a rule the features
describe answers with intervals (from its runs, or its features where the fit has none); a task
they do not describe (natural data: a lexicon, images) that neither the fit nor the shipped
pilot runs have says in one line what it needs (pilot runs, --from), never builds its task (an
image task would train its probe), and is predicted from those pilot runs once given (or
shipped), its population known or not."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from test_predict_rules import BASE, RULES, SIGMA, rule_runs, truth
from twoclocks.cli import main as cli_main
from twoclocks.config import RunConfig, apply_overrides, flatten
from twoclocks.core.io import write_json, write_table
from twoclocks.prediction import export, fitted, pilots
from twoclocks.prediction import reference as shipped
from twoclocks.prediction.features import DESCRIBED
from twoclocks.prediction.laws import BOOTSTRAP
from twoclocks.prediction.predict import Laws
from twoclocks.prediction.variables import CLOCKS
from twoclocks.tasks import TASKS

NATURAL = {"words", "digits", "mnist", "fashion_mnist"}  # the built-in tasks of natural data
OFFSET = 0.1  # decades: the pilot task's own offset from the law of the reference rules
ORDER = 2.0  # the rule order the pilot runs' clocks are drawn with


@pytest.fixture(scope="module")
def runs_and_laws():
    """A reference of five rules (synthetic) and its laws, fitted once (few bootstrap refits)."""
    runs = rule_runs(Ns=(8, 16, 32, 64), seed=6)
    return runs, Laws.fit(runs, draws=8)


@pytest.fixture
def reference(tmp_path, monkeypatch, runs_and_laws):
    """The synthetic reference and its laws in the place of the shipped ones; a cache of the test's own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fit = Laws.fit
    monkeypatch.setattr(
        Laws, "fit", staticmethod(lambda runs, forms=None, draws=BOOTSTRAP, **kw: fit(runs, forms, 8, **kw))
    )
    runs, laws = runs_and_laws
    monkeypatch.setattr(pilots, "reference_runs", lambda: runs)
    monkeypatch.setattr(fitted, "reference_runs", lambda: runs)
    monkeypatch.setattr(fitted, "reference_laws", lambda: laws)
    monkeypatch.setattr(fitted, "shipped_pilots", lambda task: None)  # the shipped words runs: not here
    return tmp_path


def test_the_natural_data_tasks_are_the_ones_the_features_do_not_describe():
    assert NATURAL <= set(TASKS)
    assert {name for name in TASKS if name not in DESCRIBED} == NATURAL


@pytest.mark.parametrize("name", sorted(TASKS))
def test_predict_answers_or_says_what_it_needs_for_every_task(name, reference, capsys):
    rc = cli_main(["predict", f"task={name}", "data.N=64", "model.width=64", "model.heads=4", "--json"])
    out, err = capsys.readouterr()
    if name in DESCRIBED:
        assert rc == 0, err
        answer = json.loads(out)
        for clock, c in answer["clocks"].items():
            lo, hi = c["interval_95"]
            assert 0 < lo < c["median"] < hi < math.inf, (name, clock)
        unseen = [w for w in answer["warnings"] if w.startswith(f"task={name}: no fitted run has this rule")]
        assert len(unseen) == (name not in RULES), answer["warnings"]
    else:
        assert rc == 1 and out == ""
        line = err.strip()
        assert "\n" not in line and "pilot runs" in line and "--from PILOT" in line, line
        assert f"twoclocks sweep task={name} " in line
    assert not (reference / "cache" / "twoclocks" / "probes").exists()  # no image probe trained


def pilot_rows(task: str, log2_population: float, params: dict) -> pd.DataFrame:
    """Pilot runs of `task` at N = 8, 16, 32 (2 seeds): the clocks of the reference's law at
    ORDER, moved by OFFSET, with a little scatter."""
    rows = []
    for N in (8, 16, 32):
        cfg = apply_overrides(RunConfig(), {**BASE, "task": task, **params, "data.N": N})
        for s in range(2):
            row = dict(flatten(cfg.to_dict()), seed=s, status="finished", max_step=10**6)
            row.update({"log2_population": log2_population, "point": f"{task}-{N}-{s}"})
            for clock in CLOCKS:
                y = truth(clock, ORDER, N) + OFFSET + SIGMA * (s - 0.5)
                row.update({clock: 10**y, f"{clock}_censored": False, f"{clock}_left_censored": False})
            rows.append(row)
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("task", "log2_population", "params"),
    [("words", 12.1, {"task.length": 5}), ("digits", math.nan, {"task.levels": 2})],
)
def test_a_natural_data_task_is_predicted_from_its_pilot_runs(task, log2_population, params, reference, capsys):
    write_table(reference / "pilot" / "results.parquet", pilot_rows(task, log2_population, params), parents=True)
    args = [
        "predict",
        f"task={task}",
        "data.N=64",
        "model.width=64",
        "model.heads=4",
        "--from",
        str(reference / "pilot"),
    ]
    assert cli_main([*args, "--json"]) == 0, capsys.readouterr().err
    out = json.loads(capsys.readouterr().out)
    for clock in CLOCKS:
        c = out["clocks"][clock]
        expected = truth(clock, ORDER, 64) + OFFSET
        assert abs(math.log10(c["median"]) - expected) < 0.2, clock
        assert c["interval_95"][0] < 10**expected < c["interval_95"][1], clock
    assert "sweep" in out["fitted_on"]
    assert not any("model.patch" in w for w in out["warnings"]), out["warnings"]  # words' run_defaults: patch 1
    assert not any("nan" in w for w in out["warnings"]), out["warnings"]  # an image set's size: unknown, said so
    assert not (reference / "cache" / "twoclocks" / "probes").exists()


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One cache directory for every task: the shipped reference's laws are fitted once."""
    return tmp_path_factory.mktemp("cache")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TASKS))
def test_predict_answers_or_says_what_it_needs_from_the_shipped_reference(name, shared_cache, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(shared_cache))
    fitted.reference_laws.cache_clear()
    try:
        rc = cli_main(["predict", f"task={name}", "data.N=64", "--json"])
    finally:
        fitted.reference_laws.cache_clear()
    out, err = capsys.readouterr()
    if name not in DESCRIBED and shipped.shipped_pilots(name) is None:
        assert rc == 1 and "pilot runs" in err and "\n" not in err.strip(), err
        return
    assert rc == 0, err
    answer = json.loads(out)
    seen = name in set(shipped.reference_runs().table["task"])
    for clock, c in answer["clocks"].items():
        if c["not_predicted"] is not None:  # a rule clock the reference reached on too few rules
            assert clock != "tau_mem" and "pilot runs" in c["not_predicted"], (name, clock)
            continue
        lo, hi = c["interval_95"]
        assert 0 < lo < c["median"] < hi, name
        if seen and c["median"] > 1e7:  # out of reach: only where the answer says no run shows it
            said = [
                w
                for w in answer["warnings"]
                if (clock in w and "measured" in w) or "size" in w and ("extrapolated" in w or "nearest fitted" in w)
            ]
            assert said or c["unreached_above"] is not None, (name, clock, answer["warnings"])
        else:
            assert 1 <= c["median"] <= 1e7, (name, clock)  # an unseen rule is held inside the fitted sizes
    assert not (shared_cache / "twoclocks" / "probes").exists()


def test_an_unseen_rule_outside_the_fitted_sizes_is_predicted_at_the_nearest_one():
    from predict_tables import synthetic_runs
    from test_predict_rules import cfg
    from twoclocks.prediction.predict import predict_config, predict_samples
    from twoclocks.prediction.variables import config_variables

    laws = Laws.fit(synthetic_runs(seeds=2, Ns=(8, 16, 32)), draws=10)  # parity G = 2, 3: 18 and 24 bits
    small, inside = cfg("task=sudoku", "task.size=4", "data.N=16"), cfg("task=mirror", "data.N=16")
    assert float(config_variables(small)["bits"].iloc[0]) < 18 == float(config_variables(inside)["bits"].iloc[0])
    # One rule fitted: no clock is carried to another rule (`reach.unplaced`), but the law's
    # samples are what a fit of more rules would widen: the size is all that differs.
    at, edge = predict_samples(laws, config_variables(small)), predict_samples(laws, config_variables(inside))
    for clock in CLOCKS:  # mirror: 18 bits, unseen too
        assert np.median(at[clock]) == pytest.approx(np.median(edge[clock]), rel=1e-9), clock
    at = predict_config(laws, small)
    assert laws.reaches(config_variables(small))["tau_mem"].rule_outside == 1  # still widened by sb
    assert any("predicted at the nearest fitted size, 18.0 bits" in w for w in at.warnings)


@pytest.mark.parametrize("name", sorted(NATURAL))
def test_steps_auto_of_a_task_no_fitted_run_has_says_what_it_needs(name, reference):
    from twoclocks.config import build_config
    from twoclocks.errors import ConfigError
    from twoclocks.prediction.autobudget import resolve_steps

    extra = ["task.root=/nonexistent"] if name in ("mnist", "fashion_mnist") else []
    with pytest.raises(ConfigError) as exc:
        resolve_steps(build_config([f"task={name}", "train.steps=auto", *extra]), fitted.reference_laws())
    assert "pilot runs" in str(exc.value) and "\n" not in str(exc.value)
    assert not (reference / "cache" / "twoclocks" / "probes").exists()


def test_pilot_runs_that_never_reached_a_clock_give_a_wide_answer_with_its_warning(reference, capsys):
    rows = pilot_rows("words", 12.1, {"task.length": 5}).assign(max_step=500, tau_mem=math.nan, tau_mem_censored=True)
    write_table(reference / "pilot" / "results.parquet", rows, parents=True)
    args = ["predict", "task=words", "data.N=64", "model.width=64", "model.heads=4", "--from", str(reference / "pilot")]
    assert cli_main([*args, "--json"]) == 0, capsys.readouterr().err
    out = json.loads(capsys.readouterr().out)
    assert out["clocks"]["tau_mem"]["interval_95"][1] > 500  # the pilots say only tau_mem > 500
    assert out["clocks"]["tau_mem"]["not_predicted"] is None  # five rules measured it: carried, widened
    mem = [w for w in out["warnings"] if w.startswith("tau_mem")]
    assert any("no run of it on words measured this clock" in w for w in mem), out["warnings"]


def test_a_clock_the_fit_measured_on_one_rule_is_not_predicted_for_another(reference, monkeypatch, capsys):
    parity = rule_runs(rules=("parity",), Ns=(8, 16, 32, 64), seed=7)
    monkeypatch.setattr(pilots, "reference_runs", lambda: parity)
    rows = pilot_rows("words", 12.1, {"task.length": 5}).assign(max_step=500, tau_mem=math.nan, tau_mem_censored=True)
    write_table(reference / "pilot" / "results.parquet", rows, parents=True)
    args = ["predict", "task=words", "data.N=64", "model.width=64", "model.heads=4", "--from", str(reference / "pilot")]
    assert cli_main([*args, "--json"]) == 0, capsys.readouterr().err
    out = json.loads(capsys.readouterr().out)
    mem = out["clocks"]["tau_mem"]
    assert mem["median"] is None and mem["interval_95"] == [None, None] and mem["unreached_above"] == pytest.approx(500)
    assert "1 rule (parity)" in mem["not_predicted"] and "--from" in mem["not_predicted"]
    assert out["clocks"]["tau_rule"]["not_predicted"] is None  # the pilots reached it: their own offset
    assert out["window_log10"]["median"] is None and out["p_window_open"] is None
    assert cli_main(args) == 0
    text = capsys.readouterr().out
    assert "window log10(tau_mem/tau_rule): not predicted (tau_mem is not)" in text
    assert "tau_mem        not predicted: no fitted run of task=words reached it" in text
    assert "the longest ran 500 steps" in text


def test_an_image_sets_grey_levels_each_keep_their_own_offset(reference, capsys):
    # Quantisation moves the clocks (at 4 levels the digits copied 1.9x later than at 2), and an
    # image set has no population for a size to say so: each level is its own effect, from its
    # runs. Here 4 levels lie 0.3 decades above 2 levels.
    shift = 0.3
    two = pilot_rows("digits", math.nan, {"task.levels": 2})
    four = pilot_rows("digits", math.nan, {"task.levels": 4}).query("`data.N` <= 16")
    four = four.assign(point=four["point"] + "-4", **{c: four[c] * 10**shift for c in CLOCKS})
    write_table(reference / "pilot" / "results.parquet", pd.concat([two, four], ignore_index=True), parents=True)
    medians = {}
    for levels in (2, 4):
        args = ["predict", "task=digits", f"task.levels={levels}", "data.N=32", "model.width=64", "model.heads=4"]
        assert cli_main([*args, "--from", str(reference / "pilot"), "--json"]) == 0, capsys.readouterr().err
        medians[levels] = math.log10(json.loads(capsys.readouterr().out)["clocks"]["tau_mem"]["median"])
    expected = truth("tau_mem", ORDER, 32) + OFFSET
    assert abs(medians[2] - expected) < 0.1 and abs(medians[4] - expected - shift) < 0.1, medians


# ----- pilot runs shipped with the package (reference/pilots/) ----------------------------------
ARGS = ["predict", "task=words", "data.N=64", "model.width=64", "model.heads=4"]


@pytest.fixture
def pilot_folder(reference, monkeypatch):
    """A folder of shipped pilot runs (words at L = 5) in the place of the package's."""
    folder = reference / "pilots"
    write_table(folder / "words" / shipped.RESULTS, pilot_rows("words", 12.1, {"task.length": 5}), parents=True)
    write_json(folder / "words" / shipped.PROVENANCE, {"commit": "0123456789abcdef"})
    monkeypatch.setattr(shipped, "PILOT_DIR", folder)
    monkeypatch.setattr(fitted, "shipped_pilots", shipped.shipped_pilots)
    return folder


def test_a_task_with_shipped_pilot_runs_is_predicted_without_from(pilot_folder, capsys):
    assert cli_main([*ARGS, "--json"]) == 0, capsys.readouterr().err
    out = json.loads(capsys.readouterr().out)
    for clock in CLOCKS:  # the pilots' offset from the reference law, as with --from
        c = out["clocks"][clock]
        expected = truth(clock, ORDER, 64) + OFFSET
        assert abs(math.log10(c["median"]) - expected) < 0.2, clock
        assert c["interval_95"][0] < 10**expected < c["interval_95"][1], clock
    assert "pilot runs words (6 runs, code 0123456789)" in out["fitted_on"]
    # --from still means the given sweeps, not the shipped runs
    assert cli_main([*ARGS, "--from", str(pilot_folder / "words")]) == 0
    assert "sweep " in capsys.readouterr().out


def test_a_length_no_shipped_pilot_run_had_is_one_line_naming_those_it_had(pilot_folder, capsys):
    assert cli_main([*ARGS, "task.length=7"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "task.length=7" in err and "task.length=5" in err, err


def test_a_task_without_shipped_pilot_runs_still_says_what_it_needs(pilot_folder, capsys):
    assert cli_main(["predict", "task=digits", "data.N=64"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "pilot runs" in err and "--from PILOT" in err, err


def test_the_shipped_words_and_digits_runs_are_pilots_and_stay_out_of_the_reference():
    words = shipped.shipped_pilots("words")
    assert words is not None and set(words.table["task"]) == {"words"}
    assert set(words.table["model.family"]) == {"dit", "gpt", "mdm"}
    assert set(words.table["task.length"]) == {5, 6}
    assert words.table["point"].is_unique and (words.table["status"] == "finished").all()
    digits = shipped.shipped_pilots("digits")
    assert digits is not None and set(digits.table["task"]) == {"digits"} and set(digits.table["task.levels"]) == {2, 4}
    assert shipped.shipped_pilots("fashion_mnist") is None
    pilots = {"words", "words-dit-256", "words-dit-512", "words-dit-512-l6", "digits", "digits-levels4", "digits-256"}
    assert set(shipped.shipped_names(shipped.PILOT_DIR)) == pilots
    assert not {"words", "digits"} & set(shipped.reference_runs().table["task"])  # nor the calibration's runs
    calibrated_on = json.loads((shipped.REFERENCE_DIR / shipped.CALIBRATION).read_text())["references"]
    assert set(calibrated_on) == set(shipped.shipped_names())


def test_export_of_pilot_runs_leaves_the_calibration_alone(small_sweep, tmp_path, capsys):
    out = tmp_path / "ref"
    args = [str(small_sweep), "--name", "mine", "--command", "twoclocks sweep ...", "--out", str(out), "--pilots"]
    assert export.main(args) == 0, capsys.readouterr().err
    folder = out / shipped.PILOTS / "mine"
    assert sorted(p.name for p in folder.iterdir()) == sorted([shipped.RESULTS, shipped.CURVES, shipped.PROVENANCE])
    assert not (out / shipped.CALIBRATION).exists()
    assert len(pd.read_parquet(folder / shipped.RESULTS)) == 2  # the sweep's two finished runs


def test_steps_auto_of_words_is_sized_from_its_shipped_pilot_runs(pilot_folder):
    from twoclocks.config import build_config
    from twoclocks.prediction.autobudget import resolve_steps

    cfg = build_config(["task=words", "data.N=64", "model.width=64", "model.heads=4", "train.steps=auto"])
    resolved, record = resolve_steps(cfg)
    upper = record["prediction"]["clocks"]["tau_mem"]["interval_95"][1]
    assert resolved.train.steps == record["steps"] >= upper > 10 ** (truth("tau_mem", ORDER, 64) + OFFSET)
    assert "pilot runs words" in record["prediction"]["fitted_on"]


def test_shipped_pilot_runs_are_validated_with_their_largest_N_held_out(runs_and_laws):
    from twoclocks.prediction.pilot_validation import largest_N_records
    from twoclocks.prediction.reference import Runs

    runs, _ = runs_and_laws
    five, six = pilot_rows("words", 12.1, {"task.length": 5}), pilot_rows("words", 14.6, {"task.length": 6})
    pilots = Runs(pd.concat([five, six], ignore_index=True).assign(source="reference words"), ("pilot runs words",))
    scored = largest_N_records(pilots, runs, None, draws=8)
    assert set(scored["level"]) == {"dit task.length=5", "dit task.length=6"}
    held = pilots.table.loc[scored["row"].to_numpy() - len(runs.table)]
    assert (held["data.N"] == 32).all()  # each setting's largest N, predicted from its N = 8 and 16
    assert len(scored) == 2 * 2 * len(CLOCKS)  # two settings x two seeds, every clock
    for (level, clock), part in scored.groupby(["level", "clock"]):  # the generating law + OFFSET, recovered
        expected = truth(str(clock), ORDER, 32) + OFFSET
        assert abs(part["median"].mean() - expected) < 0.2, (level, clock)
    assert scored["covered95"].all()
