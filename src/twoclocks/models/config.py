"""The model section of a run's config (`model.*` keys), owned by the model families: every
family reads the fields it uses and ignores the rest, so one flat section serves all of them
and config.json keeps one shape whatever the family. A family of one's own may declare more
fields in a dataclass that extends ModelConfig (its builder's `Config`); `model.<field>` is then
validated against that dataclass, and unknown to every other family.
"""

from __future__ import annotations

from dataclasses import dataclass

from twoclocks.core.domains import Domain, closed, setting
from twoclocks.encoding import SCHEMES

# The choices of model.sampler and model.mask_schedule, named here without torch so that a config
# is read without it; `models.samplers.SAMPLERS` and `models.schedules.SCHEDULES` give each name
# its function.
SAMPLER_NAMES = ("heun", "dpmpp_2m")
SCHEDULE_NAMES = ("linear", "cosine")
POSITIVE = Domain(0.0, 1e6, lo_open=True)


@dataclass
class ModelConfig:
    family: str = "dit"  # dit | gpt | mlp | mdm, an entry point's name, pkg.module:builder or file.py:builder
    source: str | None = None  # content hash of a family file (file.py:builder), set when resolved
    width: int = setting(128, domain=closed(1, 2**14))  # embedding width
    depth: int = setting(4, domain=closed(1, 256))  # number of transformer blocks (MLP: hidden layers)
    heads: int = setting(4, domain=closed(1, 1024))  # attention heads
    patch: int = setting(2, domain=closed(1, 64))  # DiT: p x p cells per token (must divide H and W)
    # hidden width of each block's MLP, as a multiple of width
    mlp_ratio: float = setting(4.0, domain=Domain(0.0, 64.0, lo_open=True))
    # categorical cells for diffusion: auto/onehot | analog
    encoding: str = setting("auto", domain=Domain(choices=SCHEMES))
    # EDM (Karras et al. 2022) preconditioning and sampling, for the diffusion families.
    # std of the encoded data; None = measured on the training set
    sigma_data: float | None = setting(None, domain=POSITIVE)
    # mean of ln(sigma) during training (e^20 is far beyond any noise level used)
    P_mean: float = setting(-1.2, domain=closed(-20.0, 20.0))
    P_std: float = setting(1.2, domain=closed(0.0, 20.0))  # std of ln(sigma) during training
    # The sampler: the cheapest measured schedule whose error stays within about one Wilson
    # half-width of a 96-step solve at every checkpoint (docs/protocol.md "Sampler accuracy",
    # benchmarks/sampler_accuracy.py). EDM's image range (80 -> 0.002) with 12 Heun steps
    # under-counted `valid` by up to 5 half-widths during the rule transition.
    sigma_min: float = setting(0.02, domain=POSITIVE)  # last noise level of the sampler
    sigma_max: float = setting(20.0, domain=POSITIVE)  # first noise level of the sampler
    rho: float = setting(7.0, domain=Domain(0.0, 100.0, lo_open=True))  # time-step exponent of the noise levels
    # noise levels of the sampler (then 0); MDM: unmasking levels
    sample_steps: int = setting(16, domain=closed(1, 10**4))
    # dpmpp_2m (steps network evaluations per sample) | heun (2*steps-1)
    sampler: str = setting("dpmpp_2m", domain=Domain(choices=SAMPLER_NAMES))
    # Autoregressive sampling.
    # GPT, MDM: softmax temperature of ancestral sampling
    temperature: float = setting(1.0, domain=Domain(0.0, 100.0, lo_open=True))
    # Masked diffusion.
    # MDM: alpha(t) = 1 - t (linear) | cos(pi t / 2) (cosine)
    mask_schedule: str = setting("linear", domain=Domain(choices=SCHEDULE_NAMES))
