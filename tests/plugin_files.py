"""Source text of the user files the plugin and data tests write into a temporary directory."""

RULE = '''
from dataclasses import dataclass

import numpy as np

from twoclocks.tasks.base import Task


@dataclass
class RowParityParams:
    n: int = 4


class RowParity(Task):
    name = "row_parity"
    knob = "n"
    Params = RowParityParams

    @property
    def shape(self):
        return (self.params.n, self.params.n)

    @property
    def log2_population(self):
        return float(self.params.n * (self.params.n - 1))

    def sample(self, n, rng):
        free = rng.integers(0, 2, size=(n, self.params.n, self.params.n - 1), dtype=np.uint8)
        last = (free.sum(axis=2) % 2).astype(np.uint8)
        return np.concatenate([free, last[..., None]], axis=2)

    def constraints(self, cells):
        return np.asarray(cells).sum(axis=2) % 2 == 0


class CountlessRowParity(RowParity):
    """The same rule, not knowing its population."""

    name = "countless_row_parity"
    log2_population = Task.log2_population


class Unfinished(Task):
    name = "unfinished"
    Params = RowParityParams


def not_a_task():
    return 1
'''

FAMILY = '''
from dataclasses import dataclass

from twoclocks.models import FAMILIES
from twoclocks.models.config import ModelConfig


@dataclass
class WideConfig(ModelConfig):
    kernel: int = 3  # a field of this family only


def build(cfg, encoding, train_cells):
    assert isinstance(cfg, WideConfig)
    return FAMILIES["mlp"](cfg, encoding, train_cells)


build.Config = WideConfig


def one_argument(cfg):
    return None
'''
