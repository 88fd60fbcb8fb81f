"""A saved config.json as its readers see it: the sections as recorded, each field checked for
its type and domain, and no plugin imported.

Anyone who can write to a run or sweep folder can point its config.json at code of theirs,
so a reader (report, compare, `tc.load`, predict --from) never runs what a config names. A
built-in rule or model family is resolved here as a new run's would be (its code is ours); a
plugin's task section is kept as recorded, and its model section is a ModelConfig extended by
the family's own fields as recorded. What readers need from a plugin's code (the rule's short name, knob and near-copy
chance) the run recorded in summary.json when it ran (`twoclocks.records.schema`). Executing a saved
config (resuming a run, a sweep continuing its points) resolves it in full (`config.resolve`).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import twoclocks.models as models
import twoclocks.tasks as tasks
from twoclocks.config import SECTIONS, RunConfig, from_dict, validate
from twoclocks.core.fields import coerce, fill
from twoclocks.core.io import read_json
from twoclocks.errors import ConfigError, TwoClocksError, quote
from twoclocks.models.config import ModelConfig
from twoclocks.records.formats import config_sections

BUILTIN_TASKS = {cls.name: cls for cls in tasks.BUILTIN}


@dataclass(frozen=True)
class Recorded:
    """A run's config as config.json recorded it."""

    path: Path  # the config.json it was read from
    sections: dict  # every section as recorded (a plugin family's own fields included)
    cfg: RunConfig  # built-ins resolved; a plugin's sections as recorded

    @property
    def task_plugin(self) -> str | None:
        """The reference of the rule when it is a plugin; None for a built-in rule."""
        name = self.cfg.task["name"]
        return None if name in BUILTIN_TASKS else name

    @property
    def family_plugin(self) -> str | None:
        """The reference of the model family when it is a plugin; None for a built-in family."""
        family = self.cfg.model.family
        return None if family in models.BUILTIN else family

    def plugins(self) -> list[str]:
        """What the config names that reading does not import: `task=...`, `model=...`."""
        named = (("task", self.task_plugin), ("model", self.family_plugin))
        return [f"{key}={ref}" for key, ref in named if ref is not None]


def task_label(name: str) -> tuple[str, str]:
    """(short name, knob) of the rule a config names, without importing it: a built-in rule's
    own; a plugin's last part of its reference and no knob (its runs record both in summary.json)."""
    if name in BUILTIN_TASKS:
        return name, BUILTIN_TASKS[name].knob
    return name.rpartition(":")[2], ""


def read_config(path: str | Path) -> Recorded:
    """config.json at `path`, checked for its structure and each field's type and domain; a
    problem is one line naming the file."""
    path = Path(path)
    data = read_json(path)
    shaped = isinstance(data, dict) and all(isinstance(data.get(k) or {}, dict) for k in ("task", *SECTIONS))
    if not shaped:
        raise TwoClocksError(f"{path} is not a twoclocks config (expected a JSON object of sections)")
    try:
        _, sections = config_sections(data)
        cfg = from_dict(sections, model=_model_section)
        cfg.task = _task_section(cfg.task)
        validate(cfg)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return Recorded(path, sections, cfg)


def _task_section(task: dict[str, Any]) -> dict[str, Any]:
    name = coerce(task.get("name", "parity"), str, "task")
    if name in BUILTIN_TASKS:
        return tasks.resolve_task(task)
    coerce(task.get(tasks.SOURCE), str | None, f"task.{tasks.SOURCE}")
    return {**task, "name": name}  # its parameters get their types' domains in `validate`


def _model_section(values: dict[str, Any]) -> ModelConfig:
    """A built-in family's config; a plugin's as a ModelConfig extended by its own fields as
    recorded, each typed by its value (their dataclass is the plugin's, never imported here)."""
    family = coerce(values.get("family", "dit"), str, "model.family")
    if family in models.BUILTIN:
        return models.resolve_model(values)
    shared = {f.name for f in dataclasses.fields(ModelConfig)}
    own = {k: v for k, v in values.items() if k not in shared}
    try:
        fields = [(k, type(v), dataclasses.field(default_factory=partial(copy.deepcopy, v))) for k, v in own.items()]
        cls = dataclasses.make_dataclass("RecordedModelConfig", fields, bases=(ModelConfig,))
    except TypeError:  # a key that cannot be a field name
        raise ConfigError(f"model {quote(family)}: its own fields {sorted(own)} are not all field names") from None
    return fill(cls, values, "model", f"model {quote(family)}")
