"""The facts of a config field, declared on the field itself (dataclass field metadata, through
`setting`): its domain (the values it may take, checked before any file is written) and its
role (what kind of fact it is). Every list of fields of one kind is derived from these: the
fields a sweep point's hash leaves out, the fields fits never slice by, the fields the laws of
prediction need not model. A field without a declared domain gets its type's default domain
(DEFAULT_DOMAINS), a task's fields as well as a plugin's.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from twoclocks.errors import ConfigError, quote

SEED_MAX = 2**62  # seeds plus the stream offsets of training.experiment stay below torch's 2**64
BIG = 10**9  # the largest count or step number any field takes

# What kind of fact a field is. Only `science` fields say what a run computes; the others say
# which draw it is, how long it goes, how its clocks are read or kept, or how it is executed.
ROLES = {
    "science": "what the run computes: the variables of fits and laws",
    "seed": "which draw of the same process",
    "budget": "how long the run goes (the clocks are those of any longer run)",
    "measurement": "how the clocks are read off the curves (their noise and resolution)",
    "recording": "what the run keeps on disk",
    "execution": "how the run is executed, with the same numbers whatever it is set to",
}
# Roles whose fields never make runs different in what they learn: fits pool across them, and a
# prediction is not extrapolating when they differ from the fitted runs (measurement excepted:
# the laws were fitted at the measured noise and resolution of the clocks).
POOLED = ("seed", "budget", "measurement", "recording", "execution")
UNMODELLED = ("seed", "budget", "recording", "execution")


@dataclass(frozen=True)
class Domain:
    """The values a config field may take: a closed or open interval for numbers (every number
    must also be finite), or a set of choices for strings."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: Collection[str] | None = None  # a live view (dict keys) follows its declaration
    why: str = ""  # what the bound is for, said with it

    def contains(self, value: Any) -> bool:
        if self.choices is not None:
            return value in self.choices
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return True  # not a number: its type was checked when it was coerced
        if not math.isfinite(value):
            return False
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return False
        return self.hi is None or (value < self.hi if self.hi_open else value <= self.hi)

    def describe(self) -> str:
        """'one of a, b', 'positive and at most 1e+09', 'in (0, 1]': what a bad value is told,
        with what the bound is for when the field says."""
        return f"{self._bounds()} ({self.why})" if self.why else self._bounds()

    def _bounds(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(self.choices)
        if self.lo is None or self.hi is None or self.hi <= 1:
            lo = "-inf" if self.lo is None else _num(self.lo)
            hi = "inf" if self.hi is None else _num(self.hi)
            return f"a finite number in {'(' if self.lo_open else '['}{lo}, {hi}{')' if self.hi_open else ']'}"
        # A closed lower bound of 1 is only used for counts (integers): "positive" is exact.
        words: dict[tuple[float, bool], str] = {(0, True): "positive", (1, False): "positive"}
        words[(0, False)] = "non-negative"
        low = words.get((self.lo, self.lo_open), f"{'above' if self.lo_open else 'at least'} {_num(self.lo)}")
        return f"{low} and {'below' if self.hi_open else 'at most'} {_num(self.hi)}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e12 else f"{x:g}"


def closed(lo: float, hi: float, why: str = "") -> Domain:
    return Domain(lo, hi, why=why)


UNIT_OPEN = Domain(0.0, 1.0, lo_open=True, hi_open=True)
UNIT_HALF = Domain(0.0, 1.0, lo_open=True)  # (0, 1]
FRACTION = Domain(0.0, 1.0, hi_open=True)  # [0, 1)
SEED = closed(0, SEED_MAX)
# A field that declares no domain (a new one, or a task's) gets its type's domain: counts and steps are
# >= 0 (seeds: SEED), numbers are finite and bounded, strings are not empty.
DEFAULT_DOMAINS: dict[type, Domain] = {int: closed(0, BIG), float: closed(-1e6, 1e6)}


def base_type(annotation: Any) -> Any:
    """int for `int | None`, and so on: the one non-None type of a field."""
    options = [a for a in typing.get_args(annotation) if a is not type(None)]
    return options[0] if typing.get_origin(annotation) in (typing.Union, types.UnionType) else annotation


def setting(
    default: Any = dataclasses.MISSING,
    *,
    domain: Domain | None = None,
    role: str = "science",
    neutral: Any = dataclasses.MISSING,
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """A dataclass field with its facts: its `domain`, its `role` (ROLES), and, for a field of
    role execution that a sweep point's hash leaves out, the `neutral` value it is hashed at."""
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {sorted(ROLES)}")
    metadata: dict[str, Any] = {"domain": domain, "role": role}
    if neutral is not dataclasses.MISSING:
        metadata["neutral"] = neutral
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata)


def role_of(f: dataclasses.Field) -> str:
    return f.metadata.get("role", "science")


def domain_of(f: dataclasses.Field, annotation: Any) -> Domain | None:
    """The domain of field `f` (None: any value of its type, e.g. a bool)."""
    declared = f.metadata.get("domain")
    if declared is not None:
        return declared
    kind = base_type(annotation)
    if kind is int and f.name.endswith("seed"):  # e.g. task.layout_seed
        return SEED
    return DEFAULT_DOMAINS.get(kind)


def check_value(key: str, value: Any, f: dataclasses.Field, annotation: Any) -> None:
    """A one-line ConfigError naming `key` unless `value` lies in field `f`'s domain."""
    if value is None:
        return  # an optional field left at its default
    if base_type(annotation) is str and not str(value).strip():
        raise ConfigError(f"{key} must not be empty")
    domain = domain_of(f, annotation)
    if domain is not None and not domain.contains(value):
        raise ConfigError(f"{key} must be {domain.describe()}, got {quote(value)}")
