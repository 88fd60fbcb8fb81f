"""A local sweep's pool: workers forked from one server that imported the trainer once
(`sweeps.executors.pool_context`, the default where the platform has forkserver) against
workers spawned as fresh interpreters (what it was), interleaved, median ratio of wall time.

    python benchmarks/bench_pool_start.py [--reps 5] [--workers 2]

Each repetition runs `twoclocks sweep` as a user does, in a fresh process: a tiny DiT (20 steps)
at as many N as workers, so the time is mostly the pool's start and the command's own. Wall
time: the server and the workers are not children this process could count the CPU of.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

SMALL = ["model.width=32", "model.depth=1", "model.heads=2", "train.steps=20", "eval.points=2", "eval.samples=16"]
# The command line, with the pool's start method replaced by spawn for the baseline.
CODE = """
import sys
import multiprocessing as mp
import twoclocks.sweeps.executors as executors
if sys.argv[1] == "spawn":
    executors.pool_context = lambda: mp.get_context("spawn")
from twoclocks.cli import main
sys.exit(main(sys.argv[2:]))
"""


def sweep(method: str, workers: int) -> float:
    grid = ",".join(str(4 * (i + 1)) for i in range(workers))
    with tempfile.TemporaryDirectory() as tmp:
        args = ["sweep", *SMALL, "train.threads=1", "--grid", f"data.N={grid}", "--workers", str(workers)]
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", CODE, method, *args, "--out", f"{tmp}/s", "--quiet"], check=True, capture_output=True
        )
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5, help="interleaved repetitions")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    times: dict[str, list[float]] = {"spawn": [], "forkserver": []}
    for r in range(args.reps):
        for method in ["spawn", "forkserver"] if r % 2 == 0 else ["forkserver", "spawn"]:
            times[method].append(sweep(method, args.workers))
    ratios = [s / f for s, f in zip(times["spawn"], times["forkserver"])]
    for method, ts in times.items():
        print(f"{method:>10}: median {statistics.median(ts):.2f} s of wall time ({args.reps} sweeps)")
    print(f"spawn / forkserver: median ratio {statistics.median(ratios):.2f} ({', '.join(f'{x:.2f}' for x in ratios)})")


if __name__ == "__main__":
    main()
