"""The domain of every config field: the values it may take, checked by `config.validate`
before any file is written. A field gets its domain from DOMAINS, or (a new field, a task's
field) from its type's default in DEFAULT_DOMAINS.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import dataclass
from typing import Any

from twoclocks.encoding import SCHEMES
from twoclocks.models.edm import SAMPLERS
from twoclocks.models.mdm import SCHEDULES

STOP_AT = ("none", "rule", "mem")  # train.stop_at (twoclocks.training.stopping)

SEED_MAX = 2**62  # seeds plus the stream offsets of training.experiment stay below torch's 2**64
BIG = 10**9  # the largest count or step number any field takes


@dataclass(frozen=True)
class Domain:
    """The values a config field may take: a closed or open interval for numbers (every number
    must also be finite), or a set of choices for strings."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple[str, ...] | None = None

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
        """'one of a, b', 'positive and at most 1e+09', 'in (0, 1]': what a bad value is told."""
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


def _closed(lo: float, hi: float) -> Domain:
    return Domain(lo, hi)


UNIT_OPEN = Domain(0.0, 1.0, lo_open=True, hi_open=True)
UNIT_HALF = Domain(0.0, 1.0, lo_open=True)  # (0, 1]
FRACTION = Domain(0.0, 1.0, hi_open=True)  # [0, 1)
SEED = _closed(0, SEED_MAX)
# The domain of every field that needs more than its type's default (DEFAULT_DOMAINS). Bounds
# are generous, but finite: a 20-digit step count or a width of 10^9 would fail deep in torch
# after the run directory was written, so it is refused here.
DOMAINS: dict[str, Domain] = {
    "seed": SEED,
    "data.N": _closed(1, BIG),
    "data.seed": SEED,
    "data.population": Domain(1.0, 2.0**1000),
    "train.steps": _closed(1, BIG),
    "train.batch": _closed(1, 2**20),
    # A rate too large to train with is caught by the divergence check (a one-line error with the
    # last good checkpoint kept); beyond 1e30 the first update overflows float32: a typo.
    "train.lr": Domain(0.0, 1e30, lo_open=True),
    "train.warmup": _closed(0, BIG),
    "train.weight_decay": _closed(0.0, 100.0),
    "train.beta1": FRACTION,
    "train.beta2": FRACTION,
    "train.grad_clip": _closed(0.0, 1e6),  # 0 = off
    "train.ema": FRACTION,
    "train.precision": Domain(choices=("auto", "bf16", "fp32")),
    "train.device": Domain(choices=("auto", "cpu", "cuda")),
    "train.threads": _closed(0, 1024),  # 0 = torch's default
    "train.checkpoint_every": _closed(1, BIG),
    "train.stop_at": Domain(choices=STOP_AT),
    "eval.samples": _closed(1, 2**22),
    "eval.points": _closed(1, 10**4),
    "eval.first": _closed(1, BIG),
    "eval.batch": _closed(0, 2**22),  # 0 = auto
    "eval.keep_checkpoints": Domain(choices=("all", "last")),
    "eval.noise_seed": SEED,
    "clocks.theta_rule": UNIT_HALF,
    "clocks.theta_mem": UNIT_HALF,
    "clocks.theta_mem_high": UNIT_HALF,
    "clocks.theta_rule_low": UNIT_HALF,
    "clocks.theta_group": UNIT_HALF,
    "clocks.ci_level": UNIT_OPEN,
    "model.width": _closed(1, 2**14),
    "model.depth": _closed(1, 256),
    "model.heads": _closed(1, 1024),
    "model.patch": _closed(1, 64),
    "model.mlp_ratio": Domain(0.0, 64.0, lo_open=True),
    "model.encoding": Domain(choices=SCHEMES),
    "model.sigma_data": Domain(0.0, 1e6, lo_open=True),
    "model.P_mean": _closed(-20.0, 20.0),  # ln(sigma): e^20 is far beyond any noise level used
    "model.P_std": _closed(0.0, 20.0),
    "model.sigma_min": Domain(0.0, 1e6, lo_open=True),
    "model.sigma_max": Domain(0.0, 1e6, lo_open=True),
    "model.rho": Domain(0.0, 100.0, lo_open=True),
    "model.sample_steps": _closed(1, 10**4),
    "model.sampler": Domain(choices=tuple(SAMPLERS)),
    "model.temperature": Domain(0.0, 100.0, lo_open=True),
    "model.mask_schedule": Domain(choices=tuple(SCHEDULES)),
    # Grid sides of the tasks: items of up to 64 x 64 cells (the copy index and the models hold
    # every item in memory; a side of 10^5 would ask for tens of GB before any check fails).
    "task.n": _closed(1, 64),
    "task.rows": _closed(1, 256),
    "task.width": _closed(1, 256),
}
# A field not in DOMAINS (a new one, or a task's) gets its type's domain: counts and steps are
# >= 0 (seeds: SEED), numbers are finite and bounded, strings are not empty.
DEFAULT_DOMAINS: dict[type, Domain] = {int: _closed(0, BIG), float: _closed(-1e6, 1e6)}


def base_type(annotation: Any) -> Any:
    """int for `int | None`, and so on: the one non-None type of a field."""
    options = [a for a in typing.get_args(annotation) if a is not type(None)]
    return options[0] if typing.get_origin(annotation) in (typing.Union, types.UnionType) else annotation


def domain_of(key: str, annotation: Any) -> Domain | None:
    """The domain of field `key` (None: any value of its type, e.g. a bool)."""
    if key in DOMAINS:
        return DOMAINS[key]
    kind = base_type(annotation)
    if kind is int and key.endswith("seed"):  # e.g. task.layout_seed
        return SEED
    return DEFAULT_DOMAINS.get(kind)
