"""Model-family registry: `build_model(cfg, encoding, train_cells)` for any family.

A family builder takes (ModelConfig, Encoding, training cells uint8 (N, H, W)) and returns a
`GenerativeModel`. New families register here (`register`), or are named by import path or
entry point (`twoclocks.plugins`), and need no change to trainer or evaluator. A builder's
optional `Config` attribute, a dataclass extending ModelConfig, holds the family's own fields.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

import twoclocks.plugins as plugins
from twoclocks.core.fields import coerce, fill
from twoclocks.encoding import Encoding
from twoclocks.errors import ConfigError, PluginError, TwoClocksError, exception_line, quote
from twoclocks.models.config import ModelConfig

if TYPE_CHECKING:  # the models are torch modules, imported where one is built: a config needs none
    from twoclocks.models.base import GenerativeModel

ENTRY_POINTS = "twoclocks.models"  # the entry-point group of installed packages' families
Builder = Callable[[ModelConfig, Encoding, np.ndarray], "GenerativeModel"]
FAMILIES: dict[str, Builder] = {}
BUILTIN = ("dit", "mlp", "gpt", "mdm")


def config_class(builder: Builder) -> type[ModelConfig]:
    """The dataclass of a family's `model.*` fields: its builder's `Config`, or ModelConfig."""
    return getattr(builder, "Config", ModelConfig)


def builder_problem(obj: Any) -> str | None:
    """What keeps `obj` from being a family builder, or None."""
    try:
        inspect.signature(obj).bind(None, None, None)
    except (TypeError, ValueError):
        return "is not a model builder (a callable (ModelConfig, Encoding, train cells) -> GenerativeModel)"
    cls = getattr(obj, "Config", ModelConfig)
    if not (inspect.isclass(cls) and dataclasses.is_dataclass(cls) and issubclass(cls, ModelConfig)):
        return "has a `Config` that is not a dataclass extending twoclocks.models.config.ModelConfig"
    return None


def register(name: str, config: type[ModelConfig] | None = None):
    """Make a builder known as `model=name` in this process, with its own config dataclass."""

    def deco(fn: Builder) -> Builder:
        if config is not None:
            fn.Config = config  # type: ignore[attr-defined]
        problem = builder_problem(fn)
        if problem:
            raise ConfigError(f"model {quote(name)} {problem}")
        FAMILIES[name] = fn
        return fn

    return deco


def family_plugin(name: str, source: str | None = None) -> plugins.Plugin:
    """The builder `name` refers to and the reference config.json keeps for it."""
    found = plugins.load(name, "model", ENTRY_POINTS, FAMILIES, builder_problem, source)
    return plugins.kept_by_import_path(found, FAMILIES, builtin=found.ref in BUILTIN)


def portable(cfg: ModelConfig) -> bool:
    """Whether a process other than this one can load the family a resolved section names."""
    return cfg.family not in FAMILIES or cfg.family in BUILTIN


def resolve_model(values: dict[str, Any]) -> ModelConfig:
    """The model section as the family's config dataclass: the family's reference (and file
    hash) as config.json keeps them, every field coerced, unknown fields refused."""
    source = coerce(values.get("source"), str | None, "model.source")
    found = family_plugin(coerce(values.get("family", "dit"), str, "model.family"), source)
    cls = config_class(found.obj)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown config key model.{unknown[0]}; model family {quote(found.ref)} has {sorted(known)}")
    try:
        return fill(cls, {**values, "family": found.ref, "source": found.source}, "model", f"model {quote(found.ref)}")
    except TwoClocksError:
        raise
    except Exception as exc:  # a family's own Config refusing a value its own way
        raise PluginError(f"model {found.ref}: {cls.__name__}(...) raised {exception_line(exc)}") from None


@register("dit")
def build_dit(cfg: ModelConfig, encoding: Encoding, train_cells: np.ndarray) -> GenerativeModel:
    from twoclocks.models.dit import DiT
    from twoclocks.models.edm import wrap

    return wrap(DiT(cfg, encoding.channels, encoding.shape), encoding, cfg, train_cells)


@register("mlp")
def build_mlp(cfg: ModelConfig, encoding: Encoding, train_cells: np.ndarray) -> GenerativeModel:
    from twoclocks.models.edm import wrap
    from twoclocks.models.mlp import MLPDenoiser

    return wrap(MLPDenoiser(cfg, encoding.channels, encoding.shape), encoding, cfg, train_cells)


@register("gpt")
def build_gpt(cfg: ModelConfig, encoding: Encoding, train_cells: np.ndarray) -> GenerativeModel:
    from twoclocks.models.gpt import GPT

    return GPT(encoding, cfg)


@register("mdm")
def build_mdm(cfg: ModelConfig, encoding: Encoding, train_cells: np.ndarray) -> GenerativeModel:
    from twoclocks.models.mdm import MDM

    return MDM(encoding, cfg)


def build_model(cfg: ModelConfig, encoding: Encoding, train_cells: np.ndarray) -> GenerativeModel:
    """The model of a resolved model section (`resolve_model`)."""
    from twoclocks.models.base import GenerativeModel

    found = family_plugin(cfg.family, cfg.source)
    model = found.obj(cfg, encoding, train_cells)
    if not isinstance(model, GenerativeModel):
        raise ConfigError(f"model {quote(found.ref)} built a {type(model).__name__}, not a twoclocks GenerativeModel")
    return model
