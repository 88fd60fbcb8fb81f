"""What runs inside a sweep's worker (a pool process or a Ray worker): one point, or one
batched group of points, finished whatever state its run directories are in.

A point's run directory is named by its config hash, and the worker holds an exclusive lock on
it while it trains (the OS drops the lock when a process dies), so a leftover worker of a killed
sweep and a new one never write one run at once; every file is written atomically, so a kill
leaves a finished summary.json or a resumable last.pt.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

from twoclocks.core.locks import pid_alive
from twoclocks.errors import TwoClocksError
from twoclocks.training.rundir import RunDir

if TYPE_CHECKING:  # the trainer (torch) is imported where a point runs, not where a sweep is read
    from twoclocks.training.runner import StepsResolver


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def run_point(cfg_dict: dict, run_dir: str, resolve: StepsResolver | None = None) -> dict:
    """Finish one point whatever state its directory is in (`runner.finish`: skip, resume,
    restart or start; train.steps=auto sized by `resolve`, the driver's).

    Returns {"status": "finished", "summary": ..., "action": runner.ACTIONS' word} or
    {"status": "failed", "error": one line}. Never raises for a run's own errors.
    """
    from twoclocks.config import from_dict
    from twoclocks.training.runner import finish

    rd = RunDir(run_dir)
    try:
        with rd.lock(wait=True):
            action, summary = finish(rd, from_dict(cfg_dict), progress=False, resolve=resolve)
            return {"status": "finished", "summary": summary, "action": action}
    except Exception as exc:  # the sweep records it and goes on with the other points
        return {"status": "failed", "error": one_line(exc)}


def run_points(cfg_dicts: list[dict], run_dirs: list[str], resolve: StepsResolver | None = None) -> list[dict]:
    """Finish a task: one point with `run_point`, several as one batched group
    (`training.group.train_group`, whose members are bit-identical to single runs on the CPU).
    A group that cannot run together (e.g. some members were resumed separately) falls back to
    running its points one by one, so grouping never changes a result, only the speed.
    `resolve` sizes train.steps=auto (the driver passes it; this layer knows no laws)."""
    if len(cfg_dicts) == 1:
        return [run_point(cfg_dicts[0], run_dirs[0], resolve)]
    from twoclocks.config import from_dict
    from twoclocks.training.group import train_group
    from twoclocks.training.runner import resolved

    dirs = [RunDir(d) for d in run_dirs]
    try:
        with contextlib.ExitStack() as stack:
            for rd in dirs:
                stack.enter_context(rd.lock(wait=True))
            sized = [resolved(from_dict(c), resolve) for c in cfg_dicts]
            summaries = train_group([c for c, _ in sized], [rd.path for rd in dirs], budgets=[b for _, b in sized])
        return [{"status": "finished", "summary": s, "action": "grouped"} for s in summaries]
    except TwoClocksError:
        return [run_point(c, d, resolve) for c, d in zip(cfg_dicts, run_dirs)]
    except Exception as exc:  # a crash of the group: record it for every member
        return [{"status": "failed", "error": one_line(exc)} for _ in cfg_dicts]


def init_worker(parent: int, environ: dict[str, str]) -> None:
    """Pool-worker initializer: the driver's environment (a worker forked from the pool's server
    has the server's, from when it started); a worker whose driver (`parent`) died (kill -9)
    stops training; SIGTERM from the driver ends it releasing its point's lock."""
    os.environ.clear()
    os.environ.update(environ)
    try:  # Linux: have the kernel kill us when our parent (the driver, or the server) dies
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    start_parent = os.getppid()  # the server ends with the driver, so its end is the driver's

    def watch() -> None:  # portable fallback
        while os.getppid() == start_parent and pid_alive(parent):
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()

    def stop(signum: int, frame: object) -> None:  # the driver stops us: release the point's lock
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    sys.unraisablehook = stop_where_unraisable


def stop_where_unraisable(info: sys.UnraisableHookArgs) -> None:
    """The stop's SystemExit raised where Python cannot propagate it (in an import lock's weakref
    callback, a finaliser) would be printed as "Exception ignored" and lost, the worker going on:
    end the process there instead, its code the stop's (the OS drops its point's lock,
    twoclocks.core.locks). Anything else is reported as Python reports it."""
    if isinstance(info.exc_value, SystemExit):
        os._exit(info.exc_value.code if isinstance(info.exc_value.code, int) else 1)
    sys.__unraisablehook__(info)
