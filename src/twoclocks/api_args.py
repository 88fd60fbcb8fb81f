"""The Python API checks its own arguments against their annotations, so that a wrong type is
the same one-line ConfigError as a bad value on the command line, raised before anything runs
or is written. The signature is the only declaration: `@checked` reads it.

The annotations understood: None, bool, int, float, str, Path (any os.PathLike), a class (an
instance of it), unions of these, Mapping[K, V], Iterable[X] (a str or a mapping is never an
Iterable here: a single string where a list is meant is the classic slip), and Any (checked by
the function itself, e.g. seeds). `override_dict` reads the overrides every function takes.
"""

from __future__ import annotations

import collections.abc as cabc
import functools
import inspect
import os
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from twoclocks.config import flatten, parse_overrides
from twoclocks.errors import ConfigError, quote

F = TypeVar("F", bound=Callable[..., Any])


def matches(value: Any, hint: Any) -> bool:
    """Whether `value` fits the annotation `hint` (see the module docstring)."""
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(matches(value, h) for h in typing.get_args(hint))
    if hint is None or hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is Path:
        return isinstance(value, os.PathLike) and isinstance(os.fspath(value), str)
    if origin is cabc.Mapping:
        key, val = typing.get_args(hint) or (Any, Any)
        return isinstance(value, cabc.Mapping) and all(matches(k, key) and matches(v, val) for k, v in value.items())
    if origin is cabc.Iterable:
        (item,) = typing.get_args(hint) or (Any,)
        if isinstance(value, (str, bytes, cabc.Mapping)) or not isinstance(value, cabc.Iterable):
            return False
        # A one-shot iterator is taken as it is: reading it here would use it up.
        return not isinstance(value, cabc.Collection) or all(matches(v, item) for v in value)
    if isinstance(hint, type):
        return isinstance(value, hint)
    raise TypeError(f"unsupported annotation {hint!r}")


def describe(hint: Any, plural: bool = False) -> str:
    """The annotation in words, for the error message ("a string, a path or None")."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return _either([describe(h, plural) for h in typing.get_args(hint)])
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is cabc.Mapping:
        key, val = args or (Any, Any)
        if val is Any:
            text = "dict"
        else:
            text = f"dict from {describe(key, True)} to {describe(val, True)}"
    elif origin is cabc.Iterable:
        text = "list" + ("" if not args or args[0] is Any else f" of {describe(args[0], True)}")
    elif hint is type(None):
        return "None"
    elif hint is bool:
        return "True or False"
    else:
        names = {int: "integer", float: "number", str: "string", Path: "path"}
        text = names.get(hint, getattr(hint, "__name__", str(hint)))
    if plural:
        return text + "s" if " " not in text else text.replace(" ", "s ", 1)
    return ("an " if text[0] in "aeiou" else "a ") + text


def _either(words: list[str]) -> str:
    words = list(dict.fromkeys(words))
    return " or ".join(words)


def shown(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def checked(func: F) -> F:
    """Check every annotated argument of `func` before it runs: a wrong type is a one-line
    ConfigError naming the argument, what it must be, and what it got."""
    signature = inspect.signature(func)

    @functools.cache
    def annotated() -> list[tuple[str, Any]]:  # on first call: the class of a method exists by then
        hints = typing.get_type_hints(func)
        kinds = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        return [
            (p.name, hints[p.name]) for p in signature.parameters.values() if p.name in hints and p.kind not in kinds
        ]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise ConfigError(f"{func.__qualname__}: {exc}") from None
        for name, hint in annotated():
            if name in bound.arguments and not matches(bound.arguments[name], hint):
                raise ConfigError(f"{name} must be {describe(hint)}, got {shown(bound.arguments[name])}")
        return func(*args, **kwargs)

    return typing.cast(F, wrapper)


Overrides = Mapping[str, Any] | Iterable[str] | None


def override_dict(overrides: Overrides) -> dict[str, Any]:
    """A dict as it is ({"task.G": 3}, or nested sections {"task": {"G": 3}} as in a --config
    file), or the command line's ["task.G=3"] words parsed (YAML)."""
    if overrides is None:
        return {}
    if isinstance(overrides, str):
        raise ConfigError(f"overrides must be a dict or a list of key=value strings, got the string {quote(overrides)}")
    if isinstance(overrides, Mapping):
        flat = flatten(dict(overrides))
        bad_keys = [k for k in flat if not isinstance(k, str) or not k]
        if bad_keys:
            raise ConfigError(f"override keys must be dotted strings such as 'task.G', got {quote(bad_keys[0])}")
        return flat
    words = list(overrides)
    bad = [w for w in words if not isinstance(w, str)]
    if bad:
        raise ConfigError(f"overrides must be key=value strings, got {quote(bad[0])}")
    return parse_overrides(words)
