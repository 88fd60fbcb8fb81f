"""The GPT and the masked diffusion model trained as groups: every member is its single run bit
for bit (weights, gradients and AdamW state step by step; whole runs' metrics.parquet,
checkpoints and clocks), a group killed in the middle resumes to the same runs, and a sweep
with --group trains their points as groups, with the ungrouped sweep's results."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd
import pytest
import torch

import twoclocks.training.group as group_module
from conftest import TINY, crash_at_step, run_metrics
from twoclocks.config import build_config
from twoclocks.models.gpt import GPT, GroupedGPT
from twoclocks.models.mdm import GroupedMDM
from twoclocks.sweeps.executors import run_sweep
from twoclocks.sweeps.plan import plan
from twoclocks.sweeps.results import TIMING_COLUMNS
from twoclocks.sweeps.spec import spec_from_args
from twoclocks.training.experiment import build_experiment
from twoclocks.training.group import GroupTrainer, can_group, group_blocker, train_group
from twoclocks.training.runner import start_run
from twoclocks.training.trainer import Trainer

FAMILIES = ["gpt", "mdm"]
# Members that differ in seed, N, data seed, noise seed and task (parity's G: one encoding).
MEMBERS = [["seed=0"], ["seed=1", "data.N=12", "task.G=3", "data.seed=5", "eval.noise_seed=7"]]
# Whole runs: short, with a checkpoint before the crash step and evaluations after it.
RUN = ["train.steps=40", "train.checkpoint_every=10", "eval.points=3", "eval.samples=32"]
CRASH_STEP = 25


def configs(family: str, *extra: str, members=MEMBERS):
    return [build_config([*TINY, f"model={family}", *extra, *m]) for m in members]


@pytest.fixture(scope="module", params=FAMILIES)
def singles(request, tmp_path_factory) -> tuple[str, list[Path]]:
    """Each family's members trained as single runs: (family, their run directories)."""
    family = request.param
    root = tmp_path_factory.mktemp(f"single_{family}")
    dirs = [root / f"single{i}" for i in range(len(MEMBERS))]
    for c, d in zip(configs(family, *RUN), dirs):
        start_run(c, d, progress=False)
    return family, dirs


def assert_same_state(a_dir: Path, b_dir: Path) -> None:
    """last.pt of two runs: step, weights, AdamW moments and training generator, bit for bit."""
    a = torch.load(a_dir / "checkpoints" / "last.pt", weights_only=True)
    b = torch.load(b_dir / "checkpoints" / "last.pt", weights_only=True)
    assert a["step"] == b["step"] and a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    sa, sb = a["optimizer"]["state"], b["optimizer"]["state"]
    assert sa.keys() == sb.keys() and all(torch.equal(sa[i][k], sb[i][k]) for i in sa for k in sa[i])
    assert torch.equal(a["rng"], b["rng"])


def assert_same_runs(singles: list[Path], grouped: list[Path]) -> None:
    for s, g in zip(singles, grouped):
        pd.testing.assert_frame_equal(run_metrics(s), run_metrics(g))
        assert_same_state(s, g)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_group_steps_match_single_steps(family, precision):
    """Lock step: after every step each member's weights and gradients are its single run's."""
    cfgs = configs(family, f"train.precision={precision}")
    with tempfile.TemporaryDirectory() as tmp:
        singles = [Trainer(build_experiment(c), tmp, progress=False) for c in cfgs]
        group = GroupTrainer([Trainer(build_experiment(c), tmp, progress=False) for c in cfgs])
        assert isinstance(group.model, {"gpt": GroupedGPT, "mdm": GroupedMDM}[family])
        for _ in range(4):
            group.train_step()
            for t in singles:
                t.train_step()
            for name, P in group.model.named_parameters():
                for k, t in enumerate(singles):
                    p = t.model.get_parameter(name)
                    assert torch.equal(p.detach(), P.detach()[k]), name
                    assert torch.equal(p.grad, P.grad[k]), name
        assert all(torch.equal(t.loss_sum, m.loss_sum) for t, m in zip(singles, group.members))
        # The members really differ: a group that trained one model K times would pass the above.
        embedding = next(name for name, _ in singles[0].model.named_parameters() if name.endswith("tok.weight"))
        assert not torch.equal(singles[0].model.get_parameter(embedding), singles[1].model.get_parameter(embedding))


@pytest.mark.parametrize("family", FAMILIES)
def test_group_of_categorical_items_matches_single_steps(family):
    """Latin squares (6 cell values, a wider embedding table) in bf16: the same, step by step."""
    cfgs = configs(family, "task=latin", "data.N=8", members=[["seed=0"], ["seed=1"]])
    with tempfile.TemporaryDirectory() as tmp:
        singles = [Trainer(build_experiment(c), tmp, progress=False) for c in cfgs]
        group = GroupTrainer([Trainer(build_experiment(c), tmp, progress=False) for c in cfgs])
        for _ in range(3):
            group.train_step()
            for t in singles:
                t.train_step()
        group.to_members()
        for t, m in zip(singles, group.members):
            for (name, p), q in zip(t.model.named_parameters(), m.model.parameters()):
                assert torch.equal(p, q), name
                for key, value in t.optimizer.state[p].items():
                    assert torch.equal(value, m.optimizer.state[q][key]), (name, key)


def test_grouped_runs_are_the_single_runs(singles, tmp_path):
    """Whole runs: metrics.parquet (the likelihood columns too), last.pt, snapshots, clocks."""
    family, single_dirs = singles
    cfgs = configs(family, *RUN)
    grouped = [tmp_path / f"group{i}" for i in range(len(cfgs))]
    assert can_group(cfgs)
    summaries = train_group(cfgs, grouped)
    assert_same_runs(single_dirs, grouped)
    likelihood = "ll_heldout" if family == "gpt" else "elbo_heldout"
    assert run_metrics(grouped[1])[likelihood].notna().all()
    for s, g in zip(single_dirs, grouped):
        single = json.loads((s / "summary.json").read_text())
        group = next(x for x in summaries if x["seed"] == single["seed"])
        for key in ("tau_rule", "tau_mem", "window_log10", "N", "num_params", "task"):
            assert single[key] == group[key], key
        snaps = sorted(p.name for p in (s / "checkpoints").glob("step_*.pt"))
        assert snaps and snaps == sorted(p.name for p in (g / "checkpoints").glob("step_*.pt"))
        for name in snaps:
            a = torch.load(s / "checkpoints" / name, weights_only=True)["model"]
            b = torch.load(g / "checkpoints" / name, weights_only=True)["model"]
            assert all(torch.equal(a[k], b[k]) for k in a), name


def test_killed_group_resumes_to_the_single_runs(singles, tmp_path, monkeypatch):
    family, single_dirs = singles
    cfgs = configs(family, *RUN)
    grouped = [tmp_path / f"group{i}" for i in range(len(cfgs))]
    with crash_at_step(monkeypatch, GroupTrainer, CRASH_STEP):
        train_group(cfgs, grouped)
    assert all((d / "checkpoints" / "last.pt").is_file() and not (d / "summary.json").exists() for d in grouped)
    train_group(cfgs, grouped)
    assert_same_runs(single_dirs, grouped)


def test_which_gpt_and_mdm_runs_group():
    gpt, mdm = configs("gpt", members=[[]])[0], configs("mdm", members=[[]])[0]
    assert can_group(configs("gpt")) and can_group(configs("mdm"))
    assert "differ" in (group_blocker([gpt, mdm]) or "")
    assert "differ" in (group_blocker([gpt, build_config([*TINY, "model=gpt", "model.width=64"])]) or "")
    tied = GPT(build_experiment(gpt).encoding, gpt.model, tie_weights=True)
    assert "tied" in (tied.group_blocker() or "")


def test_grouped_sweep_groups_gpt_and_mdm_points(tmp_path, monkeypatch):
    """`sweep --group`: one group per family (two seeds each), every point finished, and its
    results.parquet (timings aside) that of the same sweep run point by point."""
    short = [*TINY, "train.steps=20", "eval.points=2", "eval.samples=16"]
    base = [o for o in short if not o.startswith("train.threads")]
    grouped_families = []

    def counting(cfgs, dirs, progress=False, budgets=None):
        grouped_families.append((cfgs[0].model.family, len(cfgs)))
        return train_group(cfgs, dirs, progress, budgets)

    monkeypatch.setattr(group_module, "train_group", counting)
    results = {}
    for group in (True, False):
        spec = spec_from_args(base, ["model.family=gpt,mdm"], 2)
        spec.workers, spec.group = 1, group
        outcome = run_sweep(spec, tmp_path / f"sweep_{group}", progress=False)
        assert (outcome.executed, outcome.failed) == (4, 0)
        table = pd.read_parquet(tmp_path / f"sweep_{group}" / "results.parquet")  # in the spec's order
        results[group] = table.drop(columns=[c for c in TIMING_COLUMNS if c in table])
    assert sorted(grouped_families) == [("gpt", 2), ("mdm", 2)]  # the ungrouped sweep grouped nothing
    grouped = results[True]
    assert (grouped["status"] == "finished").all() and sorted(grouped["seed"]) == [0, 0, 1, 1]
    # Each member's own outcome is compared, not one model's K times: the seeds' peaks differ.
    assert (grouped.groupby("model.family")["peak_constraint_acc"].nunique() == 2).all()
    pd.testing.assert_frame_equal(grouped, results[False])


def test_gpu_plan_groups_gpt_and_mdm():
    """The plan of `reproduce --group --dry-run` on a GPU deals every family's points into groups
    (the seeds and G of each family's (G, N) cells together)."""
    spec = spec_from_args(TINY, ["model.family=dit,gpt,mdm", "task.G=2,3"], 3)
    spec.group = True
    _, loads = plan(spec, device_type="cuda")
    assert {family: [m for m, _, _ in w.group_tasks] for family, w in loads.items()} == {
        "dit": [6],
        "gpt": [6],
        "mdm": [6],
    }
