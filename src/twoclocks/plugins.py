"""A user's own code, named in a config: a task class or a model-family builder, found by

- its registered name (`twoclocks.tasks.register`, `twoclocks.models.register`, the built-ins);
- an installed package's entry point in group `twoclocks.tasks` or `twoclocks.models`, found
  by name without any import by the user;
- an import path `pkg.module:Name`, importable where the run runs;
- a file path `./myrule.py:Name` or `/abs/dir/myrule.py:Name`.

What a config keeps (config.json) is a reference that any process loads by itself: the
name of a built-in, `pkg.module:Name` (an entry point's import path, or an importable module),
or the absolute path of a file with `Name`, plus that file's content hash, which every later
load checks, so that a sweep worker or a resumed run never runs an edited rule silently. A
class registered from a script's `__main__` is kept as the script's file path; one registered
in a notebook or `python -c` has no file, so only its own process can run it (`portable`).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any

from twoclocks.errors import ConfigError, exception_line, quote

HASH_CHARS = 16  # hex digits of a file's sha256 kept in a config
_FILE_MODULE = "twoclocks_plugin_"  # prefix of the module name a plugin file is loaded as
_READING = ContextVar("twoclocks_reading", default=False)  # inside never_imported


@contextmanager
def never_imported() -> Iterator[None]:
    """Inside the block no plugin is imported: loading one is a one-line ConfigError (built-in
    and registered names still resolve, their code is already in this process)."""
    token = _READING.set(True)
    try:
        yield
    finally:
        _READING.reset(token)


def reads_only(fn: Callable) -> Callable:
    """`fn` runs inside `never_imported` (a reader of run and sweep folders)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with never_imported():
            return fn(*args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class Plugin:
    """A loaded object and the reference a config keeps for it."""

    obj: Any
    ref: str  # registered name, "pkg.module:Name" or "/abs/file.py:Name"
    source: str | None = None  # content hash of a file plugin's file


def is_path_reference(text: str) -> bool:
    """Whether `text` names a file's object (`dir/file.py:Name`) rather than a module's."""
    module = text.rpartition(":")[0]
    return module.endswith(".py") or "/" in module or "\\" in module


def file_hash(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:HASH_CHARS]
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from None


def load(
    text: str,
    kind: str,
    group: str,
    registered: Mapping[str, Any],
    check: Callable[[Any], str | None],
    source: str | None = None,
) -> Plugin:
    """The object `text` names (see the module docstring). `kind` ("task", "model") names it in
    messages, `group` is its entry-point group, `check(obj)` says what is wrong with a loaded
    object (or None), and `source` is the content hash a config kept for a file plugin. Every
    problem is one ConfigError line that starts with the config field, e.g. "model.family"."""
    field = FIELDS.get(kind, kind)
    try:
        return _load(text.strip(), kind, group, registered, check, source)
    except ConfigError as exc:
        raise ConfigError(f"{field}: {exc}") from None


# The config fields that name a plugin of each kind, and that keep its file's content hash.
FIELDS = {"task": "task", "model": "model.family"}
SOURCES = {"task": "task.source", "model": "model.source"}


def _load(
    text: str,
    kind: str,
    group: str,
    registered: Mapping[str, Any],
    check: Callable[[Any], str | None],
    source: str | None,
) -> Plugin:
    if not text:
        raise ConfigError(f"{kind} must be a name or an import path, got an empty string")
    if text in registered:
        obj, ref = registered[text], text
        if source is not None:
            raise ConfigError(
                f"{quote(text)} is registered by name; {SOURCES[kind]}={quote(source)} is for a {kind} file"
            )
    elif _READING.get():
        raise ConfigError(
            f"{kind} {quote(text)} is a plugin, and reading runs or sweeps (or predicting) never imports one"
        )
    elif ":" in text:
        obj, ref, found = _load_reference(text, kind)
        if source is not None and found != source:
            raise ConfigError(
                f"{kind} file {text.rpartition(':')[0]} changed since the run was configured "
                f"(its content hash is {found}, the config has {source}); restore it or start a new run"
            )
        source = found
    else:
        entry = _entry_points(group).get(text)
        if entry is None:
            raise ConfigError(_unknown(text, kind, group, registered))
        with _importing(lambda line: f"{kind} {quote(text)} (entry point {entry.value}) cannot be imported: {line}"):
            obj = entry.load()
        ref = entry.value
    problem = check(obj)
    if problem:
        raise ConfigError(f"{kind} {quote(ref)} {problem}")
    return Plugin(obj, ref, source)


def kept_by_import_path(found: Plugin, registered: Mapping[str, Any], builtin: bool) -> Plugin:
    """`found`, or where it is registered by name in this process and not built in, the same
    object kept by its import path: another process (a sweep worker, a resumed run) has not
    registered it."""
    if found.ref in registered and not builtin:
        where = reference_of(found.obj)
        if where is not None:
            return Plugin(found.obj, *where)
    return found


def reference_of(obj: Any) -> tuple[str, str | None] | None:
    """(reference, file hash) under which another process imports `obj` (a class or function
    defined at the top of a module), or None when only this process has it (`__main__` of a
    notebook or `python -c`)."""
    module_name, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", "")
    if not module_name or "<locals>" in qualname:
        return None
    module = sys.modules.get(module_name)
    origin = getattr(module, "__file__", None)
    if module_name == "__main__" or module_name.startswith(_FILE_MODULE):
        if not origin or not Path(origin).is_file():
            return None
        path = Path(origin).resolve()
        return f"{path}:{qualname}", file_hash(path)
    return f"{module_name}:{qualname}", None


def entry_point_names(group: str) -> list[str]:
    return sorted(_entry_points(group))


def _entry_points(group: str) -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=group)}


def _unknown(text: str, kind: str, group: str, registered: Mapping[str, Any]) -> str:
    names = sorted({*registered, *entry_point_names(group)})
    return (
        f"unknown {kind} {quote(text)}; choose one of {names}, or name your own by import path "
        f"({kind}=pkg.module:Name or {kind}=path/to/file.py:Name; a {kind} registered by name in "
        f"another process is not known here)"
    )


def _load_reference(text: str, kind: str) -> tuple[Any, str, str | None]:
    """(object, reference, file hash or None) of `module:Name` or `file.py:Name`."""
    module_text, _, attr = text.rpartition(":")
    if not module_text or not attr or not all(part.isidentifier() for part in attr.split(".")):
        raise ConfigError(f"{kind} {quote(text)} is not of the form pkg.module:Name or path/to/file.py:Name")
    if is_path_reference(text):
        path = Path(module_text).expanduser().resolve()
        if not path.is_file():
            raise ConfigError(f"{kind} {quote(text)}: no such file {path}")
        digest = file_hash(path)
        module = _import_file(path, digest, kind)
        ref, source = f"{path}:{attr}", digest
    else:
        with _importing(lambda line: f"{kind} {quote(text)}: cannot import module {module_text} ({line})"):
            module = importlib.import_module(module_text)
        ref, source = f"{module_text}:{attr}", None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"{kind} {quote(text)}: {module_text} has no {attr}")
        obj = getattr(obj, part)
    return obj, ref, source


def _import_file(path: Path, digest: str, kind: str) -> Any:
    """The module of a plugin file, executed once per content in this process. Its name holds
    the content hash, so an edited file is a new module and dataclasses in it resolve their
    string annotations through sys.modules as in any module."""
    name = f"{_FILE_MODULE}{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{kind} file {path} cannot be loaded as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    with _importing(lambda line: f"{kind} file {path} raised {line} when imported", lambda: sys.modules.pop(name)):
        spec.loader.exec_module(module)
    return module


@contextmanager
def _importing(message: Callable[[str], str], undo: Callable[[], object] | None = None) -> Iterator[None]:
    """Running a plugin's module: whatever it raises, SystemExit included (a module's sys.exit(0)
    would end the command with status 0, nothing made), is a ConfigError of `message(the
    exception's line)`, after `undo`; Ctrl-C stays an interruption."""
    try:
        yield
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        if undo is not None:
            undo()
        raise ConfigError(message(exception_line(exc))) from None
