"""Running a sweep's points: the local and Ray executors and the driver (what each worker runs
is `sweeps.worker`).

Safety rests on three facts. (1) A point's run directory is named by its config hash, so a
restarted sweep finds its earlier work. (2) The worker holds an exclusive lock on
runs/.<name>.lock while it trains, so a leftover worker of a killed sweep and a new one never
write the same run at once (the OS drops the lock when a process dies). (3) Every file is
written atomically, so a kill leaves a finished summary.json or a resumable last.pt.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from twoclocks.core.io import read_json, write_json, write_table
from twoclocks.core.paths import check_no_links
from twoclocks.errors import ConfigError, TwoClocksError, quote
from twoclocks.sweeps.results import result_row, results_frame
from twoclocks.sweeps.spec import (
    Point,
    SweepSpec,
    expand,
    record_spec,
    sweep_lock,
)
from twoclocks.sweeps.sweepdir import SweepDir
from twoclocks.sweeps.worker import init_worker, one_line, run_points
from twoclocks.training.rundir import RunDir

if TYPE_CHECKING:
    from twoclocks.training.runner import StepsResolver

# One unit of work: (point hashes, config dicts to run, absolute run directories). A single point
# is a one-element unit; with spec.group, points that differ only in seed / data.N share one.
WorkUnit = tuple[list[str], list[dict], list[str]]


# ----- executors -----------------------------------------------------------------------------
def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class LocalExecutor:
    """A pool of `workers` processes on this machine (`pool_context`); one worker runs in-process."""

    def __init__(self, workers: int, device: str):
        self.workers = workers
        import torch

        self.device_type = "cuda" if device == "cuda" or (device == "auto" and torch.cuda.is_available()) else "cpu"
        # The pool's processes share this machine's one device: a group gets its share of it.
        self.device_share = 1.0 / workers

    def run(self, tasks: list[WorkUnit], resolve: StepsResolver | None = None) -> Iterator[tuple[str, dict]]:
        if self.workers == 1 or len(tasks) == 1:  # no pool to start: run the points one by one here
            for keys, cfgs, run_dirs in tasks:
                yield from zip(keys, run_points(cfgs, run_dirs, resolve))
            return
        import multiprocessing as mp
        from concurrent.futures import as_completed
        from concurrent.futures.process import BrokenProcessPool

        with worker_pool(min(self.workers, len(tasks))) as pool:
            futures = {pool.submit(run_points, cfgs, run_dirs, resolve): keys for keys, cfgs, run_dirs in tasks}
            try:
                for fut in as_completed(futures):
                    try:
                        results = fut.result()
                    except BrokenProcessPool:
                        raise TwoClocksError(
                            "a sweep worker process died (out of memory?); run the same sweep again to resume it"
                        ) from None
                    yield from zip(futures[fut], results)
            except BaseException:  # interrupted (SIGTERM reaches the driver alone): stop the workers too
                for child in mp.active_children():
                    child.terminate()
                raise

    def close(self) -> None:
        pass


# What a pool's server imports once, before it forks the workers: the trainer and torch.
POOL_PRELOAD = ["twoclocks.training.runner", "twoclocks.training.group"]


def pool_context() -> Any:
    """The start method of a pool's workers. forkserver where the platform has it: each worker
    forks from one server process that imported the trainer (torch) once, instead of spawning
    an interpreter that imports it again (2-3 s of CPU a worker), and a process started there
    still reads its own arguments, folder and main module as a spawned one does. Not a plain
    fork: a child forked from a process that has run torch's threads can hang, and the server
    runs none. spawn elsewhere."""
    import multiprocessing as mp

    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(POOL_PRELOAD)
    return ctx


def worker_pool(workers: int) -> Any:
    """A process pool of `workers` (`pool_context`), each with the driver's environment of now
    and stopping when the driver dies (`worker.init_worker`)."""
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=pool_context(),
        initializer=init_worker,
        initargs=(os.getpid(), dict(os.environ)),
    )


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise TwoClocksError("--executor ray needs Ray: pip install 'twoclocks[ray]'") from None
    return ray


class RayExecutor:
    """Each point is a Ray task with its own CPU (and GPU) request."""

    def __init__(
        self,
        address: str | None,
        workers: int | None,
        threads: int,
        gpus_per_run: float,
        device: str,
        gpus_per_group: float | None = None,
    ):
        import logging

        self.ray = ray = import_ray()
        self.started = not ray.is_initialized()
        if self.started:
            kwargs: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "logging_level": logging.WARNING,
            }
            if address:
                ray.init(address=address, **kwargs)
            else:
                ray.init(num_cpus=workers or usable_cpus(), **kwargs)
        self.threads = threads
        cuda = device == "cuda" or (device == "auto" and ray.cluster_resources().get("GPU", 0) > 0)
        self.gpus = gpus_per_run if cuda else 0
        # A group task may ask for a fraction of a GPU, so that Ray packs several groups (or a
        # group and single runs) onto one device; its K is then sized to that fraction.
        self.group_gpus = (gpus_per_group if gpus_per_group is not None else gpus_per_run) if cuda else 0
        self.device_type = "cuda" if cuda else "cpu"
        self.device_share = min(1.0, self.group_gpus) if cuda else 1.0

    def task_options(self, task: WorkUnit) -> dict:
        """Ray resources of one task: a group asks for group_gpus, a single point for gpus."""
        return {"num_cpus": self.threads, "num_gpus": self.group_gpus if len(task[0]) > 1 else self.gpus}

    def run(self, tasks: list[WorkUnit], resolve: StepsResolver | None = None) -> Iterator[tuple[str, dict]]:
        ray = self.ray
        remote = ray.remote(run_points)
        refs = {remote.options(**self.task_options(t)).remote(t[1], t[2], resolve): t[0] for t in tasks}
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            for ref in done:
                keys = refs.pop(ref)
                try:
                    results = ray.get(ref)
                except Exception as exc:  # the worker process died (after Ray's own retries)
                    results = [{"status": "failed", "error": one_line(exc)}] * len(keys)
                yield from zip(keys, results)

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()


# ----- the driver ----------------------------------------------------------------------------------
@dataclass
class SweepOutcome:
    points: int
    done_before: int  # finished before this invocation
    executed: int  # points handed to the executor now
    failed: int  # points with status failed at the end
    results_path: Path


def run_sweep(
    spec: SweepSpec,
    out: str | Path,
    retry_failed: bool = False,
    progress: bool = True,
    resolve: StepsResolver | None = None,
) -> SweepOutcome:
    """Run every point of `spec` that is not finished yet; results.parquet after each one.
    `resolve` sizes the points of train.steps=auto where they start (a module-level function,
    so that worker processes receive it)."""
    out = Path(out)
    points = expand(spec)  # config errors surface before any file is written
    check_no_links(out, *(p.rel_dir for p in points))
    check_executable(spec, points)  # and so do a missing Ray and a rule workers cannot load
    by_hash = {p.hash: p for p in points}
    with sweep_lock(out):
        record_spec(out, spec, points)
        failures_path, results_path = SweepDir(out).failures, SweepDir(out).results
        failures, rows, pending = recorded_state(out, points, retry_failed)
        done_before = len(rows)
        write_table(results_path, results_frame(points, rows))
        threads = spec.threads or 1
        workers = spec.workers or max(1, usable_cpus() // threads)
        # The executor first: where the points run (CPU or GPU, and its share) sizes the groups.
        executor = _make_executor(spec, workers, threads, points) if pending else None
        try:
            device_type, share = (executor.device_type, executor.device_share) if executor else ("cpu", 1.0)
            tasks = make_tasks(pending, spec, workers, threads, out, device_type, share)
        except BaseException:
            if executor is not None:
                executor.close()
            raise
        bar = tqdm(
            total=len(points), initial=done_before, desc="sweep", unit="point", disable=not progress, dynamic_ncols=True
        )
        try:
            for key, res in executor.run(tasks, resolve) if executor else []:
                p = by_hash[key]
                if res["status"] == "finished":
                    rows[key] = result_row(p, res["summary"], "finished")
                    failures.pop(key, None)
                else:
                    rows[key] = result_row(p, None, "failed", res["error"])
                    failures[key] = {"name": p.name, "run_dir": p.rel_dir, "error": res["error"]}
                    bar.write(f"failed: {p.name}: {res['error']}", file=sys.stderr)
                write_json(failures_path, failures)
                write_table(results_path, results_frame(points, rows))
                bar.update(1)
        finally:
            bar.close()
            if executor is not None:
                executor.close()
        n_failed = sum(1 for r in rows.values() if r["status"] == "failed")
        return SweepOutcome(len(points), done_before, sum(len(keys) for keys, _, _ in tasks), n_failed, results_path)


def recorded_state(
    out: Path, points: list[Point], retry_failed: bool
) -> tuple[dict[str, dict], dict[str, dict], list[Point]]:
    """What the sweep directory already says: its failure record, a results row for each point
    finished (or failed, unless `retry_failed`), and the points still to run."""
    failures_path = SweepDir(out).failures
    failures: dict[str, dict] = read_json(failures_path) if failures_path.exists() else {}
    if not isinstance(failures, dict):
        raise TwoClocksError(f"{failures_path} is not a twoclocks failure record (expected a JSON object)")
    rows: dict[str, dict] = {}
    pending: list[Point] = []
    for p in points:
        summary = RunDir(out / p.rel_dir).finished_summary()
        if summary is not None:
            rows[p.hash] = result_row(p, summary, "finished")
        elif p.hash in failures and not retry_failed:
            rows[p.hash] = result_row(p, None, "failed", failures[p.hash]["error"])
        else:
            pending.append(p)
    return failures, rows, pending


def check_executable(spec: SweepSpec, points: list[Point]) -> None:
    """A one-line error if Ray is asked for and missing, or if the points run in worker
    processes and a point's rule or model family is known in this process only (registered
    from a notebook or `python -c`), so the workers could not load it."""
    from twoclocks.models import portable as family_portable
    from twoclocks.tasks import portable as task_portable

    if spec.executor == "ray":
        import_ray()
    elif (spec.workers or max(1, usable_cpus() // (spec.threads or 1))) == 1:
        return  # the points run in this process
    for p in points:
        for kind, name, ok in (
            ("task", p.cfg.task["name"], task_portable(p.cfg.task)),
            ("model", p.cfg.model.family, family_portable(p.cfg.model)),
        ):
            if not ok:
                raise ConfigError(
                    f"{kind} {quote(name)} is registered in this process only, so sweep workers cannot load it: "
                    f"define it in a file or module and name it by import path "
                    f"({kind}=path/to/file.py:Name or {kind}=pkg.module:Name), or run the sweep with workers=1"
                )


def make_tasks(
    pending: list[Point],
    spec: SweepSpec,
    workers: int,
    threads: int,
    out: Path,
    device_type: str = "cpu",
    share: float = 1.0,
) -> list[WorkUnit]:
    """One task per point; with spec.group, the points of each groupable family (equal
    `group.group_key`) are dealt round-robin into tasks of at most K members (`group_size`).
    On a CPU there are also at least `workers` tasks, so that every core trains a group; on a
    GPU as few as K allows, because one big group keeps the device busier than several small
    ones (docs/performance.md, "GPU")."""

    def one(p: Point) -> tuple[str, dict, str]:
        return p.hash, _exec_config(p, spec, workers, threads), str((out / p.rel_dir).resolve())

    if not spec.group:
        return [([k], [c], [d]) for k, c, d in map(one, pending)]
    from twoclocks.training.group import can_group, group_key

    families: dict[str, list[Point]] = {}
    for p in pending:
        families.setdefault(group_key(p.cfg), []).append(p)
    tasks: list[WorkUnit] = []
    for members in families.values():
        if len(members) == 1 or not can_group([m.cfg for m in members]):
            tasks += [([k], [c], [d]) for k, c, d in map(one, members)]
            continue
        K, _ = planned_group_size(members[0], spec, device_type, share)
        n = -(-len(members) // K)  # ceil: every task at most K members
        if device_type != "cuda":
            n = max(n, min(workers, len(members)))
        for i in range(n):
            chunk = [one(m) for m in members[i::n]]
            tasks.append(([k for k, _, _ in chunk], [c for _, c, _ in chunk], [d for _, _, d in chunk]))
    return tasks


def planned_group_size(point: Point, spec: SweepSpec, device_type: str, share: float = 1.0) -> tuple[int, str]:
    """(K, why) for the groups of this point's family: spec.group_size when given, else sized
    from the member's memory and the free memory of the device, when the driver sees one like
    the workers' (`training.sizing`; a Ray driver without a GPU uses the cap)."""
    if spec.group_size:
        return spec.group_size, f"K={spec.group_size}: given"
    import torch

    from twoclocks.training import sizing

    free = None
    if device_type == "cuda" and torch.cuda.is_available():
        free = sizing.free_device_memory(torch.device("cuda"))
    return sizing.group_size(sizing.member_footprint(point.cfg), device_type, free, share)


def _exec_config(point: Point, spec: SweepSpec, workers: int, threads: int) -> dict:
    """The config a point runs with: one torch thread per run when several share the machine."""
    d = point.cfg.to_dict()
    if d["train"]["threads"] == 0 and (workers > 1 or spec.threads):
        d["train"]["threads"] = threads
    return d


def _make_executor(spec: SweepSpec, workers: int, threads: int, points: list[Point]) -> Any:
    devices = {p.cfg.train.device for p in points}
    device = "cuda" if "cuda" in devices else ("auto" if "auto" in devices else "cpu")
    if spec.executor == "ray":
        return RayExecutor(spec.address, spec.workers, threads, spec.gpus_per_run, device, spec.gpus_per_group)
    return LocalExecutor(workers, device)
