"""Model-family registry: `build_model(cfg, encoding, train_cells)` for any family.

A family builder takes (ModelConfig, Encoding, training cells uint8 (N, H, W)) and returns a
`GenerativeModel`. New families register here and need no change to trainer or evaluator.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from twoclocks.encoding import Encoding
from twoclocks.errors import ConfigError
from twoclocks.models.base import GenerativeModel
from twoclocks.models.config import ModelConfig

Builder = Callable[[ModelConfig, Encoding, np.ndarray], GenerativeModel]
FAMILIES: dict[str, Builder] = {}


def register(name: str):
    def deco(fn: Builder) -> Builder:
        FAMILIES[name] = fn
        return fn

    return deco


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
    if cfg.family not in FAMILIES:
        raise ConfigError(f"unknown model {cfg.family!r}; choose one of {sorted(FAMILIES)}")
    return FAMILIES[cfg.family](cfg, encoding, train_cells)
