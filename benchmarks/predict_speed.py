"""How long `twoclocks predict` and a train.steps=auto start take, the first call (the laws are
fitted and cached) and the later ones (read from the cache), import time included.

    python benchmarks/predict_speed.py [--repeats 5] [--args data.N=48]

Each call is a fresh process (`python -m twoclocks.cli predict ...`), as a user's command is,
with its own empty cache directory (XDG_CACHE_HOME) for the first call; printed: the CPU, the
load average, wall and CPU seconds of each call, and the seconds of the imports alone
(`python -c "import ..."` of what the command imports) and of sizing a train.steps=auto budget
in a process whose cache is warm.
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--args", nargs="*", default=["data.N=48"])
    args = ap.parse_args()
    print(f"CPU: {cpu_name()}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    predict = [sys.executable, "-m", "twoclocks.cli", "predict", *args.args]
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, XDG_CACHE_HOME=cache, OMP_NUM_THREADS="1")
        wall, cpu, first = timed(predict, env)
        print(f"first call (fits and caches the laws): wall {wall:.2f} s, CPU {cpu:.2f} s")
        later = [timed(predict, env) for _ in range(args.repeats)]
        assert all(out == first for _, _, out in later), "a cached prediction differs from the fitted one"
        walls, cpus = [w for w, _, _ in later], [c for _, c, _ in later]
        print(
            f"later calls ({args.repeats}): wall median {statistics.median(walls):.2f} s "
            f"(min {min(walls):.2f}, max {max(walls):.2f}), CPU median {statistics.median(cpus):.2f} s"
        )
        imports = [sys.executable, "-c", "import twoclocks.cli, twoclocks.commands.predict"]
        walls = [timed(imports, env)[0] for _ in range(args.repeats)]
        print(f"imports alone: wall median {statistics.median(walls):.2f} s")
        sized = [timed([sys.executable, "-c", SIZE_AUTO], env)[2].split() for _ in range(args.repeats)]
        seconds = [float(s) for s, _ in sized]
        print(
            f"train.steps=auto sized (imports included) with a warm cache: {statistics.median(seconds):.2f} s "
            f"(budget {sized[0][1]} steps)"
        )
    print(first)


if __name__ == "__main__":
    main()
