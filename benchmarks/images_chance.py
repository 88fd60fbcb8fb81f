"""What the image clocks are measured against, on scikit-learn's digits: the probe's training
time and test accuracy, the chance level of each copy criterion (exact, near, ratio: the
criterion applied to the 599 held-out digits against a training set of N), and the Fréchet
floor (two halves of the test split) beside the Fréchet distance of the training set itself.

    OMP_NUM_THREADS=1 python benchmarks/images_chance.py [--levels 2 4] [--N 16 32 ... 512] [--seeds 3]

The probe is trained afresh (not read from the cache) so that its time is measured: wall
time and the process's CPU time, on one thread.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from twoclocks.data import TrainingIndex, draw_training_set
from twoclocks.evaluate import NEAR_HAMMING
from twoclocks.imagemetrics.copies import CRITERIA, copy_chance
from twoclocks.imagemetrics.frechet import frechet_distance, frechet_floor
from twoclocks.tasks import make_task
from twoclocks.tasks.images.probe import Probe, ProbeData, train_net


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def timed_probe(task) -> tuple[Probe, float, float]:
    s = task.splits
    data = ProbeData("digits", task.params.levels, 10, task.train_split, s.train_labels, task.heldout, s.test_labels)
    wall, cpu = time.perf_counter(), time.process_time()
    net = train_net(data, task.probe_spec)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    probe = Probe(net, data.levels, {})
    probe.meta["test_accuracy"] = float((probe.predict(data.test) == data.test_labels).mean())
    return probe, wall, cpu


def non_images(task, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """2,000 noise images (each cell lit at a random grey level with probability 0.3) and the
    held-out images with their cells shuffled: neither should be recognisable."""
    levels, shape = task.num_values, task.shape
    noise = np.where(rng.random((2000, *shape)) < 0.3, rng.integers(1, levels, (2000, *shape)), 0).astype(np.uint8)
    flat = task.heldout.reshape(len(task.heldout), -1)
    shuffled = np.stack([rng.permutation(row) for row in flat]).reshape(task.heldout.shape)
    return noise, shuffled


def chance_rows(task, probe: Probe, Ns: list[int], seeds: int) -> list[str]:
    """One markdown row per N: each criterion's chance (mean and range over seeds) and the
    Fréchet distance between the training set's and the test split's probe features."""
    test_features = probe.features(task.heldout)
    rows = []
    for N in Ns:
        found: dict[str, list[float]] = {name: [] for name in CRITERIA}
        fd = []
        for seed in range(seeds):
            train = draw_training_set(task, N, np.random.default_rng(seed))
            index = TrainingIndex(train, task.num_values)
            # grey-level units: the ratio is scale-free and exact on integers
            chance = copy_chance(
                task.heldout, task.heldout.astype(np.float64), index, train.astype(np.float64), NEAR_HAMMING
            )
            for name in CRITERIA:
                found[name].append(chance[f"{name}_chance"])
            fd.append(frechet_distance(probe.features(train), test_features) if N > 2 else float("nan"))
        cells = [f"{np.mean(v):.4f} ({min(v):.4f}-{max(v):.4f})" for v in found.values()]
        rows.append(f"| {task.params.levels} | {N} | " + " | ".join(cells) + f" | {np.mean(fd):.2f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--N", type=int, nargs="+", default=[16, 32, 64, 128, 256, 512])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    print(f"CPU: {cpu_name()}; probe trained on one thread")
    table = ["| levels | N | " + " | ".join(f"{n}_chance" for n in CRITERIA) + " | FD(train set, test) |"]
    table.append("|" + "---|" * (3 + len(CRITERIA)))
    for levels in args.levels:
        task = make_task("digits", levels=levels)
        probe, wall, cpu = timed_probe(task)
        feats = probe.features(task.heldout)
        train_feats = probe.features(task.train_split)
        noise, shuffled = non_images(task, np.random.default_rng(0))
        print(
            f"levels={levels}: probe trained in {wall:.1f} s wall, {cpu:.1f} s CPU; test accuracy "
            f"{probe.test_accuracy:.4f}; recognisable: test {probe.recognisable(task.heldout).mean():.4f}, "
            f"train {probe.recognisable(task.train_split).mean():.4f}, noise {probe.recognisable(noise).mean():.4f}, "
            f"shuffled test {probe.recognisable(shuffled).mean():.4f}; Fréchet floor (test halves of "
            f"{len(feats) // 2}) {frechet_floor(feats):.2f}; FD(train split, test) "
            f"{frechet_distance(train_feats, feats):.2f}"
        )
        table += chance_rows(task, probe, args.N, args.seeds)
    print("\n".join(table))


if __name__ == "__main__":
    main()
