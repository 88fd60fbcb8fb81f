"""Laws across rules and optimiser settings, on runs drawn from a known law: a rule is described by
its measured features (a rule the fit never saw is predicted by them, its interval widened by
the calibrated term of an unseen rule), batch and learning rate are variables (the steps-per-sample
law against a free exponent, chosen on held-out runs), and a variable no fitted run varied widens
the interval by its calibrated amount."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from predict_tables import synthetic_runs
from twoclocks.config import RunConfig, apply_overrides, build_config, flatten
from twoclocks.errors import ConfigError
from twoclocks.prediction.autobudget import budget_from
from twoclocks.prediction.calibration import Calibration
from twoclocks.prediction.features import DESCRIBED, rule_features
from twoclocks.prediction.predict import Laws, at_another_size, at_fitted_size, predict_config, predict_samples
from twoclocks.prediction.reference import Runs
from twoclocks.prediction.variables import CLOCKS, config_variables, task_params
from twoclocks.tasks import BUILTIN, make_task

BASE = {"model.width": 64, "model.heads": 4}
RULES = ("parity", "mirror", "sparse_parity", "linear_code", "hamming_weight")
OFFSET = {"parity": 0.03, "mirror": -0.04, "sparse_parity": 0.02, "linear_code": -0.03, "hamming_weight": 0.0}
SIGMA = 0.05


def truth(clock: str, order: float, N: int, batch: int = 64) -> float:
    """log10 tau of the generating law: the rule clocks grow with the rule's order, tau_mem with
    N; every clock as steps-per-sample in the batch (tau proportional to 1 / batch)."""
    per_sample = -math.log10(batch / 64)
    if clock == "tau_mem":
        return 2.2 + 1.2 * math.log10(N) + 0.1 * order + per_sample
    return {"tau_rule": 2.0, "tau_rule_low": 1.8, "tau_group": 1.7}[clock] + 0.2 * order + per_sample


def rule_runs(rules=RULES, Ns=(8, 16, 32), batches=(64,), seeds=2, exponent=-1.0, seed=0) -> Runs:
    """Runs of several built-in rules at their default parameters (recorded as a sweep records
    them), the clocks drawn from `truth` plus each rule's own offset; the batch enters with
    `exponent` (-1: per sample)."""
    rng = np.random.default_rng(seed)
    rows = []
    for name in rules:
        task = make_task(name)
        order = rule_features(name, ())["order"]
        for N in Ns:
            for batch in batches:
                for s in range(seeds):
                    cfg = apply_overrides(RunConfig(), {**BASE, "task": name, "data.N": N, "train.batch": batch})
                    row = dict(flatten(cfg.to_dict()), seed=s, status="finished", max_step=10**6)
                    row.update({"log2_population": task.log2_population, "point": f"{name}-{N}-{batch}-{s}"})
                    for clock in CLOCKS:
                        y = truth(clock, order, N) + (exponent * math.log10(batch / 64))
                        y += OFFSET[name] + SIGMA * rng.standard_normal()
                        row.update({clock: 10**y, f"{clock}_censored": False, f"{clock}_left_censored": False})
                    rows.append(row)
    return Runs(pd.DataFrame(rows).assign(source="synthetic rules"), ("synthetic rules",))


def cfg(*overrides: str):
    return build_config([f"{k}={v}" for k, v in BASE.items()] + list(overrides))


def test_a_rule_the_fit_never_saw_is_predicted_by_its_features():
    held_out = "linear_code"  # order 3, between the others' 2 (parity, mirror) and 3-6
    laws = Laws.fit(Runs(rule_runs().table.query("task != @held_out").reset_index(drop=True), ("x",)), draws=20)
    assert "order" in laws.laws["tau_rule"].design.terms and "task" in laws.laws["tau_rule"].design.terms
    p = predict_config(laws, cfg(f"task={held_out}", "data.N=16"))
    order = rule_features(held_out, ())["order"]
    for clock in CLOCKS:
        error = abs(math.log10(p.clocks[clock].median) - truth(clock, order, 16))
        assert error < 0.12, (clock, error)  # its offset (-0.03) and the seeds' scatter aside
    reach = laws.reaches(config_variables(cfg(f"task={held_out}", "data.N=16")))["tau_mem"]
    assert reach.rule_unseen == 1 and reach.outside == 0
    assert laws.reaches(config_variables(cfg("task=mirror", "data.N=16")))["tau_mem"].rule_unseen == 0


def test_an_unseen_rule_is_wider_by_the_calibrated_rule_term():
    laws = Laws.fit(rule_runs(rules=RULES[:3]), draws=20)
    params = {"a": 1.0, "s0": 0.05, "kN": 0.3, "sb": 1.0, "sx": 0.3, "su": 0.3, "sr": 0.4}
    cal = laws.calibrated(Calibration({c: dict(params) for c in CLOCKS}, "a test"))

    def width(config) -> float:
        lo, hi = predict_config(cal, config).clocks["tau_mem"].intervals[0.95]
        return math.log10(hi / lo)

    # linear_code: unseen, its size and features inside the fitted rules' (no size term)
    seen, unseen = width(cfg("task=mirror", "data.N=16")), width(cfg("task=linear_code", "data.N=16"))
    # 95% half-widths add in quadrature: sqrt(seen_half^2 + (1.96 sr)^2) (the law's own spread
    # differs a little between the two configs).
    expected = 2 * math.hypot(seen / 2, 1.96 * params["sr"])
    assert unseen == pytest.approx(expected, rel=0.15) and unseen > seen + 0.8


def test_laws_of_one_rule_predict_no_clock_of_another_and_say_why():
    laws = Laws.fit(synthetic_runs(seeds=2, Ns=(8, 16, 32)), draws=10)  # group parity only
    for cls in (c for c in BUILTIN if c.name in DESCRIBED and c.name != "parity"):
        p = predict_config(laws, cfg(f"task={cls.name}", "data.N=64"))
        assert set(p.clocks) == set(CLOCKS), cls.name
        for clock, c in p.clocks.items():  # one rule says nothing of how far another lies off it
            assert c.refused is not None and "1 rule (parity)" in c.refused, (cls.name, clock)
            assert np.isnan(c.median) and c.to_dict()["median"] is None
        assert np.isnan(p.window_log10[0]) and "not predicted (tau_mem and tau_rule are not)" in "".join(p.lines())
    p = predict_config(laws, cfg("task=parity", "data.N=64"))
    assert all(c.refused is None and 0 < c.intervals[0.95][0] < c.median for c in p.clocks.values())


@pytest.mark.parametrize(("measured_rules", "refused"), [(1, True), (2, True), (3, False)])
def test_a_rule_clock_is_carried_to_an_unmeasured_rule_from_three_measured_rules(measured_rules, refused):
    runs = rule_runs(rules=RULES[:4])  # parity, mirror, sparse_parity, linear_code
    table = runs.table.copy()
    never = ~table["task"].isin(RULES[:measured_rules]).to_numpy()  # these rules never reach tau_rule
    table.loc[never, "tau_rule_censored"] = True
    table.loc[never, "tau_rule"] = np.nan
    laws = Laws.fit(Runs(table, runs.sources), draws=4)
    p = predict_config(laws, cfg("task=hamming_weight", "data.N=16"))  # no run of it at all
    assert (p.clocks["tau_rule"].refused is not None) == refused
    assert p.clocks["tau_mem"].refused is None  # every rule reached tau_mem
    if refused:
        assert f"{measured_rules} rule" in p.clocks["tau_rule"].refused
        assert "needs 3" in p.clocks["tau_rule"].refused
        with pytest.raises(ConfigError, match=r"^train.steps=auto: tau_rule is not predicted"):
            budget_from(p, "rule", 0)
    assert budget_from(p, "mem", 0) > 0
    mirror = predict_config(laws, cfg("task=mirror", "data.N=16"))  # a rule with runs that did not reach it
    assert (mirror.clocks["tau_rule"].refused is not None) == (measured_rules < 2)


def test_a_rule_of_ones_own_needs_pilot_runs(tmp_path):
    from plugin_files import RULE

    (tmp_path / "rowrule.py").write_text(RULE)
    laws = Laws.fit(synthetic_runs(seeds=2, Ns=(8, 16, 32)), draws=10)
    with pytest.raises(ConfigError) as exc:
        predict_config(laws, cfg(f"task={tmp_path / 'rowrule.py'}:RowParity", "task.n=5"))
    assert "no fitted run has this rule and its features are unknown" in str(exc.value)
    assert "pilot runs" in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.parametrize(("exponent", "chosen"), [(-1.0, "per_sample"), (-0.3, "free")])
def test_held_out_runs_choose_between_steps_per_sample_and_a_free_exponent(exponent, chosen):
    runs = rule_runs(rules=("parity",), batches=(16, 64, 128), seeds=3, exponent=exponent)
    laws = Laws.fit(runs, draws=5)
    fixed = dict(laws.laws["tau_mem"].design.fixed)
    assert ("log2_batch" in fixed) == (chosen == "per_sample")
    p = predict_config(laws, cfg("task=parity", "data.N=16", "train.batch=32"))
    expected = truth("tau_mem", 2.0, 16) + exponent * math.log10(32 / 64) + OFFSET["parity"]
    assert abs(math.log10(p.clocks["tau_mem"].median) - expected) < 0.06


def test_a_variable_no_fitted_run_varied_widens_by_its_calibrated_amount():
    laws = Laws.fit(synthetic_runs(seeds=2, Ns=(8, 16, 32)), draws=20)  # every run at batch 64
    params = {"a": 1.0, "s0": 0.05, "kN": 0.3, "sb": 1.0, "sx": 0.1, "su": 0.5, "sr": 0.4}
    cal = laws.calibrated(Calibration({c: dict(params) for c in CLOCKS}, "a test"))
    at = {b: predict_config(cal, cfg("task.G=2", "data.N=16", f"train.batch={b}")) for b in (64, 128)}
    v = config_variables(cfg("task.G=2", "data.N=16", "train.batch=128"))
    assert laws.reaches(v)["tau_mem"].unvaried == 1
    w = {b: math.log10(np.divide(*reversed(at[b].clocks["tau_mem"].intervals[0.95]))) for b in at}
    assert w[128] == pytest.approx(2 * math.hypot(w[64] / 2, 1.96 * params["su"]), rel=0.1)
    assert at[128].clocks["tau_mem"].median == pytest.approx(at[64].clocks["tau_mem"].median, rel=0.05)


def test_rule_features_are_read_from_a_results_row_as_from_a_config():
    # A results table of several rules: another rule's column is empty, a whole number a float.
    row = pd.Series({"task": "sparse_parity", "task.k": 4.0, "task.n": 6.0, "task.subset_seed": 0.0, "task.G": None})
    assert task_params(row) == (("k", 4), ("n", 6), ("subset_seed", 0))
    flat = flatten(build_config(["task=sparse_parity", "task.k=4"]).to_dict())
    assert task_params(flat) == task_params(row)
    assert rule_features("sparse_parity", task_params(row))["order"] == 4.0
    assert all(math.isnan(x) for x in rule_features("my.module:Rule", ()).values())


@pytest.mark.parametrize("n", [4, 6])
def test_a_latin_example_is_valid_and_reads_as_a_drawn_square(n, monkeypatch):
    """The cheap example item is a valid square, and the rule's structure read from it is the
    one read from a Jacobson-Matthews draw: which cells each constraint reads does not depend on
    which valid square reads them."""
    from twoclocks.prediction import features

    task = make_task("latin", n=n)
    rng = np.random.default_rng(3)
    cheap, drawn = task.example(rng), task.sample(1, rng)[0]
    assert task.is_valid(cheap[None]).all()
    measured = []
    for item in (cheap, drawn):
        monkeypatch.setattr(type(task), "example", lambda self, r, item=item: item)
        features._measured.cache_clear()
        measured.append(rule_features("latin", (("n", n),)))
    features._measured.cache_clear()
    assert measured[0] == measured[1] and measured[0]["order"] == n  # a row or column reads n cells


def test_the_features_of_a_large_latin_square_need_no_slow_draw():
    assert rule_features("latin", (("n", 32),))["log2_checks"] == pytest.approx(math.log2(64))


@pytest.mark.parametrize(("order_effect", "spread", "chosen"), [(1.0, 0.1, "features"), (0.0, 0.25, "size")])
def test_held_out_rules_choose_whether_the_rule_features_enter(order_effect, spread, chosen):
    # tau_mem with each rule's own offset (sd `spread` decades, unrelated to its features) and
    # an effect of the constraint order or none: five rules and four features, so that the
    # features can fit the offsets of the fitted rules; only holding out each rule tells a
    # real effect from a fitted one.
    runs = rule_runs()
    table = runs.table.copy()
    rng = np.random.default_rng(11)
    offsets = {name: spread * rng.standard_normal() for name in RULES}
    order = table["task"].map(lambda name: rule_features(name, ())["order"])
    y = 2.2 + 1.2 * np.log10(table["data.N"]) + order_effect * order + table["task"].map(offsets)
    table["tau_mem"] = 10 ** (y + SIGMA * rng.standard_normal(len(table)))
    law = Laws.fit(Runs(table, runs.sources), draws=5).laws["tau_mem"]
    assert ("order" in law.design.terms) == (chosen == "features"), law.heldout
    assert {f"{law.form}+rule=features", f"{law.form}+rule=size"} <= set(law.heldout)


def test_an_unseen_rule_is_predicted_with_its_features_inside_the_fitted_rules():
    # Row weight (order 6) beyond rules of order 2 and 3: predicted at order 3, and its interval
    # carries the cost of a rule outside (sb) beside that of an unseen rule (sr).
    laws = Laws.fit(rule_runs(rules=RULES[:3]), draws=10)
    v = config_variables(cfg("task=hamming_weight", "data.N=16"))
    assert float(at_fitted_size(v, laws.variables)["order"].iloc[0]) == 3.0
    reach = laws.reaches(v)["tau_mem"]
    assert reach.features_outside == ("order",) and reach.rule_outside == 1 and reach.rule_unseen == 1
    assert laws.reaches(config_variables(cfg("task=linear_code", "data.N=16")))["tau_mem"].rule_outside == 0


def test_an_unseen_rule_carries_the_spread_of_the_fitted_rules_offsets():
    # The law's rule_spread is the root mean square of its rules' own offsets; set them to
    # +-0.3 decades, and the prediction of a rule it never saw is wider by 0.3 in quadrature,
    # added after the calibration's scale (a = 0.5, which would have halved it); a seen rule's is not.
    from dataclasses import replace

    laws = Laws.fit(rule_runs(rules=RULES[:4], seeds=3), draws=20)
    law = laws.laws["tau_mem"]
    is_rule = np.array([label.startswith("task=") for label in law.design.labels()])
    beta = law.fit.beta.copy()
    beta[is_rule] = 0.3 * np.where(np.arange(is_rule.sum()) % 2 == 0, 1.0, -1.0)
    draws = [replace(d, beta=beta) for d in law.draws]
    laws.laws["tau_mem"] = replace(law, fit=replace(law.fit, beta=beta), draws=draws)
    assert laws.laws["tau_mem"].rule_spread() == pytest.approx(0.3)
    params = {"a": 0.5, "s0": 0.01, "kN": 0.3, "sb": 0.01, "sx": 0.3, "su": 0.3, "sr": 0.01}
    cal = laws.calibrated(Calibration({c: dict(params) for c in CLOCKS}, "a test"))

    def spread(task: str, rule_spread: bool = True) -> float:
        v = config_variables(cfg(f"task={task}", "data.N=16"))
        return float(np.std(predict_samples(cal, v, rule_spread=rule_spread)["tau_mem"]))

    assert spread("mirror") == pytest.approx(spread("mirror", rule_spread=False))  # a seen rule
    without = spread("hamming_weight", rule_spread=False)
    assert spread("hamming_weight") == pytest.approx(math.hypot(without, 0.3), rel=0.05) and without < 0.1


def test_a_rule_asked_at_a_size_none_of_its_runs_had_is_predicted_as_an_unseen_rule():
    # Every fitted run of group parity has G = 2: at G = 3 its own offset (fitted at G = 2) is
    # not carried; it is predicted from its features, with the unseen rule's calibrated term.
    laws = Laws.fit(rule_runs(rules=RULES[:3]), draws=10)
    params = {"a": 1.0, "s0": 0.05, "kN": 0.3, "sb": 0.01, "sx": 0.3, "su": 0.3, "sr": 0.4}
    cal = laws.calibrated(Calibration({c: dict(params) for c in CLOCKS}, "a test"))
    v, warning = at_another_size(config_variables(cfg("task=parity", "task.G=3", "data.N=16")), laws.variables)
    assert v["task"].iloc[0] != "parity" and warning is not None and "every fitted run of it has" in warning
    same, _ = at_another_size(config_variables(cfg("task=parity", "data.N=16")), laws.variables)
    assert same["task"].iloc[0] == "parity"
    p = predict_config(cal, cfg("task=parity", "task.G=3", "data.N=16"))
    assert p.warnings[0] == warning and not any("task.G=3: no fitted run has it" in w for w in p.warnings)

    def width(config) -> float:
        lo, hi = predict_config(cal, config).clocks["tau_mem"].intervals[0.95]
        return math.log10(hi / lo)

    assert width(cfg("task=parity", "task.G=3", "data.N=16")) > width(cfg("task=parity", "data.N=16")) + 0.8
    order = rule_features("parity", (("G", 3),))["order"]  # the features carry the size
    assert abs(math.log10(p.clocks["tau_rule"].median) - truth("tau_rule", order, 16)) < 0.15


def test_a_clock_no_run_of_the_rule_reached_is_printed_beside_the_longest_run():
    runs = rule_runs(rules=RULES[:3])
    table = runs.table.copy()
    mirror = (table["task"] == "mirror").to_numpy()
    table.loc[mirror, "tau_rule_censored"] = True
    table.loc[mirror, "tau_rule"] = np.nan
    table.loc[mirror, "max_step"] = np.where(table.loc[mirror, "data.N"] == 32, 54_321, 1_000)
    laws = Laws.fit(Runs(table, runs.sources), draws=10)
    p = predict_config(laws, cfg("task=mirror", "data.N=16"))
    assert p.clocks["tau_rule"].unreached == (pytest.approx(54_321), int(mirror.sum()))
    assert p.clocks["tau_rule"].to_dict()["unreached_above"] == pytest.approx(54_321)
    line = next(x for x in p.lines() if x.startswith("tau_rule "))
    assert f"none of the {int(mirror.sum())} runs of this rule reached it; the longest ran 54,321 steps" in line
    assert p.clocks["tau_mem"].unreached is None and "none of" not in p.lines()[-1]
    assert predict_config(laws, cfg("task=parity", "data.N=16")).clocks["tau_rule"].unreached is None
