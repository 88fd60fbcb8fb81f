"""Sweeps: a grid of runs, each identified by the hash of its resolved config, run by a local
process pool or by Ray, resumable after any interruption, collected into one results table.

A sweep directory (`twoclocks.sweeps.sweepdir.SweepDir`) holds the spec and its points, one
run directory per point (runs/<name>-<hash8>/), and the results table. Restarting the same sweep
skips finished points (summary.json status "finished"), resumes unfinished ones from
checkpoints/last.pt, and leaves failed ones alone unless asked to retry.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
from collections.abc import Iterator
from dataclasses import Field, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from twoclocks.config import (
    RunConfig,
    apply_overrides,
    execution_neutrals,
    flatten,
    parse_overrides,
    parse_value,
    read_yaml_mapping,
)
from twoclocks.core.domains import Domain, base_type, check_value, closed
from twoclocks.core.fields import coerce, field_types
from twoclocks.core.io import make_dirs, read_json, remove_empty_dirs, write_json
from twoclocks.core.locks import hold_lock
from twoclocks.core.paths import check_resolvable, safe_name
from twoclocks.errors import ConfigError, TwoClocksError, quote
from twoclocks.records.formats import hashed_identity, identity_dict
from twoclocks.sweeps.sweepdir import SweepDir

EXECUTORS = ("local", "ray")
# The most points one sweep may have. Planning validates and hashes every point (about 4 ms
# each on one CPU core, so 40 s at the ceiling), sweep.json lists them all, and results.parquet
# is rewritten after every point (0.25 s at 1,200 rows), so a sweep far beyond this spends its
# time on bookkeeping; a larger study is several sweeps. Refused from the grid sizes alone,
# before any point is built (docs/sweeps.md).
MAX_POINTS = 10_000


COUNT = closed(1, 4096)
GPUS = Domain(0.0, 1024.0, lo_open=True)


def option(default: Any, help: str, domain: Domain | None = None, metavar: str | None = None) -> Any:
    """A field of SweepSpec that says how a sweep runs, with its help text and domain."""
    meta = {"option": True, "help": help, "domain": domain, "metavar": metavar}
    return field(default=default, metadata=meta)


@dataclass
class SweepSpec:
    """What to run: base overrides, one or more grids (their union), and seeds."""

    base: dict[str, Any] = field(default_factory=dict)  # dotted key -> value
    grids: list[dict[str, list]] = field(default_factory=list)  # each: dotted key -> values
    seeds: list[int] = field(default_factory=lambda: [0])
    # How to run it (not part of the sweep's identity; may change between restarts): the options
    # of a spec file, `twoclocks sweep`/`reproduce` (--name-with-dashes) and `tc.sweep(name=...)`.
    executor: str = option("local", "local process pool (default) or Ray tasks", Domain(choices=EXECUTORS))
    workers: int | None = option(None, "concurrent runs (default: cores // threads; Ray: its CPUs)", COUNT)
    address: str | None = option(None, "Ray cluster address (e.g. auto or ray://head:10001); default: a local Ray")
    threads: int | None = option(None, "torch threads per run (default 1 when runs share the machine)", COUNT)
    gpus_per_run: float = option(1.0, "Ray: GPUs per run on CUDA devices (default 1)", GPUS)
    group: bool = option(
        False,
        "train points that differ only in seed, data.N or a task of the same item shape (e.g. task.G) "
        "as batched groups (every built-in family; training/group.py, docs/performance.md)",
    )
    group_size: int | None = option(
        None,
        "with --group: at most K runs per group (default: from the model's and the device's memory, "
        "capped at a measured working point; docs/performance.md)",
        COUNT,
        metavar="K",
    )
    gpus_per_group: float | None = option(
        None,
        "Ray: GPUs requested by a group task (e.g. 0.25 packs four groups on one GPU; default --gpus-per-run)",
        GPUS,
        metavar="G",
    )
    description: str = ""  # what the sweep is for, in words (kept in sweep.json, shown in the report)

    def identity(self) -> dict:
        """The part of the spec that decides which points exist."""
        return {"base": self.base, "grids": self.grids, "seeds": self.seeds}


def options() -> dict[str, tuple[Field, Any]]:
    """{name: (field, type)} of every execution option, read off SweepSpec when asked."""
    types_ = field_types(SweepSpec)
    return {f.name: (f, types_[f.name]) for f in fields(SweepSpec) if f.metadata.get("option")}


@dataclass
class Point:
    """One run of the sweep."""

    overrides: dict[str, Any]  # base + grid values + seed, in that order
    cfg: RunConfig  # resolved, with execution fields at their neutral value
    hash: str  # sha256 of the sorted JSON of its identity, as formats.hashed_identity keeps it
    name: str  # readable directory name, ends in -<hash8>

    @property
    def rel_dir(self) -> str:
        return SweepDir.run_dir(self.name)


# ----- building a spec ------------------------------------------------------------------------
def parse_seeds(value: Any) -> list[int]:
    """`3` -> [0, 1, 2]; `[0, 5]` -> [0, 5]; '0,5' -> [0, 5]."""
    if isinstance(value, str):
        value = [parse_value(v) for v in value.split(",")] if "," in value else parse_value(value)
    if isinstance(value, bool):
        raise ConfigError(f"seeds must be a count or a list of integers, got {quote(value)}")
    if isinstance(value, int):
        if value <= 0:
            raise ConfigError(f"seeds must be positive, got {value}")
        if value > MAX_POINTS:
            raise ConfigError(f"seeds={value:,} makes a sweep of at least {value:,} points; {too_many()}")
        return list(range(value))
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        if len(set(value)) != len(value):
            raise ConfigError(f"seeds has duplicates: {value}")
        if min(value) < 0:
            raise ConfigError(f"seeds must be non-negative, got {value}")
        return list(value)
    raise ConfigError(f"seeds must be a count or a list of integers, got {quote(value)}")


def parse_grid_args(items: list[str]) -> dict[str, list]:
    """['data.N=16,32', 'task.G=2,3'] -> {'data.N': [16, 32], 'task.G': [2, 3]}."""
    grid: dict[str, list] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip() or not text.strip():
            raise ConfigError(f"--grid {quote(item)} is not of the form key=v1,v2,...")
        grid[key.strip()] = [parse_value(v.strip()) for v in text.split(",")]
    return grid


def _grid(raw: Any, where: str) -> dict[str, list]:
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{where}: a grid is a non-empty mapping of config keys to lists of values")
    grid = {}
    for key, values in flatten(raw).items():
        values = values if isinstance(values, list) else [values]
        if not values:
            raise ConfigError(f"{where}: {key} has an empty list of values")
        grid[key] = values
    return grid


def load_spec(path: str | Path) -> SweepSpec:
    """A YAML sweep spec (see docs/sweeps.md); every point is validated by expand()."""
    path = Path(path)
    data = read_yaml_mapping(path, f"sweep spec {path}")
    known = {"base", "grid", "grids", "seeds", "description", *options()}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"sweep spec {path}: unknown key(s) {unknown}; it may have {sorted(known)}")
    if "grid" in data and "grids" in data:
        raise ConfigError(f"sweep spec {path}: give either grid or grids, not both")
    base = data.get("base") or {}
    if not isinstance(base, dict):
        raise ConfigError(f"sweep spec {path}: base must be a mapping of config keys")
    if "grid" in data:
        grids = [_grid(data["grid"], f"sweep spec {path}: grid")]
    else:
        raw = data.get("grids") or []
        if not isinstance(raw, list):
            raise ConfigError(f"sweep spec {path}: grids must be a list of mappings")
        grids = [_grid(g, f"sweep spec {path}: grids[{i}]") for i, g in enumerate(raw)]
    spec = SweepSpec(base=flatten(base), grids=grids, seeds=parse_seeds(data.get("seeds", 1)))
    description = data.get("description")
    if description is not None:
        if not isinstance(description, str):
            raise ConfigError(f"sweep spec {path}: description must be text, got {quote(description)}")
        spec.description = description.strip()
    set_options(spec, {k: data[k] for k in options() if k in data})
    return spec


KIND_WORDS = {str: "text", int: "an integer", bool: "true or false"}


def set_options(spec: SweepSpec, values: dict[str, Any]) -> None:
    """Set the execution options given (None leaves one as it is), each coerced to its type and
    checked against its domain: one ConfigError line naming the option."""
    known = options()
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown sweep option {quote(key)}; choose from {sorted(known)}")
        if value is None:
            continue
        f, annotation = known[key]
        # An option is of its kind as given: coerce() would read the number 5 as the text "5", the
        # text "1" as the number 1 and 2.0 as the count 2, which a spec file or tc.sweep never means.
        kind = base_type(annotation)
        if (kind is str) != isinstance(value, str) or (kind is int and isinstance(value, float)):
            raise ConfigError(f"{key} must be {KIND_WORDS.get(kind, 'a number')}, got {quote(value)}")
        value = coerce(value, annotation, key)
        check_value(key, value, f, annotation)
        setattr(spec, key, value)


def spec_from_args(overrides: list[str], grid_args: list[str], seeds: Any) -> SweepSpec:
    return SweepSpec(
        base=parse_overrides(overrides),
        grids=[parse_grid_args(grid_args)] if grid_args else [],
        seeds=parse_seeds(seeds if seeds is not None else 1),
    )


# ----- points ------------------------------------------------------------------------------------
def config_hash(cfg: RunConfig) -> str:
    text = json.dumps(hashed_identity(identity_dict(cfg)), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def point_name(cfg: RunConfig, varied: list[str], digest: str) -> str:
    """parity-G2_dit_N16_depth2_seed0-1a2b3c4d: task, knob, family, N, other varied keys, seed;
    one folder name whatever the config's values hold (`paths.safe_name`)."""
    from twoclocks.tasks import task_label

    task, knob = task_label(cfg.task["name"])
    task = safe_name(task, 40)
    family = safe_name(cfg.model.family.rpartition(":")[2], 40)
    parts = [f"{task}-{knob}{safe_name(cfg.task[knob], 24)}" if knob in cfg.task else task, family, f"N{cfg.data.N}"]
    flat = flatten(cfg.to_dict())
    for key in varied:
        if key in ("task", f"task.{knob}", "data.N", "model", "model.family", "seed") or key not in flat:
            continue
        parts.append(f"{key.rsplit('.', 1)[-1]}{safe_name(flat[key], 24)}")
    parts.append(f"seed{cfg.seed}")
    return f"{safe_name('_'.join(parts), 240)}-{digest[:8]}"


def plan_size(spec: SweepSpec) -> int:
    """How many points the spec has before duplicates are dropped: the sizes of its grids
    times the seeds, counted without building any point."""
    return sum(math.prod(len(v) for v in g.values()) for g in spec.grids or [{}]) * len(spec.seeds)


def too_many() -> str:
    return f"a sweep has at most {MAX_POINTS:,} points (MAX_POINTS; split it into several sweeps)"


def expand(spec: SweepSpec) -> list[Point]:
    """Every point of the spec, validated, in a fixed order, duplicates (same hash) dropped."""
    from twoclocks.training.experiment import build_task, check_training_set  # torch: only to plan

    size = plan_size(spec)
    if size > MAX_POINTS:
        raise ConfigError(f"the sweep has {size:,} points; {too_many()}")
    grids = spec.grids or [{}]
    if "seed" in spec.base or any("seed" in g for g in grids):
        raise ConfigError("give seeds with --seeds (or `seeds:` in a spec), not as a base or grid key")
    execution = [f"{s}.{n}" for s, n in execution_neutrals()]
    gridded = sorted({k for g in grids for k in g if k in execution and len(g[k]) > 1})
    if gridded:
        raise ConfigError(
            f"{', '.join(gridded)} says how a point runs, not what it computes (it is no part of a "
            f"point's identity): give it one value, not a grid"
        )
    # Keys that take several values anywhere in the union of grids go into the point names.
    values: dict[str, set[str]] = {}
    for g in grids:
        for k, v in g.items():
            values.setdefault(k, set()).update(repr(x) for x in v)
            if k in spec.base:
                values[k].add(repr(spec.base[k]))
    varied = sorted(k for k, v in values.items() if len(v) > 1)
    points: list[Point] = []
    seen: set[str] = set()
    tasks: dict[str, Any] = {}  # one task instance per distinct task config
    for grid in grids:
        keys = list(grid)
        for combo in itertools.product(*(grid[k] for k in keys)):
            for seed in spec.seeds:
                overrides = {**spec.base, **dict(zip(keys, combo)), "seed": seed}
                try:
                    cfg = apply_overrides(RunConfig(), overrides)
                    # What a run would find only when it starts (an impossible task, N larger
                    # than the task's population) is found here, before any point runs.
                    key = repr((sorted(cfg.task.items()), cfg.data.population))
                    if key not in tasks:
                        tasks[key] = build_task(cfg)
                    check_training_set(cfg, tasks[key])
                except ConfigError as exc:
                    shown = ", ".join(f"{k}={v}" for k, v in zip(keys, combo))
                    raise ConfigError(f"sweep point ({shown or 'base'}, seed={seed}): {exc}") from None
                digest = config_hash(cfg)
                if digest in seen:
                    continue
                seen.add(digest)
                points.append(Point(overrides, cfg, digest, point_name(cfg, varied, digest)))
    if not points:
        raise ConfigError("the sweep has no points")
    return points


def pending_points(sweep_dir: str | Path, done: set[str]) -> int:
    """How many points DIR/sweep.json lists whose hash is not in `done` (the results table's
    rows): points still running or never started; 0 when sweep.json is unreadable."""
    try:
        data = read_json(SweepDir(sweep_dir).record)
    except TwoClocksError:
        return 0
    points = data.get("points") if isinstance(data, dict) else None
    hashes = {p.get("hash") for p in points if isinstance(p, dict)} if isinstance(points, list) else set()
    return len(hashes - done)


def sweep_description(sweep_dir: str | Path) -> str:
    """The description recorded in DIR/sweep.json ("" when there is none or it is unreadable)."""
    try:
        data = read_json(SweepDir(sweep_dir).record)
    except TwoClocksError:
        return ""
    description = data.get("description") if isinstance(data, dict) else None
    return description if isinstance(description, str) else ""


@contextlib.contextmanager
def sweep_lock(sweep_dir: Path) -> Iterator[None]:
    """One driver per sweep directory; the OS drops the lock if the driver is killed."""
    check_resolvable(sweep_dir)
    made = make_dirs(sweep_dir)
    try:
        with hold_lock(SweepDir(sweep_dir).lock, f"another sweep is running in {sweep_dir}; wait for it or stop it"):
            yield
    finally:  # a sweep refused before it wrote anything leaves no directory
        remove_empty_dirs(made)


def record_spec(sweep_dir: Path, spec: SweepSpec, points: list[Point]) -> None:
    """Write sweep.json; a directory that holds a different sweep is an error."""
    path = SweepDir(sweep_dir).record
    identity = json.loads(json.dumps(spec.identity(), default=str))
    description = spec.description
    if path.is_file():
        recorded = read_json(path)
        recorded = recorded if isinstance(recorded, dict) else {}
        old = recorded.get("spec")
        description = description or str(recorded.get("description") or "")  # a bare restart keeps it
        if old is not None and old != identity:
            raise TwoClocksError(
                f"{sweep_dir} holds a different sweep (its {path.name} has another base, grid "
                f"or seeds); choose another --out, or run `twoclocks sweep --out {sweep_dir}` "
                f"alone to continue it"
            )
    write_json(
        path,
        {
            "description": description,
            "spec": identity,
            "execution": {k: v for k, v in asdict(spec).items() if k not in identity and k != "description"},
            "points": [{"hash": p.hash, "name": p.name, "overrides": p.overrides} for p in points],
        },
    )


def load_recorded_spec(sweep_dir: str | Path) -> SweepSpec:
    """The spec saved in DIR/sweep.json, to continue a sweep with no other arguments."""
    path = SweepDir(sweep_dir).record
    if not path.is_file():
        raise ConfigError(f"{sweep_dir}: no {path.name}; give a spec file or --grid to start a sweep")
    data = read_json(path)
    known = set(SweepSpec().identity())
    if not isinstance(data, dict) or not isinstance(data.get("spec"), dict) or set(data["spec"]) != known:
        raise TwoClocksError(f"{path} is not a twoclocks sweep record (no spec with {sorted(known)})")
    # A folder's record is checked as a spec file is: its kinds, the options' domains.
    raw, execution = data["spec"], data.get("execution") or {}
    if not isinstance(raw["base"], dict) or not isinstance(raw["grids"], list) or not isinstance(execution, dict):
        raise TwoClocksError(f"{path} is corrupt (its base, grids or execution is not of its kind)")
    grids = [_grid(g, f"{path}: grids[{i}]") for i, g in enumerate(raw["grids"])]
    spec = SweepSpec(base=raw["base"], grids=grids, seeds=parse_seeds(raw["seeds"]))
    spec.description = str(data.get("description") or "")
    try:
        set_options(spec, execution)
    except ConfigError as exc:
        raise TwoClocksError(f"{path} is corrupt ({exc})") from None
    return spec
