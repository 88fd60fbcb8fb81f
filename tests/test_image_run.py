"""A run on images end to end (tiny IDX files the test writes), and its image metrics and clocks
against independent computations: the ratio criterion by scikit-learn's exact nearest-neighbour
search (a planted copy counts, a held-out image does not), its chance level on the held-out
images, gen against valid, the clocks against `crossing` on the curves themselves."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.neighbors import NearestNeighbors

from conftest import TINY, crash_at_step, digest
from test_image_tasks import write_idx_set
from twoclocks.analysis.report import build_report
from twoclocks.clocks import GEN, clock_keys, compute_clocks
from twoclocks.config import ClockConfig, build_config
from twoclocks.core.stats import crossing
from twoclocks.data import TrainingIndex
from twoclocks.encoding import Encoding
from twoclocks.errors import ConfigError
from twoclocks.imagemetrics.evaluation import ImageEvaluation, image_evaluation
from twoclocks.imagemetrics.loss_gap import SEED_GAP, loss_gap
from twoclocks.tasks import build_task
from twoclocks.tasks.images import sources
from twoclocks.tasks.images.idx import idx_bytes
from twoclocks.training.image_samples import chosen_steps, nearest_items
from twoclocks.training.runner import resume_run, start_run, summary_lines
from twoclocks.training.trainer import Trainer


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def mnist_task(tmp_path, levels: int = 2, size: int = 14):
    write_idx_set(tmp_path / "d", n_train=40, n_test=20)
    return build_task({"name": "mnist", "root": str(tmp_path / "d"), "size": size, "levels": levels})


def ratio_by_sklearn(queries: np.ndarray, train: np.ndarray) -> np.ndarray:
    """bool (M,): d1/d2 < 1/3 by scikit-learn's brute-force search of the two nearest."""
    nn = NearestNeighbors(n_neighbors=2, algorithm="brute").fit(train.reshape(len(train), -1))
    dist, _ = nn.kneighbors(queries.reshape(len(queries), -1))
    return dist[:, 0] < dist[:, 1] / 3


def evaluation(tmp_path, n_train: int = 12) -> ImageEvaluation:
    task = mnist_task(tmp_path)
    train = task.sample(n_train, np.random.default_rng(0))
    ev = image_evaluation(task, Encoding(task.shape, task.num_values), train, TrainingIndex(train, 2), 0.95)
    assert ev is not None
    return ev


def test_the_ratio_counts_a_planted_copy_and_not_a_held_out_image(tmp_path):
    ev = evaluation(tmp_path)
    rng = np.random.default_rng(1)
    heldout = ev.task.heldout[:6]
    # continuous outputs: three training images plus a little noise (copies), three held-out images
    copies = ev.train_values[[0, 3, 7]] + 0.05 * rng.standard_normal((3, 1, 14, 14))
    values = np.concatenate([copies, ev.values(heldout)])
    cells = ev.encoding.from_continuous(torch.as_tensor(values))
    score = {"valid": 0.5, "valid_lo": 0.25, "valid_hi": 0.75}
    m = ev.metrics(MeanModel(), cells, values.astype(np.float32), score)
    expected = ratio_by_sklearn(values, ev.train_values)
    assert expected[:3].all() and not expected[3:].any()
    assert m["mem_ratio"] == pytest.approx(expected.mean()) and m["mem_ratio_lo"] <= m["mem_ratio"] <= m["mem_ratio_hi"]
    # the chance level: the same criterion on every held-out image against the training set
    all_heldout = ev.values(ev.task.heldout)
    assert m["mem_ratio_chance"] == pytest.approx(ratio_by_sklearn(all_heldout, ev.train_values).mean())
    hits = [(ev.task.heldout[i] == ev.train_cells).all(axis=(1, 2)).any() for i in range(len(ev.task.heldout))]
    assert m["mem_chance"] == pytest.approx(np.mean(hits))
    rate = ev.task.probe().recognisable(ev.task.heldout).mean()
    assert m["heldout_valid"] == pytest.approx(rate)
    if rate > 0:
        assert [m["gen"], m["gen_lo"], m["gen_hi"]] == pytest.approx([0.5 / rate, 0.25 / rate, 0.75 / rate])
    assert m["fd"] >= 0 and m["fd_floor"] >= 0


class MeanModel(torch.nn.Module):
    """A stand-in model whose loss on a chunk is the mean squared intensity of its items plus
    one draw from the loss's generator (which fixed noise makes the same for paired chunks)."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))

    def encode(self, cells):
        return torch.as_tensor(np.asarray(cells), dtype=torch.float32)

    def loss(self, batch, gen):
        return (batch**2).mean() + torch.rand((), generator=gen)


def test_the_loss_gap_is_one_minus_the_ratio_of_paired_chunk_losses():
    rng = np.random.default_rng(0)
    train, heldout = rng.integers(0, 2, (10, 4, 4)).astype(np.uint8), rng.integers(0, 3, (13, 4, 4)).astype(np.uint8)
    got = loss_gap(MeanModel(), train, heldout, 0.95)
    seeds = [SEED_GAP + k for k in range(3)]  # 10 items: chunks of 4, 4 and 2
    extra = [float(torch.rand((), generator=torch.Generator().manual_seed(s))) for s in seeds]
    chunks = [slice(0, 4), slice(4, 8), slice(8, 10)]
    lt = [float((train[c].astype(np.float64) ** 2).mean()) + e for c, e in zip(chunks, extra)]
    lh = [float((heldout[:10][c].astype(np.float64) ** 2).mean()) + e for c, e in zip(chunks, extra)]
    assert got["loss_gap"] == pytest.approx(1 - sum(lt) / sum(lh), rel=1e-6)
    assert got["loss_train"] == pytest.approx(np.mean(lt), rel=1e-6) and got["loss_gap_chance"] == 0.0
    assert got["loss_gap_lo"] <= got["loss_gap"] <= got["loss_gap_hi"]


def test_a_task_with_a_rule_has_no_image_metrics():
    task = build_task({"name": "parity"})
    cells = task.sample(4, np.random.default_rng(0))
    assert image_evaluation(task, Encoding(task.shape, 2), cells, TrainingIndex(cells, 2), 0.95) is None


def image_metrics(steps, valid, ratio, gap, chance=0.02, rate=0.9) -> pd.DataFrame:
    """A metrics table of a run on images, every curve exactly as given (tight bands)."""
    df = pd.DataFrame({"step": steps, "samples": 512})
    curves = {"valid": valid, "mem": np.zeros(len(steps)), "novel_valid": valid, "mem_ratio": ratio, "loss_gap": gap}
    for name, values in curves.items():
        df[name], df[f"{name}_lo"], df[f"{name}_hi"] = values, np.asarray(values) - 0.01, np.asarray(values) + 0.01
    df["unique_novel_valid"] = df["valid"]
    df["constraint_acc"] = df["valid"]
    df["mem_chance"] = 0.0
    df["mem_near"] = df["mem_near_lo"] = df["mem_near_hi"] = df["mem_near_chance"] = 0.0
    df["mem_ratio_chance"] = chance
    df["loss_gap_chance"] = 0.0
    for suffix in ("", "_lo", "_hi"):
        df[f"gen{suffix}"] = df[f"valid{suffix}"] / rate
    return df


def test_the_image_clocks_are_the_crossings_of_their_curves():
    steps = np.array([10, 20, 40, 80, 160, 320])
    valid = np.array([0.0, 0.3, 0.85, 0.88, 0.9, 0.9])
    ratio = np.array([0.0, 0.0, 0.05, 0.1, 0.4, 0.8])
    gap = np.array([0.0, 0.01, 0.02, 0.08, 0.15, 0.3])
    df = image_metrics(steps, valid, ratio, gap)
    clocks = compute_clocks(df, ClockConfig(), 64, 16)
    assert list(clocks) == clock_keys(optional=True)
    assert clocks[GEN.tau] == pytest.approx(crossing(steps, valid / 0.9, 0.9)[0])
    assert clocks["tau_mem_ratio"] == pytest.approx(crossing(steps, ratio - 0.02, 0.1)[0])
    assert clocks["tau_gap"] == pytest.approx(crossing(steps, gap, 0.1)[0])
    # tau_mem (exact copies) is not reached: the window is at least as wide as the rest of the run
    assert clocks["window_log10_gen"] == pytest.approx(np.log10(320 / clocks[GEN.tau]))
    assert clocks["window_log10_is_lower_bound_gen"] is True
    # a run on a rule has neither curve, so neither clock
    rule_run = df.drop(columns=["gen", "mem_ratio", "loss_gap"])
    assert list(compute_clocks(rule_run, ClockConfig(), 64, 16)) == clock_keys()


def test_chosen_steps_and_nearest_items():
    # the last, the first after 5, then evenly spaced ones
    assert chosen_steps([1, 2, 4, 8, 16, 32, 64], [5.0, None]) == [1, 4, 8, 16, 64]
    assert chosen_steps([3], [None]) == [3]
    rng = np.random.default_rng(0)
    cells, train = rng.integers(0, 3, (9, 4, 4)), rng.integers(0, 3, (7, 4, 4))
    loop = [min(range(7), key=lambda j: (((cells[i] - train[j]).astype(float) ** 2).sum(), j)) for i in range(9)]
    assert list(nearest_items(cells.astype(np.uint8), train.astype(np.uint8))) == loop


def test_a_run_on_images_prints_its_clocks_and_draws_its_samples(tmp_path):
    write_idx_set(tmp_path / "d", n_train=40, n_test=20)
    overrides = [*TINY, "task=mnist", f"task.root={tmp_path / 'd'}", "task.size=14", "train.steps=30"]
    run_dir, summary = start_run(build_config(overrides), tmp_path / "run", progress=False)
    metrics = pd.read_parquet(run_dir / "metrics.parquet")
    assert {"mem_ratio", "mem_ratio_chance", "gen", "fd", "fd_floor", "loss_gap"} <= set(metrics.columns)
    assert {GEN.tau, "tau_mem_ratio", "tau_gap", GEN.key("window_log10")} <= set(summary)
    assert summary["mem_chance"] == metrics["mem_chance"].iloc[-1]  # measured, not the population's 0
    json.loads((run_dir / "summary.json").read_text())  # strict JSON
    text = "\n".join(summary_lines(summary, run_dir))
    assert all(word in text for word in ("tau_gen ", "tau_mem_ratio", "tau_gap", "window_gen", "held-out images"))
    assert (run_dir / "plots" / "samples.png").is_file()
    index = build_report(run_dir).read_text()
    assert 'alt="samples.png"' in index


def test_a_run_resumes_only_on_the_data_files_it_started_on(tmp_path, monkeypatch):
    """Its later evaluations read the IDX files again (held-out split, probe): one changed
    pixel of the test images refuses the resume and writes nothing; the same data, gzipped
    now, resumes to the end."""
    folder = tmp_path / "d"
    arrays = write_idx_set(folder, n_train=40, n_test=20)
    overrides = [*TINY, "task=mnist", f"task.root={folder}", "task.size=14"]
    run = tmp_path / "run"
    with crash_at_step(monkeypatch, Trainer):
        start_run(build_config(overrides), run, progress=False)
    test_images = folder / sources.IDX_FILES[2]
    changed = arrays[2].copy()
    changed[3, 10, 10] ^= 1
    test_images.write_bytes(idx_bytes(changed))
    before = digest(run)
    with pytest.raises(ConfigError, match=r"mnist\(.*data files changed since .*restore them") as err:
        resume_run(run, progress=False)
    assert "\n" not in str(err.value) and digest(run) == before
    test_images.unlink()
    test_images.with_name(test_images.name + ".gz").write_bytes(gzip.compress(idx_bytes(arrays[2])))
    _, summary = resume_run(run, progress=False)
    assert summary["status"] == "finished"


def packaged_configs(name: str) -> list:
    """The configs of a packaged sweep spec's points (expanding builds no data set)."""
    from pathlib import Path

    from twoclocks.sweeps.spec import expand, load_spec

    return [p.cfg for p in expand(load_spec(Path(__file__).parents[1] / "src/twoclocks/sweeps/specs" / name))]


def test_the_packaged_digits_spec_is_the_n_ladder_at_two_levels():
    cfgs = packaged_configs("images_digits_cpu.yaml")
    assert sorted({c.data.N for c in cfgs}) == [16, 32, 64, 128, 256, 512] and len(cfgs) == 18
    assert all(c.task == {"name": "digits", "levels": 2, "size": 8, "split": "all"} for c in cfgs)
    assert all(c.train.stop_at == "mem" for c in cfgs)


def test_the_packaged_fashion_spec_is_the_n_ladder_at_14_pixels():
    """Planned without the IDX files: expanding a spec builds no data set."""
    cfgs = packaged_configs("images_fashion_gpu.yaml")
    assert sorted({c.data.N for c in cfgs}) == [16, 32, 64, 128, 256, 512] and len(cfgs) == 18
    assert all(c.task["name"] == "fashion_mnist" and c.task["size"] == 14 and c.task["levels"] == 2 for c in cfgs)
    assert all(c.train.stop_at == "mem" and c.train.steps >= 500 * c.data.N for c in cfgs)


def test_the_packaged_fashion_cpu_spec_is_a_smaller_dit_on_the_same_images():
    cfgs = packaged_configs("images_fashion_cpu.yaml")
    assert sorted({c.data.N for c in cfgs}) == [16, 32, 64, 128] and len(cfgs) == 12
    assert all(c.task["name"] == "fashion_mnist" and c.task["size"] == 14 and c.task["levels"] == 2 for c in cfgs)
    assert all((c.model.width, c.model.depth) == (64, 2) and c.train.stop_at == "mem" for c in cfgs)
