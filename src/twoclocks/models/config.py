"""The model section of a run's config (`model.*` keys), owned by the model families: every
family reads the fields it uses and ignores the rest, so one flat section serves all of them
and config.json keeps one shape whatever the family. A family of one's own may declare more
fields in a dataclass that extends ModelConfig (its builder's `Config`); `model.<field>` is then
validated against that dataclass, and unknown to every other family.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ModelConfig:
    family: str = "dit"  # dit | gpt | mlp | mdm, an entry point's name, pkg.module:builder or file.py:builder
    source: str | None = None  # content hash of a family file (file.py:builder), set when resolved
    width: int = 128  # embedding width
    depth: int = 4  # number of transformer blocks (MLP: hidden layers)
    heads: int = 4  # attention heads
    patch: int = 2  # DiT: p x p cells per token (must divide H and W)
    mlp_ratio: float = 4.0  # hidden width of each block's MLP, as a multiple of width
    encoding: str = "auto"  # categorical cells for diffusion: auto/onehot | analog
    # EDM (Karras et al. 2022) preconditioning and sampling, for the diffusion families.
    sigma_data: float | None = None  # std of the encoded data; None = measured on the training set
    P_mean: float = -1.2  # mean of ln(sigma) during training
    P_std: float = 1.2  # std of ln(sigma) during training
    # The sampler: the cheapest measured schedule whose error stays within about one Wilson
    # half-width of a 96-step solve at every checkpoint (docs/protocol.md "Sampler accuracy",
    # benchmarks/sampler_accuracy.py). EDM's image range (80 -> 0.002) with 12 Heun steps
    # under-counted `valid` by up to 5 half-widths during the rule transition.
    sigma_min: float = 0.02  # last noise level of the sampler
    sigma_max: float = 20.0  # first noise level of the sampler
    rho: float = 7.0  # time-step exponent of the sampler's noise schedule
    sample_steps: int = 16  # noise levels of the sampler (then 0); MDM: unmasking levels
    sampler: str = "dpmpp_2m"  # dpmpp_2m (steps network evaluations per sample) | heun (2*steps-1)
    # Autoregressive sampling.
    temperature: float = 1.0  # GPT, MDM: softmax temperature of ancestral sampling
    # Masked diffusion.
    mask_schedule: str = "linear"  # MDM: alpha(t) = 1 - t (linear) | cos(pi t / 2) (cosine)
