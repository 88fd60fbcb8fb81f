"""Basin and score dissection (twoclocks.analysis.basins) on denoisers with known answers, and end to end."""

import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import copy_run
from twoclocks.analysis import basins_report
from twoclocks.analysis.basins import (
    basin_rows,
    denoise_at,
    ev_rows,
    loss_rows,
    make_probe,
    reference_population,
    select_checkpoints,
    sigma_half,
)
from twoclocks.analysis.basins_run import BasinSettings, run_basins
from twoclocks.cli import main as cli_main
from twoclocks.config import build_config
from twoclocks.models.reference import empirical_denoiser
from twoclocks.tasks import TASKS
from twoclocks.tasks.base import Task
from twoclocks.training.experiment import build_experiment

SIGMAS = (0.35, 0.7, 1.0)


def _setup(overrides, per_set):
    exp = build_experiment(build_config(overrides))
    probe = make_probe(exp.task, exp.encoding, exp.index, per_set, seed=0)
    return exp, probe


def _basins(exp, probe, denoise, sigmas=SIGMAS):
    rows = basin_rows(denoise, probe, exp.encoding, exp.index, exp.task, sigmas, ode_steps=6, sigma_min=0.002, rho=7.0)
    return pd.DataFrame(rows).set_index(["set", "sigma"])


@pytest.fixture(scope="module")
def parity():
    """Group parity G=2 (contiguous pairs), N=16; 256 trajectories per set."""
    return _setup(["data.N=16"], per_set=256)


def test_probe_sets_are_what_they_claim(parity):
    exp, probe = parity
    task, index = exp.task, exp.index
    assert task.is_valid(probe.cells["heldout"]).all()
    assert (index.match(probe.cells["heldout"]) == -1).all()  # held out: not training items
    assert len({c.tobytes() for c in probe.cells["heldout"]}) == len(probe.cells["heldout"])
    assert not task.is_valid(probe.cells["invalid"]).any()
    near = probe.cells["invalid"][probe.invalid_kind == "near"]
    assert len(near) == 128 and (probe.invalid_kind == "random").sum() == 128
    # a single bit flip breaks exactly one pair
    assert ((~task.constraints(near)).sum(axis=1) == 1).all()
    assert (probe.start["train"][:16] == index.cells).all() and len(probe.start["train"]) == 256
    again = make_probe(task, exp.encoding, index, 256, seed=0)
    assert all(np.array_equal(again.cells[s], probe.cells[s]) for s in probe.cells)
    assert torch.equal(again.noise["heldout"], probe.noise["heldout"])


def test_population_basins_equal_for_train_and_heldout_and_none_for_invalid(parity):
    exp, probe = parity
    pop, note = reference_population(exp.task, exp.encoding)
    assert note is None
    df = _basins(exp, probe, pop)
    n = 256
    for sigma in SIGMAS:
        # For G=2 the flow keeps the sign of each pair's sum, so a vertex returns iff no pair
        # flips: P = Phi(sqrt(2)/sigma)^18, the same for every valid item.
        theory = (0.5 * (1 + math.erf(1 / sigma))) ** 18
        tol = 4 * math.sqrt(theory * (1 - theory) / n) + 0.01
        for name in ("train", "heldout"):
            assert abs(df.loc[(name, sigma), "basin_size"] - theory) < tol, (name, sigma)
        assert abs(df.loc[("train", sigma), "basin_size"] - df.loc[("heldout", sigma), "basin_size"]) < 2 * tol
        assert df.loc[("invalid", sigma), "basin_size"] == 0.0
    assert (df["frac_invalid"] == 0).all()  # the rule-only denoiser always lands on valid items
    assert (df.loc["heldout", "frac_other_train"] < 0.05).all()  # and copies only by chance


def test_empirical_basins_favour_training_items(parity):
    exp, probe = parity
    df = _basins(exp, probe, empirical_denoiser(exp.encoding.to_continuous(exp.train_cells)))
    for sigma in SIGMAS:
        assert df.loc[("train", sigma), "basin_size"] >= 0.95
        assert df.loc[("heldout", sigma), "basin_size"] == 0.0
        assert df.loc[("heldout", sigma), "frac_other_train"] == 1.0
        assert df.loc[("invalid", sigma), "frac_other_train"] == 1.0


def test_loss_and_explained_variance_on_references(parity):
    exp, probe = parity
    pop, _ = reference_population(exp.task, exp.encoding)
    emp = empirical_denoiser(exp.encoding.to_continuous(exp.train_cells))
    sigmas = (0.05, 0.5, 2.0)
    out_pop, out_emp = denoise_at(pop, probe, sigmas), denoise_at(emp, probe, sigmas)
    lp = pd.DataFrame(loss_rows(out_pop, probe, 1.0)).set_index(["set", "sigma"])["loss"]
    le = pd.DataFrame(loss_rows(out_emp, probe, 1.0)).set_index(["set", "sigma"])["loss"]
    for s in sigmas:
        # parity is symmetric under flipping any pair, and every set sees the same noise
        assert lp[("train", s)] == pytest.approx(lp[("heldout", s)], rel=1e-9)
        assert lp[("invalid", s)] > lp[("heldout", s)]
        assert le[("heldout", s)] > le[("train", s)]
    assert le[("train", 0.05)] < 1e-9  # memoriser: no loss on its items
    ev_self = pd.DataFrame(ev_rows(out_pop, out_pop, sigmas))
    assert np.allclose(ev_self["ev"], 1.0)
    mean_only = {k: v.mean(dim=0, keepdim=True).expand_as(v) for k, v in out_pop.items()}
    ev_mean = pd.DataFrame(ev_rows({k: mean_only[k] for k in out_pop}, out_pop, sigmas))
    # predicting the reference's per-set mean explains none of its variance on that set
    assert np.allclose(ev_mean[ev_mean["set"] != "all"]["ev"], 0.0, atol=1e-9)
    ev_emp = pd.DataFrame(ev_rows(out_emp, out_pop, sigmas)).set_index(["set", "sigma"])["ev"]
    assert ev_emp[("heldout", 0.05)] < 0.5 < ev_emp[("train", 0.05)]  # they agree only on training items


@pytest.mark.skipif("sudoku" not in TASKS, reason="no sudoku task")
def test_enumerated_population_denoiser_for_small_sudoku():
    exp, probe = _setup(["task=sudoku", "task.size=4", "data.N=16"], per_set=48)
    pop, note = reference_population(exp.task, exp.encoding)
    assert note is None
    df = _basins(exp, probe, pop, sigmas=(0.3,))
    assert df.loc[("invalid", 0.3), "basin_size"] == 0.0
    assert df.loc[("heldout", 0.3), "basin_size"] >= 0.9 and df.loc[("train", 0.3), "basin_size"] >= 0.9


def test_population_denoiser_skipped_with_a_note_when_impossible():
    @dataclass
    class P:
        n: int = 6

    class Huge(Task):  # no closed form, 2^30 items: cannot be enumerated
        name, family, knob, Params = "huge", "binary", "n", P
        shape = (6, 6)
        log2_population = 30.0

        def sample(self, n, rng):
            return rng.integers(0, 2, (n, 6, 6), dtype=np.uint8)

        def constraints(self, cells):
            return np.ones((len(cells), 1), bool)

    exp = build_experiment(build_config([]))
    den, note = reference_population(Huge(P()), exp.encoding)
    assert den is None and "skipped" in note and "2^30" in note


def test_sigma_half_interpolation_and_censoring():
    s = np.array([0.1, 0.2, 0.4, 0.8])
    half = sigma_half(s, np.array([1.0, 0.9, 0.7, 0.3]))
    assert half["censored"] == "none"
    assert half["sigma_half"] == pytest.approx(math.exp(math.log(0.4) + 0.5 * math.log(2)))
    assert sigma_half(s, np.array([0.4, 0.3, 0.2, 0.1])) == {"sigma_half": None, "censored": "left"}
    assert sigma_half(s, np.array([1.0, 1.0, 0.8, 0.6])) == {"sigma_half": None, "censored": "right"}


def test_select_checkpoints():
    snaps = [
        (s, f"p{s}")
        for s in (
            10,
            13,
            17,
            22,
            28,
            37,
            48,
            62,
            80,
            104,
            135,
            175,
            227,
            294,
            381,
            494,
            640,
            829,
            1075,
            1393,
            1806,
            2341,
            3034,
            4000,
        )
    ]
    auto = [s for s, _ in select_checkpoints(snaps, "auto", {"tau_rule": 170.0, "tau_mem": 2500.0})]
    assert 175 in auto and 2341 in auto and auto[0] == 10 and auto[-1] == 4000 and 7 <= len(auto) <= 9
    assert [s for s, _ in select_checkpoints(snaps, "22,4000", None)] == [22, 4000]
    assert len(select_checkpoints(snaps, "all", None)) == len(snaps)
    with pytest.raises(Exception, match="available"):
        select_checkpoints(snaps, "23", None)


def test_end_to_end_tiny_run(tiny_run, tmp_path):
    run_dir = copy_run(tiny_run, tmp_path / "r")
    code = cli_main(
        [
            "basins",
            str(run_dir),
            "--sigmas",
            "0.3,1",
            "--loss-sigmas",
            "0.1,1",
            "--per-set",
            "6",
            "--ode-steps",
            "3",
            "--quiet",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    out = run_dir / "basins"
    for name in (
        "basins.parquet",
        "loss.parquet",
        "explained_variance.parquet",
        "summary.json",
        "vertices.npz",
        "basin_vs_step.png",
        "basin_vs_sigma.png",
        "loss_gap.png",
        "explained_variance.png",
    ):
        assert (out / name).is_file(), name
    b = pd.read_parquet(out / "basins.parquet")
    assert {
        "checkpoint",
        "step",
        "set",
        "sigma",
        "basin_size",
        "frac_self",
        "frac_other_train",
        "frac_novel_valid",
        "frac_invalid",
        "n",
    } <= set(b.columns)
    assert {"population", "empirical"} <= set(b["checkpoint"])
    fracs = b[["frac_self", "frac_other_train", "frac_novel_valid", "frac_invalid"]].sum(axis=1)
    assert np.allclose(fracs, 1.0) and (b["n"] == 6).all()
    ev = pd.read_parquet(out / "explained_variance.parquet")
    assert set(ev["ref"]) == {"population", "empirical"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["checkpoints"] == sorted(b["step"].dropna().unique().tolist())
    assert set(summary["sigma_half"]["population"]) == {"train", "heldout", "invalid"}
    title, html = basins_report.section(run_dir)
    assert html.count("data:image/png;base64,") == 4 and "<table>" in html
    # deterministic: a second analysis into another directory gives the same tables
    again = run_basins(
        run_dir,
        tmp_path / "b2",
        BasinSettings(sigmas=(0.3, 1.0), loss_sigmas=(0.1, 1.0), per_set=6, ode_steps=3),
        device="cpu",
        progress=False,
    )
    assert again["sigma_half"] == summary["sigma_half"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "b2" / "loss.parquet"), pd.read_parquet(out / "loss.parquet")
    )
