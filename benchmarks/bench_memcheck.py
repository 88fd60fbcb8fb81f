"""Memorisation check throughput: generated items matched exactly against a large training set
(`TrainingIndex.match`), against a plain Python set of byte strings; target >= 1e7 items/s
against 1e5 training items.

    python benchmarks/bench_memcheck.py [--N 100000] [--queries 1000000] [--reps 5]

Queries are half training items (hits) and half fresh valid items (mostly misses), on group
parity (one 64-bit word per item) and on 4x4 sudoku-sized 4-valued grids (two words).
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from common import interleaved, report, set_threads
from twoclocks.data import TrainingIndex, draw_training_set
from twoclocks.tasks import make_task


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--N", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    set_threads(1)
    results = []
    for name, params in [("parity", {"G": 2}), ("latin", {"n": 6})]:
        task = make_task(name, **params)
        rng = np.random.default_rng(0)
        train = draw_training_set(task, args.N, rng)
        index = TrainingIndex(train, task.num_values)
        n = args.queries
        queries = np.concatenate([train[rng.integers(0, len(train), n // 2)], task.sample(n - n // 2, rng)])
        seen = {t.tobytes(): i for i, t in enumerate(train.reshape(len(train), -1))}
        flat = queries.reshape(len(queries), -1)
        expected = np.array([seen.get(row.tobytes(), -1) for row in flat])
        assert np.array_equal(index.match(queries), expected), "TrainingIndex.match disagrees with a set"
        few = slice(0, n // 20)  # the Python set is slow: time it on 5% of the queries

        cands = {
            "python set (reference)": lambda seen=seen, flat=flat, few=few: [
                seen.get(r.tobytes(), -1) for r in flat[few]
            ],
            "TrainingIndex.match": lambda index=index, queries=queries, few=few: index.match(queries[few]),
        }
        times = interleaved(cands, args.reps)
        res = report(
            f"{task.describe()}: exact copy check of {n // 20:,} items against N={args.N:,}",
            times,
            "python set (reference)",
            "items/s",
            per_call=n // 20,
        )
        full = interleaved(
            {"TrainingIndex.match": lambda index=index, queries=queries: index.match(queries)}, args.reps
        )["TrainingIndex.match"]
        res["full_rate"] = n / float(np.median(full))
        print(f"  all {n:,} queries: {res['full_rate']:.3g} items/s (target >= 1e7), hits {np.mean(expected >= 0):.2f}")
        results.append(res)
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
