"""Shared helpers of the benchmark scripts: thread setup and interleaved timing.

The machines these run on are often shared (two cores, other jobs), so single timings are
noise. Every comparison here runs the candidates in interleaved repetitions (A, B, A, B, ...,
with the order rotated each time) and reports the median over repetitions of the per-repetition
ratio, which cancels load that changes slowly compared with one repetition.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable


def set_threads(threads: int) -> None:
    """Pin torch's intra-op threads (and OpenMP's, for libraries read at import)."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)


CLOCK = time.perf_counter  # set_clock("cpu") switches every measurement to process CPU time


def set_clock(kind: str) -> None:
    """ "wall" (perf_counter) or "cpu" (process_time). With one thread, CPU time ignores the
    time the process waits for a core, so it measures the code rather than the machine's load;
    with several threads it also counts OpenMP spinning, so use wall time there."""
    global CLOCK
    CLOCK = time.process_time if kind == "cpu" else time.perf_counter


def timing_parser(doc: str, reps: int) -> argparse.ArgumentParser:
    """The options every timing benchmark shares: --threads, --reps, --clock, --json."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=reps, help="interleaved repetitions")
    ap.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="wall time, or process CPU time (robust to load with --threads 1)",
    )
    ap.add_argument("--json", action="store_true", help="also print one JSON line of the results")
    return ap


def parse_timing_args(ap: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse the command line (trailing key=value config overrides included) and apply
    --threads and --clock."""
    ap.add_argument("overrides", nargs="*", help="key=value config overrides")
    args = ap.parse_args()
    set_threads(args.threads)
    set_clock(args.clock)
    return args


def interleaved(
    candidates: dict[str, Callable[[], None]], reps: int, inner: int = 1, sync: Callable[[], None] | None = None
) -> dict[str, list[float]]:
    """Seconds per call of each candidate, one entry per repetition; each repetition times
    `inner` consecutive calls of every candidate, in an order rotated by one each time."""
    names = list(candidates)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(reps):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            if sync:
                sync()
            t0 = CLOCK()
            for _ in range(inner):
                candidates[name]()
            if sync:
                sync()
            times[name].append((CLOCK() - t0) / inner)
    return times


def median_ratio(slow: list[float], fast: list[float]) -> float:
    """Median over repetitions of slow/fast (a speed-up when `fast` is the candidate)."""
    return statistics.median(s / f for s, f in zip(slow, fast))


def load_average() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def report(
    title: str, times: dict[str, list[float]], reference: str, unit: str = "calls/s", per_call: float = 1.0
) -> dict:
    """Print median rates and median ratios against `reference`; return them as a dict."""
    clock = "cpu time" if CLOCK is time.process_time else "wall time"
    out = {
        "title": title,
        "reference": reference,
        "reps": len(times[reference]),
        "load_average": load_average(),
        "clock": clock,
    }
    print(f"\n{title}  (median of {out['reps']} interleaved repetitions, {clock}; load average {out['load_average']})")
    for name, ts in times.items():
        rate = per_call / statistics.median(ts)
        ratio = median_ratio(times[reference], ts)
        out[name] = {"rate": rate, "ratio_vs_reference": ratio}
        print(f"  {name:<34} {rate:12.4g} {unit}   x{ratio:5.2f} vs {reference}")
    return out
