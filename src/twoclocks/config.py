"""Typed run configuration, dotted command-line overrides, and YAML config files.

A run is fully described by `RunConfig`. The task's own parameters live in the task's Params
dataclass, and a model family's fields in its config dataclass; the registries resolve both
(`twoclocks.tasks.resolve_task`, `twoclocks.models.resolve_model`, which also load a user's own
rule or family by import path), so `task=parity task.G=3` and `task=sudoku task.size=9` are
both validated against the right fields. The resolved config is saved as config.json
next to every run and is the single source for resuming it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import twoclocks.itemfile as itemfile
from twoclocks.clocks import ClockConfig
from twoclocks.clocks.stopat import STOP_AT
from twoclocks.core.domains import (
    BIG,
    FRACTION,
    SEED,
    Domain,
    check_value,
    closed,
    role_of,
    setting,
)
from twoclocks.core.fields import coerce, field_types
from twoclocks.core.io import read_text
from twoclocks.errors import ConfigError, quote
from twoclocks.models import resolve_model
from twoclocks.models.config import ModelConfig
from twoclocks.tasks import resolve_task, run_defaults


@dataclass
class DataConfig:
    N: int = setting(16, domain=closed(1, BIG))  # distinct training items (with path: the first N; default all)
    seed: int | None = setting(None, domain=SEED, role="seed")  # seed of the training-set draw; None = the run's
    path: str | None = None  # a .npy/.npz file of items to train on (twoclocks.itemfile); None = draw
    hash: str | None = None  # content hash of the path's file, set when resolved
    population: float | None = setting(None, domain=Domain(1.0, 2.0**1000))  # valid items, for a rule without


@dataclass
class TrainConfig:
    # optimizer steps, or "auto": sized from the predicted clocks (docs/predict.md)
    steps: int | str = setting(4000, domain=closed(1, BIG), role="budget")
    max_steps: int = setting(0, role="budget")  # the ceiling of train.steps=auto; 0 = none
    batch: int = setting(64, domain=closed(1, 2**20))  # items per step, drawn i.i.d. from the N training items
    # Peak learning rate (AdamW), constant after warm-up. A rate too large to train with is
    # caught by the divergence check; beyond 1e30 the first update overflows float32: a typo.
    lr: float = setting(1e-3, domain=Domain(0.0, 1e30, lo_open=True))
    warmup: int = setting(100, domain=closed(0, BIG))  # linear warm-up steps
    weight_decay: float = setting(0.0, domain=closed(0.0, 100.0))  # AdamW weight decay
    beta1: float = setting(0.9, domain=FRACTION)
    beta2: float = setting(0.99, domain=FRACTION)
    grad_clip: float = setting(0.0, domain=closed(0.0, 1e6))  # max global grad norm; 0 = off
    ema: float = setting(0.0, domain=FRACTION)  # EMA decay; 0 = off (it smears the clocks). If on, both are evaluated
    # auto (bf16 where the device computes it natively, else fp32) | bf16 | fp32: the same clocks
    precision: str = setting("auto", domain=Domain(choices=("auto", "bf16", "fp32")), role="execution", neutral="bf16")
    device: str = setting("auto", domain=Domain(choices=("auto", "cpu", "cuda")), role="execution")  # cuda if any
    threads: int = setting(0, domain=closed(0, 1024), role="execution", neutral=0)  # torch CPU threads; 0 = default
    # full training state saved at least this often (steps)
    checkpoint_every: int = setting(500, domain=closed(1, BIG), role="recording")
    # the clocks the run waits for (twoclocks.clocks.stopat.STOP_AT, which this domain reads as it is)
    stop_at: str = setting("none", domain=Domain(choices=STOP_AT.keys()), role="budget")
    # write each evaluation's metrics as TensorBoard scalars (an extra)
    tensorboard: bool = setting(False, role="execution", neutral=False)


@dataclass
class EvalConfig:
    # M generated samples per evaluation (same noise every time)
    samples: int = setting(512, domain=closed(1, 2**22), role="measurement")
    points: int = setting(24, domain=closed(1, 10**4), role="recording")  # evaluations, geometric from `first`
    first: int = setting(10, domain=closed(1, BIG), role="measurement")  # first evaluation step
    # Samples generated per chunk; 0 = auto: 128 on a CPU (a chunk's activations stay in cache:
    # 1.5x faster than 512), all at once on a GPU.
    batch: int = setting(0, domain=closed(0, 2**22), role="execution")
    # all | last: keep the model weights of every evaluation?
    keep_checkpoints: str = setting("all", domain=Domain(choices=("all", "last")), role="recording")
    keep_samples: bool = setting(True, role="recording")  # save per-sample outcomes (packed samples, NN distance)
    # seed of the fixed per-sample sampling noise; None = run seed
    noise_seed: int | None = setting(None, domain=SEED, role="seed")


@dataclass
class RunConfig:
    task: dict = field(default_factory=lambda: {"name": "parity"})  # name + the task's params
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    clocks: ClockConfig = field(default_factory=ClockConfig)
    seed: int = setting(0, domain=SEED, role="seed")  # master seed: data draw, init, training noise, sampling noise

    # ----- derived seeds (each stream has its own generator) ----------------------------
    @property
    def data_seed(self) -> int:
        return self.seed if self.data.seed is None else self.data.seed

    @property
    def noise_seed(self) -> int:
        return self.seed if self.eval.noise_seed is None else self.eval.noise_seed

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


AUTO_STEPS = "auto"
AUTO_PRECISION = "auto"  # train.precision resolved per device when a run is built


def fixed_steps(cfg: RunConfig) -> int:
    """train.steps as a number: "auto" is resolved when a run is built
    (twoclocks.prediction.autobudget), and whatever needs the number comes after that."""
    steps = cfg.train.steps
    if isinstance(steps, str):
        raise ConfigError("train.steps=auto is only known once the run is built from its predicted clocks")
    return steps


SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig, "eval": EvalConfig, "clocks": ClockConfig}


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without aliases: a config never needs one, and a few nested aliases expand into
    gigabytes (a "billion laughs") wherever the value is walked or printed."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise ConfigError(f"YAML aliases (*name) are not accepted (line {mark.line + 1}, column {mark.column + 1})")
        return super().compose_node(parent, index)


def safe_yaml(text: str) -> Any:
    """`yaml.safe_load` without aliases (`_NoAliasLoader`); raises yaml.YAMLError or ConfigError."""
    return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass


def parse_value(text: str) -> Any:
    """Parse the right-hand side of key=value with YAML rules (1e-3, true, null, [1,2])."""
    try:
        return safe_yaml(text)
    except (yaml.YAMLError, ConfigError):  # not YAML, or an alias: the text itself
        return text


def _set_field(section_obj: Any, section: str, name: str, value: Any) -> None:
    types_ = field_types(type(section_obj))
    if name not in types_:
        raise ConfigError(f"unknown config key {section}.{name}; {section} has {sorted(types_)}")
    setattr(section_obj, name, coerce(value, types_[name], f"{section}.{name}"))


def apply_overrides(cfg: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """Apply {dotted key: value} overrides in order; returns a new, resolved config. A `task`
    override also applies that task's run defaults (Task.run_defaults) to the keys not given."""
    given = overrides
    if "task" in overrides:
        overrides = {**{k: v for k, v in run_defaults(overrides["task"]).items() if k not in given}, **given}
    cfg = from_dict(cfg.to_dict())
    task = dict(cfg.task)
    model = dataclasses.asdict(cfg.model)
    for key, value in overrides.items():
        if key == "task":
            task = {"name": value}  # a new task starts from its own defaults
        elif key.startswith("task."):
            task[key[len("task.") :]] = value
        elif key in ("model", "model.family"):
            model = {**model, "family": value, "source": None}  # fields of another family drop out below
        elif key.startswith("model."):
            model[key[len("model.") :]] = value
        elif key == "seed":
            cfg.seed = coerce(value, int, "seed")
        elif "." in key and key.split(".", 1)[0] in SECTIONS:
            section, name = key.split(".", 1)
            _set_field(getattr(cfg, section), section, name, value)
        else:
            raise ConfigError(f"unknown config key {quote(key)}")
    if "data.path" in overrides and "data.hash" not in overrides:
        cfg.data.hash = None  # the hash of the file named now
    cfg.task, cfg.model = task, resolve_model(_family_fields(model, overrides))
    return resolve(cfg, all_items="data.path" in given and "data.N" not in given)


def _family_fields(model: dict[str, Any], overrides: dict[str, Any]) -> Any:
    """The model section for its family: shared fields, and the family's own ones only where
    they were given for it (a field of the family before a `model=` override drops out)."""
    if "model" not in overrides and "model.family" not in overrides:
        return model
    shared = {f.name for f in dataclasses.fields(ModelConfig)}
    given = {k[len("model.") :] for k in overrides if k.startswith("model.")}
    return {k: v for k, v in model.items() if k in shared or k in given}


def resolve(cfg: RunConfig, all_items: bool = False) -> RunConfig:
    """Resolve the task, the model family and the data file of `cfg` in place (the registries
    load a user's own rule or family) and validate it; `all_items`: data.N becomes the number
    of items in data.path."""
    cfg.task = resolve_task(cfg.task)
    cfg.model = resolve_model(dataclasses.asdict(cfg.model))
    _resolve_data(cfg.data, all_items)
    validate(cfg)
    return cfg


def _resolve_data(data: DataConfig, all_items: bool) -> None:
    if data.path is None:
        if data.hash is not None:
            raise ConfigError("data.hash is set but data.path is not")
        return
    path, digest, count = itemfile.describe(data.path)
    if data.hash is not None and data.hash != digest:
        raise ConfigError(
            f"data.path {path} changed since the run was configured (its content hash is {digest}, "
            f"the config has {data.hash}); restore the file or start a new run"
        )
    if all_items:
        data.N = count
    elif data.N > count:
        raise ConfigError(f"data.N={data.N} but data.path {path} holds only {count} items")
    data.path, data.hash = path, digest


def config_fields(cfg: RunConfig | None = None) -> list[tuple[str, dataclasses.Field, Any]]:
    """(dotted key, field, annotated type) of every field of RunConfig except the task's, in
    order; with `cfg`, its model family's own fields too."""
    seed = next(f for f in dataclasses.fields(RunConfig) if f.name == "seed")
    out: list[tuple[str, dataclasses.Field, Any]] = [("seed", seed, int)]
    for section, cls in SECTIONS.items():
        if cfg is not None:
            cls = type(getattr(cfg, section))
        hints = field_types(cls)
        out += [(f"{section}.{f.name}", f, hints[f.name]) for f in dataclasses.fields(cls)]
    return out


def keys_of_role(*roles: str) -> set[str]:
    """The dotted keys of the run's fields whose role (domains.ROLES) is one of `roles`."""
    return {key for key, f, _ in config_fields() if role_of(f) in roles}


def execution_neutrals() -> dict[tuple[str, str], Any]:
    """(section, name) -> neutral value of every field that a sweep point's hash leaves out."""
    return {
        tuple(key.split(".", 1)): f.metadata["neutral"]  # type: ignore[misc]
        for key, f, _ in config_fields()
        if "neutral" in f.metadata
    }


def _value(cfg: RunConfig, key: str) -> Any:
    obj: Any = cfg
    for part in key.split("."):
        obj = getattr(obj, part)
    return obj


def validate(cfg: RunConfig) -> None:
    """Check every field's domain and the relations between fields, before any file is written;
    the first problem is a one-line ConfigError that names the field. What needs the task (a G
    that divides the image, N within the population, a patch that divides H) is checked when
    the task and model are built, also before any file is written."""
    for key, f, annotation in config_fields(cfg):
        check_value(key, _value(cfg, key), f, annotation)
    # The task's own fields were checked against its Params' domains when it was resolved.
    if isinstance(cfg.train.steps, str) and cfg.train.steps != AUTO_STEPS:
        raise ConfigError(f"train.steps must be a positive integer or {AUTO_STEPS}, got {quote(cfg.train.steps)}")
    m = cfg.model
    if m.width % m.heads:
        raise ConfigError(f"model.width={m.width} is not divisible by model.heads={m.heads}")
    if not m.sigma_min < m.sigma_max:
        raise ConfigError(f"model.sigma_min={m.sigma_min} must be below model.sigma_max={m.sigma_max}")
    c = cfg.clocks
    if c.theta_mem_high < c.theta_mem:
        raise ConfigError(f"clocks.theta_mem_high={c.theta_mem_high} must be at least clocks.theta_mem={c.theta_mem}")


def from_dict(d: dict, model: Callable[[dict[str, Any]], ModelConfig] = resolve_model) -> RunConfig:
    """Rebuild a RunConfig from its dict form (config.json), checking every key (the model
    section's by `model`: against its family's fields); the task section is resolved by `resolve`."""
    d = dict(d)
    cfg = RunConfig()
    for section, cls in SECTIONS.items():
        values = d.pop(section, {}) or {}
        if section == "model":
            cfg.model = model(dict(values))
            continue
        obj = cls()
        for k, v in values.items():
            _set_field(obj, section, k, v)
        setattr(cfg, section, obj)
    if "task" in d:
        cfg.task = dict(d.pop("task"))
    if "seed" in d:
        cfg.seed = coerce(d.pop("seed"), int, "seed")
    if d:
        raise ConfigError(f"unknown config key(s) {sorted(d)}")
    return cfg


def flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; the task section flattens to task + task.<param>."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if key == "task" and isinstance(v, dict):
            v = dict(v)
            out["task"] = v.pop("name", "parity")
            out.update({f"task.{kk}": vv for kk, vv in v.items()})
        elif isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def read_yaml_mapping(path: str | Path, label: str, expected: str = "a mapping") -> dict[str, Any]:
    """A YAML file whose top level is a mapping; every problem is a one-line ConfigError that
    starts with `label` (e.g. "--config FILE", "sweep spec FILE")."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{label}: no such file")
    try:
        data = safe_yaml(read_text(path)) or {}
    except ConfigError as exc:
        raise ConfigError(f"{label}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{label}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{label}: expected {expected}")
    return data


def load_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML config file as flat overrides; nested sections and dotted keys both work."""
    return flatten(read_yaml_mapping(path, f"--config {path}", "a mapping of config keys"))


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """['task.G=3', 'model=gpt'] -> {'task.G': 3, 'model': 'gpt'} (order kept)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"override {quote(item)} is not of the form key=value")
        key, _, text = item.partition("=")
        out[key.strip()] = parse_value(text)
    return out


def build_config(
    overrides: list[str] | None = None, config_file: str | None = None, base: RunConfig | None = None
) -> RunConfig:
    """Defaults <- YAML file <- command-line overrides, validated."""
    merged: dict[str, Any] = {}
    if config_file:
        merged.update(load_yaml(config_file))
    merged.update(parse_overrides(overrides or []))
    return apply_overrides(base or RunConfig(), merged)
