"""Typed dataclass fields filled from YAML-parsed values: the one coercion every config section
uses, the run's own sections as well as a task's Params and a model family's config.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any

from twoclocks.core.domains import check_value
from twoclocks.errors import ConfigError, quote

_NAMES = {"int": int, "float": float, "str": str, "bool": bool, "dict": dict, "None": type(None)}


def field_types(cls: type) -> dict[str, Any]:
    """{field name: annotated type} of a dataclass, string annotations resolved (the builtin
    names as well, for a class whose module cannot be read back); a field whose annotation
    names something not importable here keeps it as text, and its values are taken as given."""
    return dict(_field_types(cls))


# Resolving string annotations compiles each one: once per class, not once per value set (a
# config is built field by field, thousands of times in a sweep's planning).
@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    try:
        hints = typing.get_type_hints(cls, localns=_NAMES)
    except Exception:  # one annotation that cannot be resolved: resolve the others one by one
        hints = {f.name: _resolved(f.type, cls) for f in dataclasses.fields(cls)}
    return {f.name: hints.get(f.name, f.type) for f in dataclasses.fields(cls)}


def _resolved(annotation: Any, cls: type) -> Any:
    holder = type("Holder", (), {"__annotations__": {"x": annotation}, "__module__": cls.__module__})
    try:
        return typing.get_type_hints(holder, localns=_NAMES)["x"]
    except Exception:
        return annotation


def coerce(value: Any, annotation: Any, key: str) -> Any:
    """Coerce a YAML-parsed value to a dataclass field's annotated type (a one-line
    ConfigError naming `key` when it cannot be)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        for opt in options:
            if opt is type(None):
                continue
            try:
                return coerce(value, opt, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: cannot use {quote(value)} as {annotation}")
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key} must be true or false, got {quote(value)}")
    if annotation is int:
        # A float must be integral; nan and inf are not (int() of them would raise).
        integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        if isinstance(value, bool) or not integral:
            raise ConfigError(f"{key} must be an integer, got {quote(value)}")
        return int(value)
    if annotation is float:
        if isinstance(value, str):  # YAML 1.1 reads 3e-4 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key} must be a number, got {quote(value)}")
        return float(value)
    if annotation is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{key} must be a string, got {quote(value)}")
        return str(value)
    return value


def fill(cls: type, values: Mapping[str, Any], section: str, owner: str) -> Any:
    """An instance of dataclass `cls` with `values` coerced to its fields' types; an unknown
    field is a one-line ConfigError naming `section.field` and `owner` (what the fields
    belong to, e.g. "task 'parity'")."""
    types_ = field_types(cls)
    for key in values:
        if key not in types_:
            raise ConfigError(f"unknown field {section}.{key} for {owner}; it has {sorted(types_)}")
    out = cls(**{k: coerce(v, types_[k], f"{section}.{k}") for k, v in values.items()})
    for f in dataclasses.fields(cls):
        check_value(f"{section}.{f.name}", getattr(out, f.name), f, types_[f.name])
    return out
