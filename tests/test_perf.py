"""Performance machinery that must not change results: runs trained as one group are the
single runs bit for bit, the exact copy check is exact, and `twoclocks bench --json` reports.
No timings are asserted here (see benchmarks/ and docs/performance.md)."""

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import twoclocks.data
import twoclocks.encoding as hashing
from conftest import TINY, crash_at_step
from twoclocks import cli
from twoclocks.config import build_config
from twoclocks.data import TrainingIndex
from twoclocks.training.experiment import build_experiment
from twoclocks.training.group import GroupTrainer, can_group, group_blocker, group_key, train_group
from twoclocks.training.runner import start_run
from twoclocks.training.trainer import Trainer

TIMING = ["train_seconds", "eval_seconds"]
MEMBERS = [["seed=0"], ["seed=1", "data.N=12"], ["seed=2", "eval.noise_seed=7"]]


def metrics(run_dir) -> pd.DataFrame:
    return pd.read_parquet(run_dir / "metrics.parquet").drop(columns=TIMING)


def assert_same_state(a_dir, b_dir) -> None:
    a = torch.load(a_dir / "checkpoints" / "last.pt", weights_only=True)
    b = torch.load(b_dir / "checkpoints" / "last.pt", weights_only=True)
    assert a["step"] == b["step"]
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    sa, sb = a["optimizer"]["state"], b["optimizer"]["state"]
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[i][k], sb[i][k]) for i in sa for k in sa[i])
    assert torch.equal(a["rng"], b["rng"])


def single_runs(tiny_run: Path, tmp_path: Path, cfgs: list) -> list[Path]:
    """The single run of each config; the first member (TINY, seed 0) is the shared tiny run."""
    assert cfgs[0] == build_config(TINY)
    for i, c in enumerate(cfgs[1:], 1):
        start_run(c, tmp_path / f"single{i}", progress=False)
    return [tiny_run, *(tmp_path / f"single{i}" for i in range(1, len(cfgs)))]


def test_group_is_bit_identical_to_single_runs(tiny_run, tmp_path):
    cfgs = [build_config(TINY + m) for m in MEMBERS]
    dirs = single_runs(tiny_run, tmp_path, cfgs)
    singles = [json.loads((d / "summary.json").read_text()) for d in dirs]
    group = train_group(cfgs, [tmp_path / f"group{i}" for i in range(len(cfgs))])
    for i, (s, g) in enumerate(zip(singles, group)):
        pd.testing.assert_frame_equal(metrics(dirs[i]), metrics(tmp_path / f"group{i}"))
        assert_same_state(dirs[i], tmp_path / f"group{i}")
        for key in ("tau_rule", "tau_mem", "window_log10", "N", "seed", "num_params"):
            assert s[key] == g[key], key
        for name in ("config.json", "train_set.npz", "summary.json", "plots/clocks.png"):
            assert (tmp_path / f"group{i}" / name).is_file()
    assert len(list((tmp_path / "group1" / "samples").glob("*.npz"))) == len(metrics(tmp_path / "group1"))


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_group_step_matches_single_steps(precision):
    """Lock-step check, parameters and gradients after every step, in both precisions."""
    cfgs = [build_config(TINY + m + [f"train.precision={precision}"]) for m in MEMBERS]
    with tempfile.TemporaryDirectory() as tmp:
        singles = [Trainer(build_experiment(c), tmp, progress=False) for c in cfgs]
        group = GroupTrainer([Trainer(build_experiment(c), tmp, progress=False) for c in cfgs])
        for _ in range(5):
            group.train_step()
            for t in singles:
                t.train_step()
            for name, P in group.model.named_parameters():
                for k, t in enumerate(singles):
                    p = t.model.get_parameter(name)
                    assert torch.equal(p.detach(), P.detach()[k]), name
                    assert torch.equal(p.grad, P.grad[k]), name
        assert all(torch.equal(t.loss_sum, m.loss_sum) for t, m in zip(singles, group.members))


@pytest.mark.parametrize("threads", [1, 2])
def test_group_adamw_is_bit_identical_at_full_width(threads):
    """The stacked AdamW at the default width (tensors large enough to be split between
    threads), after steps with nonzero moments, against single runs, in bf16."""
    before = torch.get_num_threads()
    wide = [o for o in TINY if not o.startswith(("model.width", "model.heads", "train.threads"))]
    cfgs = [build_config(wide + m + ["model.width=128", f"train.threads={threads}"]) for m in MEMBERS[:2]]
    try:
        group = assert_group_steps_match_singles(cfgs, steps=3)
        assert group.stacked and group.loose  # both update paths were exercised
    finally:
        torch.set_num_threads(before)


def assert_group_steps_match_singles(cfgs, steps: int) -> GroupTrainer:
    """`steps` group steps against as many single-run steps: then the members' weights, AdamW
    moments and learning rates must be the single runs' bit for bit. Returns the group."""
    with tempfile.TemporaryDirectory() as tmp:
        singles = [Trainer(build_experiment(c), tmp, progress=False) for c in cfgs]
        group = GroupTrainer([Trainer(build_experiment(c), tmp, progress=False) for c in cfgs])
        for _ in range(steps):
            group.train_step()
            for t in singles:
                t.train_step()
        group.to_members()
        for t, m in zip(singles, group.members):
            for (name, p), q in zip(t.model.named_parameters(), m.model.parameters()):
                assert torch.equal(p, q), name
                for key, value in t.optimizer.state[p].items():
                    assert torch.equal(value, m.optimizer.state[q][key]), (name, key)
            assert t.optimizer.param_groups[0]["lr"] == m.optimizer.param_groups[0]["lr"]
    return group


def test_group_resumes_after_a_crash(tiny_run, tmp_path, monkeypatch):
    cfgs = [build_config(TINY + m) for m in MEMBERS[:2]]
    singles = single_runs(tiny_run, tmp_path, cfgs)
    dirs = [tmp_path / f"group{i}" for i in range(2)]
    with crash_at_step(monkeypatch, GroupTrainer):
        train_group(cfgs, dirs)
    train_group(cfgs, dirs)
    for i in range(2):
        pd.testing.assert_frame_equal(metrics(singles[i]), metrics(dirs[i]))
        assert_same_state(singles[i], dirs[i])


def test_which_runs_can_be_grouped():
    base = build_config(TINY)
    assert can_group([base, build_config(TINY + ["seed=3", "data.N=5", "data.seed=9"])])
    assert group_key(base) == group_key(build_config(TINY + ["seed=4"]))
    assert "differ" in group_blocker([base, build_config(TINY + ["model.width=64"])])
    assert "not groupable" in group_blocker([build_config(TINY + ["train.ema=0.9"])])
    assert not can_group([])


def test_bench_json_reports_throughput(capsys):
    assert cli.main(["bench", *TINY, "--steps", "2", "--warmup", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in (
        "train_steps_per_s",
        "sample_per_s",
        "gflops",
        "train_gflop_per_step",
        "eval_gflop",
        "predicted_eval_share",
    ):
        assert result[key] > 0, key
    assert result["family"] == "dit" and result["samples"] == 64


# ----- exact copy check ---------------------------------------------------------------------------
def naive_match(train: np.ndarray, queries: np.ndarray) -> np.ndarray:
    first: dict[bytes, int] = {}
    for i, item in enumerate(train):
        first.setdefault(item.tobytes(), i)
    return np.array([first.get(q.tobytes(), -1) for q in queries], dtype=np.int64)


def random_case(rng: np.random.Generator, K: int, shape: tuple[int, int], n: int = 400):
    train = rng.integers(0, K, (n, *shape)).astype(np.uint8)
    train = np.concatenate([train, train[: n // 10]])  # duplicates
    queries = np.concatenate(
        [
            train[rng.integers(0, len(train), n)],  # hits
            rng.integers(0, K, (n, *shape)).astype(np.uint8),  # mostly misses
            rng.integers(0, 256, (20, *shape)).astype(np.uint8),
        ]
    )  # values >= K
    return train, queries


@pytest.mark.parametrize("K,shape", [(2, (6, 6)), (2, (9, 9)), (3, (2, 3)), (4, (6, 6)), (9, (9, 9)), (200, (3, 3))])
def test_match_equals_a_set_lookup(K, shape):
    rng = np.random.default_rng(K)
    train, queries = random_case(rng, K, shape)
    got = TrainingIndex(train, K).match(queries)
    assert np.array_equal(got, naive_match(train, queries))
    assert (got >= 0).any() and (got < 0).any()


@pytest.mark.parametrize("K,shape", [(4, (6, 6)), (9, (9, 9)), (2, (12, 12))])
def test_match_is_exact_under_hash_collisions(K, shape, monkeypatch):
    """A hash with 4 values: nearly every lookup collides, and only comparing cells decides.
    (Items of several packed words; single-word items rely on the real mixer being a bijection,
    tested below.)"""
    real = hashing.mix_words
    monkeypatch.setattr(twoclocks.data, "mix_words", lambda cols: (real(cols) & np.uint64(3)) << np.uint64(62))
    rng = np.random.default_rng(0)
    train, queries = random_case(rng, K, shape, n=300)
    assert np.array_equal(TrainingIndex(train, K).match(queries), naive_match(train, queries))


def test_single_word_hash_is_a_bijection():
    """Why one-word items need no cell comparison: the mixer is invertible on one word."""
    words = np.random.default_rng(0).integers(0, 2**64 - 1, 10_000, dtype=np.uint64, endpoint=True)
    h = hashing.mix_words(words[None, :])
    with np.errstate(over="ignore"):
        x = h ^ (h >> np.uint64(29)) ^ (h >> np.uint64(58))  # undo h ^= h >> 29
        inverse = np.uint64(pow(int(hashing._HASH_MULT), -1, 2**64))
        x = x * inverse  # undo the multiply
    assert np.array_equal(x ^ np.uint64(0xCBF29CE484222325), words)


def test_hash_cells_is_unchanged():
    """hash_cells keeps its values (other modules keep sets of them)."""
    cells = np.arange(2 * 36, dtype=np.uint8).reshape(2, 6, 6) % 2
    h = np.full(2, np.uint64(0xCBF29CE484222325), dtype=np.uint64)
    flat = np.concatenate([cells.reshape(2, -1), np.zeros((2, 4), np.uint8)], axis=1).view(np.uint64)
    with np.errstate(over="ignore"):
        for k in range(flat.shape[1]):
            h = (h ^ flat[:, k]) * hashing._HASH_MULT
            h ^= h >> np.uint64(29)
    assert np.array_equal(hashing.hash_cells(cells), h)


def test_group_with_no_aligned_weight(monkeypatch):
    """When no weight's size is a multiple of ALIGNED (as in a tiny model), every weight takes
    the per-member AdamW; the group still matches single runs step for step."""
    monkeypatch.setattr(GroupTrainer, "ALIGNED", 10**9)
    group = assert_group_steps_match_singles([build_config(TINY + m) for m in MEMBERS[:2]], steps=3)
    assert group.optimizer is None and not group.stacked
