"""The task interface: a rule-valid distribution over small grids of categorical cells.

Every task describes items as integer grids `cells` of shape (n, H, W) with values in
[0, num_values). Encodings for diffusion (continuous) and for autoregressive models (tokens)
are derived generically from (shape, num_values) in `twoclocks.encoding`, so the trainer and
evaluator never contain task-specific code.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from twoclocks.errors import ConfigError

if TYPE_CHECKING:  # a task's rule is numpy; torch is imported where a model runs
    import torch


class Task(ABC):
    """A rule-valid distribution. Subclasses set the class attributes and implement the rest.

    Class attributes:
        name:    registry name used by `make_task` and `task=` on the command line.
        kind:    "binary" (cells are bits), "puzzle" (categorical cells), "natural" (a lexicon),
                 "image" or "custom" (what `twoclocks tasks` shows; not model.family).
        knob:    the parameter that controls rule complexity (for sweeps and `twoclocks tasks`;
                 "" when there is none).
        Params:  a dataclass with the task's parameters and their defaults.
        run_defaults: dotted config keys and values (e.g. {"model.patch": 1}) that a run of this
                 task takes where the user did not set those keys; applied and validated as
                 overrides (`twoclocks.config.apply_overrides`), so config.json records them.
    """

    name: ClassVar[str]
    kind: ClassVar[str] = "custom"
    knob: ClassVar[str] = ""
    Params: ClassVar[type]
    run_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, params: Any):
        self.params = params

    # ----- shape ---------------------------------------------------------------------------
    @property
    @abstractmethod
    def shape(self) -> tuple[int, int]:
        """(H, W) of one item."""

    @property
    def num_values(self) -> int:
        """Number of values a cell can take (2 for binary tasks)."""
        return 2

    @property
    def num_cells(self) -> int:
        return self.shape[0] * self.shape[1]

    # ----- the rule -----------------------------------------------------------------------
    # False for a data set without a rule (twoclocks.tasks.images): `sample` draws from the
    # data set, `constraints` is a learned probe's verdict on each item, the population is
    # unknown, and each copy criterion's chance level is measured on held-out items.
    has_rule: ClassVar[bool] = True
    min_items: ClassVar[int] = 1  # the smallest training set its metrics can read

    @abstractmethod
    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw n valid items, i.i.d. (uniform over the valid set unless the docs say not).

        Returns uint8 cells of shape (n, H, W).
        """

    def example(self, rng: np.random.Generator) -> np.ndarray:
        """One valid item, uint8 (H, W), not necessarily drawn as `sample` draws: what reads the
        rule's structure (which cells each constraint reads) needs a valid item, not a uniform
        one, so a task whose sampler is slow gives a cheap one here."""
        return self.sample(1, rng)[0]

    @abstractmethod
    def constraints(self, cells: np.ndarray) -> np.ndarray:
        """Per-constraint satisfaction: bool array (n, num_constraints)."""

    def is_valid(self, cells: np.ndarray) -> np.ndarray:
        """Sample-level validity: bool (n,), True when every constraint holds."""
        return np.asarray(self.constraints(cells).all(axis=1))

    def constraint_acc(self, cells: np.ndarray) -> np.ndarray:
        """Fraction of constraints satisfied per sample: float (n,)."""
        return self.constraints(cells).mean(axis=1)

    # ----- population ---------------------------------------------------------------------
    @property
    def log2_population(self) -> float:
        """log2 of the number of valid items (exact, or a documented estimate); NaN when the
        rule does not know it (a run then takes `data.population` when given)."""
        return math.nan

    @property
    def population_known(self) -> bool:
        return math.isfinite(self.log2_population)

    @property
    def population_exact(self) -> bool:
        """Whether `log2_population` is exact."""
        return self.population_known

    @property
    def population(self) -> int | None:
        """The exact population size when it is known and fits an int, else None."""
        if not self.population_known or not self.population_exact:
            return None
        return int(round(2.0**self.log2_population)) if self.log2_population < 62 else None

    @property
    def valid_chance(self) -> float:
        """The rate at which a uniformly random grid is valid, population / K^cells: what an
        untrained model's `valid` reads by luck (twoclocks.clocks.chance_shift). 0 when the
        population is unknown (a data set without a rule)."""
        if not self.population_known:
            return 0.0
        return float(2.0 ** (self.log2_population - self.num_cells * math.log2(self.num_values)))

    def mem_chance(self, n_train: int) -> float:
        """Probability that one uniform draw from the population lies in a training set of
        n_train distinct items: what a perfect rule learner copies by luck. An unknown population
        counts as 0 (tau_mem then measures `mem` itself; the run says so at its start)."""
        if not self.population_known:
            return 0.0
        return float(min(1.0, n_train * 2.0 ** (-self.log2_population)))

    def near_ball(self, d: int) -> int | None:
        """How many valid items lie within Hamming distance d (cells) of a valid item, when
        that number is the same for every valid item (a linear code); None when unknown."""
        return None

    def near_chance(self, n_train: int, d: int) -> float | None:
        """Probability that one uniform draw from the population lies within Hamming distance d
        of at least one of n_train distinct training items drawn uniformly from it:
        1 - C(P - B, n) / C(P, n) with B = near_ball(d). None when near_ball is unknown.
        For d = 0 it is mem_chance."""
        ball = self.near_ball(d)
        if ball is None:
            return None
        log2_p = self.log2_population
        if self.population is None:  # a population too large for exact counts: independent draws
            return float(-np.expm1(n_train * np.log1p(-ball * 2.0 ** (-log2_p))))
        p = self.population
        if ball + n_train > p:
            return 1.0
        i = np.arange(n_train, dtype=np.float64)
        return float(-np.expm1(np.log1p(-ball / (p - i)).sum()))

    def enumerate(self) -> np.ndarray | None:
        """All valid items (uint8 (P, H, W)) when the population is small enough, else None."""
        return None

    def distinct_items(self, read: bool = True) -> int | None:
        """How many distinct items `sample` can give when it draws from a finite set (a data
        set's training split), else None; with `read` False, also None where counting them
        would read files the package does not ship."""
        return None

    def check_size(self, N: int, drawn: bool = True, read: bool = True) -> None:
        """One line when a training set of N items is smaller than the task's metrics read or,
        drawn from the task (`drawn`; not a data.path file), larger than the distinct items
        `sample` can give (`read`: as `distinct_items`)."""
        if N < self.min_items:
            raise ConfigError(f"data.N={N}: {self.describe()} needs at least {self.min_items} training items")
        distinct = self.distinct_items(read) if drawn else None
        if distinct is not None and N > distinct:
            raise ConfigError(f"data.N={N} is more than the {distinct:,} distinct items {self.describe()} draws from")

    def as_text(self, cells: np.ndarray) -> list[str] | None:
        """Each item as a line of text (uint8 (n, H, W) -> n strings) for a rule whose items read
        as text, e.g. words; None when an item is shown as its grid."""
        return None

    # ----- encodings (conveniences over twoclocks.encoding.Encoding) ----------------------
    def encoding(self, scheme: str = "auto"):
        from twoclocks.encoding import Encoding

        order = self.token_order()
        return Encoding(self.shape, self.num_values, scheme, None if order is None else tuple(int(i) for i in order))

    def encode(self, cells: np.ndarray, scheme: str = "auto"):
        """uint8 cells (n, H, W) -> float tensor (n, C, H, W) in {-1, +1} (diffusion encoding)."""
        return self.encoding(scheme).to_continuous(cells)

    def decode(self, x, scheme: str = "auto") -> np.ndarray:
        """float (n, C, H, W) -> integer grids uint8 (n, H, W) (sign / argmax decoding)."""
        return self.encoding(scheme).from_continuous(x)

    # ----- identity -----------------------------------------------------------------------
    def definition(self) -> dict:
        """Everything that defines the rule (name + resolved params)."""
        return {"name": self.name, **dataclasses.asdict(self.params)}

    def content_hash(self) -> str:
        """A stable hash of the definition, stored with every run."""
        blob = json.dumps(self.definition(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def source_digest(self) -> str | None:
        """A digest of the data files the task reads beyond its definition (an image data set's
        IDX files), recorded when a run starts so that a resumed run is refused if they changed;
        None for a task that reads none."""
        return None

    def token_order(self) -> np.ndarray | None:
        """Optional order of cells (a permutation of H*W raster indices) for autoregressive
        models; None means raster order."""
        return None

    def describe(self) -> str:
        p = ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(self.params).items())
        return f"{self.name}({p})"


def with_population(task: Task, count: float) -> Task:
    """The same rule with its population given from outside (`data.population`), for a rule
    that does not know it."""
    if task.population_known:
        raise ConfigError(
            f"data.population: {task.describe()} knows its population (2^{task.log2_population:.2f} items); "
            f"data.population is for a rule that does not"
        )
    log2 = math.log2(count)

    class GivenPopulation(type(task)):  # type: ignore[misc]
        @property
        def log2_population(self) -> float:
            return log2

        @property
        def population_exact(self) -> bool:
            return False

    given = copy.copy(task)
    given.__class__ = GivenPopulation
    return given


@runtime_checkable
class ParityGroups(Protocol):
    """A rule of even-parity groups of bits, whose population posteriors have a closed form
    (`models.reference`, `models.mdm_reference`): the one test of "has a closed form"."""

    groups: np.ndarray

    def posterior_mean(self, y: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor: ...
