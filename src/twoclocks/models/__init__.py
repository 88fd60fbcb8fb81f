"""Model-family registry: `build_model(cfg, encoding, train_cells)` for any family.

A family builder takes (ModelConfig, Encoding, training cells uint8 (N, H, W)) and returns a
`GenerativeModel`. New families register here and need no change to trainer or evaluator.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

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


def data_std(encoded: torch.Tensor) -> float:
    """sigma_data default: std of every entry of the encoded training set (about 1 for +-1)."""
    return float(encoded.float().std()) if encoded.numel() > 1 else 1.0


@register("dit")
def build_dit(cfg: ModelConfig, encoding: Encoding, train_cells: np.ndarray) -> GenerativeModel:
    from twoclocks.models.dit import DiT
    from twoclocks.models.edm import EDMDiffusion

    sigma_data = cfg.sigma_data if cfg.sigma_data is not None else data_std(encoding.to_continuous(train_cells))
    backbone = DiT(cfg, encoding.channels, encoding.shape)
    return EDMDiffusion(backbone, encoding, cfg, sigma_data)


@register("mlp")
def build_mlp(cfg: ModelConfig, encoding: Encoding, train_cells: np.ndarray) -> GenerativeModel:
    from twoclocks.models.edm import EDMDiffusion
    from twoclocks.models.mlp import MLPDenoiser

    sigma_data = cfg.sigma_data if cfg.sigma_data is not None else data_std(encoding.to_continuous(train_cells))
    backbone = MLPDenoiser(cfg, encoding.channels, encoding.shape)
    return EDMDiffusion(backbone, encoding, cfg, sigma_data)


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
