"""Masked discrete diffusion (absorbing process, SUBS parameterisation; Sahoo et al. 2024,
"Simple and Effective Masked Diffusion Language Models", Shi et al. 2024, "Simplified and
Generalized Masked Diffusion"), mapped one-to-one from the equations.

Shapes: B batch, L = H*W cells in raster order, K cell values, D width. Token ids are the
cell values 0..K-1 and MASK = K.

    forward:  z_t,i = x_i with probability alpha(t), MASK otherwise, independently per cell
    alpha:    linear    alpha(t) = 1 - t                (MDLM's "log-linear" schedule:
                                                         sigma(t) = -ln alpha(t) = -ln(1 - t))
              cosine    alpha(t) = cos(pi t / 2)
    network:  p_theta(x_i | z) over the K values only (MASK is never predicted), conditioned
              on the masking level k/L of z (k masked cells); SUBS carries every unmasked
              cell unchanged
    NELBO:    integral_0^1 w(t) E_z [ sum_{i: z_t,i = MASK} -ln p_theta(x_i | z_t) ] dt,
              w(t) = -alpha'(t) / (1 - alpha(t))      (linear: 1/t)
    estimator: t ~ U(0, 1) (stratified over the batch), z ~ q(z_t | x), and the weight
              replaced by its mean given the number k of masked cells,
                  W_k = E[w(t) | k] = int w(t) m^k (1-m)^(L-k) dt / int m^k (1-m)^(L-k) dt,
              m = 1 - alpha(t)                          (linear: W_k = (L+1)/k)
    sampling: S levels t_k = 1 - k/S; after level k, n_k = round(L alpha(t_k)) cells are
              revealed, in a random order fixed per sample, each drawn from p_theta(. | z) by
              inverse CDF of a uniform fixed per sample and cell

Why W_k and not w(t): the summand depends on t only through z (the network sees the masking
level of z, not t), so E[w(t) | z] = W_k gives an unbiased estimate of the same NELBO
(Rao-Blackwell) with bounded weights. w(t) = 1/t has infinite variance: a batch is dominated
by its rare near-zero t, and a width-64 model stayed at 1 bit per cell for 500 steps where the
W_k estimator took it to 0.78 (docs/families.md).

Why the linear schedule is the default: the NELBO does not depend on the schedule (the test
checks it on the exact denoiser), but the sampler's levels do. With alpha(t) = 1 - t, the
levels t_k reveal the same number of cells each: with S = L exactly one cell per level.

Why a fixed count per level: the reverse process reveals each masked cell between t and s
with probability (alpha(s) - alpha(t)) / (1 - alpha(t)); given how many it reveals, which
ones is uniform. Fixing the count at its mean keeps the exact reverse process whenever a level
reveals at most one cell (then the sampler is exact with the exact denoiser, whatever the
count schedule: tests/test_mdm.py), and fixes the number of cells drawn in parallel, the
sampler's only approximation, per level instead of leaving it to chance.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from twoclocks.data import ItemSets
from twoclocks.encoding import Encoding
from twoclocks.models.base import GenerativeModel, GroupedModel
from twoclocks.models.config import ModelConfig
from twoclocks.models.dit import DiTBody, NoiseEmbedding
from twoclocks.models.gpt import inverse_cdf
from twoclocks.models.grouped import stack_backbone, stacking_blocker
from twoclocks.models.schedules import alpha, count_weights

ELBO_SEED = 5_000_011  # fixed generator of the ELBO metrics' (t, mask) draws (same every eval)
ELBO_DRAWS = 4  # stratified t draws per item of the ELBO metrics (standard error ~0.005 bits/cell on 256 items)
LN2 = math.log(2.0)


def revealed_counts(levels: int, cells: int, schedule: str) -> list[int]:
    """n_k = round(L alpha(t_k)) cells revealed after level k, t_k = 1 - k/S: (S+1,) from 0 to L."""
    t = 1.0 - torch.arange(levels + 1, dtype=torch.float64) / levels
    return [int(v) for v in torch.round(cells * alpha(t, schedule)).long()]


def subs(log_probs: torch.Tensor, z: torch.Tensor, mask_id: int) -> torch.Tensor:
    """SUBS carry-over: an unmasked cell keeps its value with probability 1.
    log_probs (B, L, K), z (B, L) -> (B, L, K)."""
    keep = z != mask_id
    carried = torch.full_like(log_probs, -torch.inf).scatter_(2, z.clamp(max=log_probs.shape[2] - 1)[..., None], 0.0)
    return torch.where(keep[..., None], carried, log_probs)


class MaskedTransformer(DiTBody):
    """logits(z, level): tokens (B, L) in [0, K], masking level (B,) or (1,) -> (B, L, K).

    The DiT's body at one token per cell (adaLN-Zero: every modulation and the output start
    at zero, so the fresh model predicts the uniform distribution on every masked cell), with
    a learned embedding of the K values and MASK, and the DiT's sinusoidal embedding of the
    masking level as the conditioning.
    """

    tok: nn.Embedding
    level_embed: NoiseEmbedding

    def __init__(self, cfg: ModelConfig, num_values: int, shape: tuple[int, int]):
        D = cfg.width
        super().__init__(cfg, shape, num_values, tok=nn.Embedding(num_values + 1, D), level_embed=NoiseEmbedding(D))

    def forward(self, z: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        return self.body(self.tok(z), self.level_embed(level))


class MaskedDiffusionBase(GenerativeModel):
    """Forward process, ancestral sampler and ELBO shared by the network and the exact
    posteriors (twoclocks.models.mdm_reference); subclasses give `log_posterior`."""

    kind = "masked diffusion"
    uses_item_sets = True

    def __init__(self, encoding: Encoding, cfg: ModelConfig):
        super().__init__(encoding)
        self.cfg = cfg
        self.L, self.K = encoding.seq_len, encoding.num_values
        self.mask_id = self.K
        self.count_weight = count_weights(self.L, cfg.mask_schedule)  # W_k, float64 on the CPU

    def log_posterior(self, z: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """log p(x_i = v | z) (B, L, K) float64 for tokens z (B, L) with masking levels (B,),
        the fraction of masked cells of each row."""
        raise NotImplementedError

    def encode(self, cells: np.ndarray) -> torch.Tensor:
        """uint8 cells (n, H, W) -> long tokens (n, L) in raster order (attention is
        bidirectional: no order is needed)."""
        return torch.as_tensor(np.asarray(cells), dtype=torch.long).reshape(len(cells), self.L)

    def decode(self, tokens: torch.Tensor) -> np.ndarray:
        return tokens.detach().cpu().clamp(max=self.K - 1).reshape(-1, *self.encoding.shape).numpy().astype(np.uint8)

    def mask(self, x: torch.Tensor, t: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z_t ~ q(z_t | x): tokens x (B, L), times t (B,), uniforms u (B, L); cell i is masked iff
        u_i < 1 - alpha(t). Returns (z (B, L), masked (B, L) bool)."""
        masked = u < 1.0 - alpha(t, self.cfg.mask_schedule)[:, None]
        return torch.where(masked, torch.full_like(x, self.mask_id), x), masked

    def weight(self, masked: torch.Tensor) -> torch.Tensor:
        """W_k of each row of masked (B, L) -> (B,) float64."""
        return self.count_weight.to(masked.device)[masked.sum(dim=1)]

    # ----- sampling ------------------------------------------------------------------------------
    def make_sample_noise(self, num: int, gen: torch.Generator) -> torch.Tensor:
        """Uniforms (num, 2, L) in [0, 1) on gen.device: [:, 0] orders the cells' reveals (argsort),
        [:, 1, i] picks cell i's value by inverse CDF when it is revealed."""
        return torch.rand(num, 2, self.L, generator=gen, device=gen.device)

    @torch.no_grad()
    def sample_tokens(self, noise: torch.Tensor, levels: int | None = None) -> torch.Tensor:
        """Ancestral unmasking from noise (B, 2, L) over `levels` (default model.sample_steps)
        -> tokens (B, L). A level that reveals no cell costs no network evaluation."""
        S = levels or self.cfg.sample_steps
        device = next(iter(self.parameters()), noise).device
        noise = noise.to(device)
        B = noise.shape[0]
        rank = noise[:, 0].argsort(dim=1).argsort(dim=1)  # (B, L): cell i is revealed rank-th
        z = torch.full((B, self.L), self.mask_id, dtype=torch.long, device=device)
        counts = revealed_counts(S, self.L, self.cfg.mask_schedule)
        for k in range(S):
            if counts[k + 1] == counts[k]:
                continue
            reveal = (rank >= counts[k]) & (rank < counts[k + 1])  # (B, L)
            level = torch.full((B,), (self.L - counts[k]) / self.L, device=device)
            logp = self.log_posterior(z, level)  # (B, L, K)
            drawn = inverse_cdf(logp.reshape(-1, self.K), noise[:, 1].reshape(-1), self.cfg.temperature)
            z = torch.where(reveal, drawn.reshape(B, self.L), z)
        return z

    @torch.no_grad()
    def generate(self, noise: torch.Tensor) -> np.ndarray:
        """Uniforms (B, 2, L) -> uint8 cells (B, H, W); deterministic in (weights, noise)."""
        return self.decode(self.sample_tokens(noise))

    # ----- ELBO -----------------------------------------------------------------------------------
    def nelbo_terms(self, x: torch.Tensor, t: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """One-sample NELBO estimate in nats per item, W_k sum_{masked i} -ln p(x_i | z): tokens
        x (B, L), times t (B,) in (0, 1], mask uniforms u (B, L) -> (B,) float64."""
        z, masked = self.mask(x, t, u)
        logp = self.log_posterior(z, masked.double().mean(dim=1))
        nll = -logp.gather(2, x[..., None]).squeeze(2)  # (B, L)
        nll = torch.where(masked, nll, torch.zeros_like(nll))  # 0 * inf would be NaN
        return self.weight(masked) * nll.sum(dim=1)

    @torch.no_grad()
    def elbo_bits(self, tokens: torch.Tensor, draws: int = ELBO_DRAWS, chunk: int = 2048) -> torch.Tensor:
        """NELBO in bits per cell (an upper bound on -log2 p(x) / L) of tokens (n, L) -> (n,)
        float64, averaged over `draws` stratified times per item. The (t, mask) draws come from
        a generator seeded with ELBO_SEED, so every evaluation scores the same draws."""
        n = len(tokens)
        if n == 0:
            return torch.zeros(0, dtype=torch.float64)
        device = tokens.device
        gen = torch.Generator(device=device).manual_seed(ELBO_SEED)
        offset = torch.rand(n, 1, generator=gen, device=device, dtype=torch.float64)
        t = 1.0 - (torch.arange(draws, device=device, dtype=torch.float64) + offset) / draws  # (n, R) in (0, 1]
        u = torch.rand(n, draws, self.L, generator=gen, device=device, dtype=torch.float64)
        x = tokens[:, None].expand(n, draws, self.L).reshape(-1, self.L)
        t, u = t.reshape(-1), u.reshape(-1, self.L)
        out = [self.nelbo_terms(x[s : s + chunk], t[s : s + chunk], u[s : s + chunk]) for s in range(0, len(x), chunk)]
        return torch.cat(out).reshape(n, draws).mean(dim=1) / (self.L * LN2)

    def extra_metrics(self, item_sets: ItemSets | None) -> dict[str, float]:
        """NELBO (bits per cell) of the fixed training, held-out and corrupted sets, the gaps
        heldout - train (copying) and invalid - heldout (rule), and the references."""
        if item_sets is None:
            raise ValueError("the masked diffusion's likelihood metrics need the run's item sets")
        device = next(iter(self.parameters()), torch.zeros(())).device
        was_training = self.training
        self.eval()
        out = {}
        for name, cells in item_sets.as_dict().items():
            bits = self.elbo_bits(self.encode(cells).to(device))
            out[f"elbo_{name}"] = float(bits.mean()) if len(bits) else math.nan
        self.train(was_training)
        out["elbo_gap_heldout_train"] = out["elbo_heldout"] - out["elbo_train"]
        out["elbo_gap_invalid_heldout"] = out["elbo_invalid"] - out["elbo_heldout"]
        # A perfect rule learner (uniform over the valid set) needs log2(population) / L bits per
        # cell on valid items; a perfect copier log2(N) / L on training items.
        out["elbo_ref_rule"] = item_sets.log2_population / self.L
        out["elbo_ref_copy"] = math.log2(item_sets.num_train) / self.L
        return out


class MDM(MaskedDiffusionBase):
    """The masked transformer under the absorbing process; the family "mdm"."""

    def __init__(self, encoding: Encoding, cfg: ModelConfig):
        super().__init__(encoding, cfg)
        self.net = MaskedTransformer(cfg, self.K, encoding.shape)

    def log_posterior(self, z: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        # A level shared by the batch (the sampler's) is embedded once, as in the DiT.
        shared = bool((level == level[:1]).all())
        logits = self.net(z, (level[:1] if shared else level).float())
        # float64 before the softmax, as the GPT's sampler: the inverse CDF then moves a boundary
        # only when the weights move (at bf16 the logits are rounded to bf16 first).
        return subs(logits.double().log_softmax(dim=-1), z, self.mask_id)

    def loss(self, batch: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """NELBO in bits per cell of tokens (B, L): the mean of `item_losses` over the batch, one
        (t, mask) draw per item (`loss_draws`)."""
        return self.item_losses(batch, *self.loss_draws(batch, gen)).mean() / (self.L * LN2)

    def loss_draws(self, batch: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """The (t, mask) draws of tokens (B, L), from gen in this order: one uniform u0, then the
        mask uniforms u (B, L). Returns t (B,) with t_b = 1 - frac(u0 + b/B) in (0, 1]
        (stratified over the batch, as in MDLM) and u."""
        B = batch.shape[0]
        u0 = torch.rand(1, generator=gen, device=batch.device)
        t = 1.0 - torch.remainder(u0 + torch.arange(B, device=batch.device) / B, 1.0)
        return t, torch.rand(B, self.L, generator=gen, device=batch.device)

    def item_losses(self, batch: torch.Tensor, t: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """The estimator of `nelbo_terms` in float32 and differentiable, in nats per item: tokens
        (B, L), times t (B,), mask uniforms u (B, L) -> (B,)."""
        z, masked = self.mask(batch, t, u)
        logits = self.net(z, masked.float().mean(dim=1)).float()
        nll = F.cross_entropy(logits.reshape(-1, self.K), batch.reshape(-1), reduction="none").reshape(masked.shape)
        return self.weight(masked).float() * (nll * masked).sum(dim=1)

    # ----- grouping ------------------------------------------------------------------------------
    def group_blocker(self) -> str | None:
        return stacking_blocker(self.net)

    @classmethod
    def grouped(cls, members: list[GenerativeModel]) -> GroupedModel:
        mdms = [m for m in members if isinstance(m, MDM)]
        if len(mdms) < len(members):
            raise TypeError("only masked diffusion models group with masked diffusion models")
        return GroupedMDM(mdms)


class GroupedMDM(MDM, GroupedModel):
    """K masked diffusion models of one shape as one: a stacked network (`stack_backbone`) on
    (K*B, L) tokens, member-major; each member's loss is the mean over its own B items. Used
    for training only: every member samples and scores with its own model."""

    def __init__(self, members: list[MDM]):
        MaskedDiffusionBase.__init__(self, members[0].encoding, members[0].cfg)
        self.net = stack_backbone([m.net for m in members])

    def member_losses(self, batches: list[torch.Tensor], draws: list[tuple[torch.Tensor, ...]]) -> list[torch.Tensor]:
        ts, us = zip(*draws)
        per_item = self.item_losses(torch.cat(batches), torch.cat(ts), torch.cat(us))
        return [part.mean() / (self.L * LN2) for part in per_item.chunk(len(batches))]
