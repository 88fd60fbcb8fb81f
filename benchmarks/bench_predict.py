"""How long `twoclocks predict` and a train.steps=auto start take, the first call (the laws are
fitted and cached) and the later ones (read from the cache), import time included.

    python benchmarks/bench_predict.py [--repeats 5] [--cold 3] [--args data.N=48]

Each call is a fresh process (`python -m twoclocks.cli predict ...`), as a user's command is.
A first call (cold) has an empty cache directory (XDG_CACHE_HOME) of its own: it fits the laws
and caches them; --cold such calls, each with a fresh cache. Later calls (warm) read the laws of
the last one. Printed: the CPU, the load average before and after, the median (min, max) wall
and CPU seconds of the cold and the warm calls, the seconds of the imports alone (`python -c
"import ..."` of what the command imports; torch's share of them), and of sizing a
train.steps=auto budget in a process whose cache is warm. The goal: a warm call under 1 s of
wall time.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

SIZE_AUTO = (
    "import time; t = time.perf_counter()\n"
    "from twoclocks.config import build_config\n"
    "from twoclocks.prediction.autobudget import resolve_steps\n"
    "cfg, record = resolve_steps(build_config(['data.N=48', 'train.steps=auto', 'train.stop_at=mem']))\n"
    "print(f'{time.perf_counter() - t:.3f} {cfg.train.steps}')\n"
)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        return f"{names[0]} ({len(names)} logical cores)" if names else platform.processor()
    except OSError:
        return platform.processor() or platform.machine()


def timed(cmd: list[str], env: dict) -> tuple[float, float, str]:
    """(wall s, CPU s of the child, stdout) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stdout


def spread(what: str, calls: list[tuple[float, float, str]]) -> str:
    walls, cpus = [w for w, _, _ in calls], [c for _, c, _ in calls]
    return (
        f"{what} ({len(calls)}): wall median {statistics.median(walls):.2f} s (min {min(walls):.2f}, "
        f"max {max(walls):.2f}), CPU median {statistics.median(cpus):.2f} s"
    )


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="warm calls")
    ap.add_argument("--cold", type=int, default=3, help="first calls, each with an empty cache")
    ap.add_argument("--args", nargs="*", default=["data.N=48"])
    args = ap.parse_args()
    print(f"CPU: {cpu_name()}; load average {load()}")
    predict = [sys.executable, "-m", "twoclocks.cli", "predict", *args.args]
    with tempfile.TemporaryDirectory() as root:
        cold = []
        for i in range(max(1, args.cold)):
            env = dict(os.environ, XDG_CACHE_HOME=os.path.join(root, str(i)), OMP_NUM_THREADS="1")
            cold.append(timed(predict, env))
        first = cold[0][2]
        print(spread("first calls (each fits and caches the laws)", cold))
        later = [timed(predict, env) for _ in range(args.repeats)]
        assert all(out == first for _, _, out in cold + later), "a cached prediction differs from the fitted one"
        print(spread("later calls (the laws read from the cache)", later))
        imports = [sys.executable, "-c", "import twoclocks.cli, twoclocks.commands.predict"]
        walls = [timed(imports, env)[0] for _ in range(args.repeats)]
        torch = [timed([sys.executable, "-c", "import torch"], env)[0] for _ in range(args.repeats)]
        print(
            f"imports alone: wall median {statistics.median(walls):.2f} s (`import torch` alone, which "
            f"predict must not need: {statistics.median(torch):.2f} s)"
        )
        sized = [timed([sys.executable, "-c", SIZE_AUTO], env)[2].split() for _ in range(args.repeats)]
        seconds = [float(s) for s, _ in sized]
        print(
            f"train.steps=auto sized (imports included) with a warm cache: {statistics.median(seconds):.2f} s "
            f"(budget {sized[0][1]} steps)"
        )
    print(f"load average after: {load()}")
    print(first)


if __name__ == "__main__":
    main()
