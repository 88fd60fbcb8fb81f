"""Autoregressive transformer over a task's cell tokens (nanoGPT-style: pre-LN, causal,
learned token and position embeddings), sampled ancestrally from fixed per-sample uniforms.

Shapes: B batch, L = H*W tokens per item (one per cell, in the encoding's token order),
D width, h heads, d = D/h head width, K cell values. The vocabulary is the K values plus a BOS
token (id K). The input at position t is token t-1 (BOS at t=0); the output at position t is
the distribution of token t over the K values only, since BOS is never a target.

Sampling: token t is chosen by inverse CDF, the smallest k with cdf_k > u_t, where u (B, L) are
uniforms drawn once per run. The same u at every checkpoint makes sample i a deterministic
function of the weights, exactly like the fixed Gaussian noise of the diffusion sampler.

Likelihood view (`extra_metrics`): exact log-likelihoods of fixed item sets, which no
diffusion model offers cheaply; see docs/families.md.

Grouped training (`GroupedGPT`): K GPTs of one shape as one network whose every layer holds
the K members' weights (twoclocks.models.grouped), on (K*B, L) batches, member-major.
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
from twoclocks.models.grouped import LearnedPositions, stack_backbone, stacking_blocker

KV = tuple[torch.Tensor, torch.Tensor]  # cached keys and values, each (B, h, S, d)


class CausalSelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, past: KV | None = None) -> tuple[torch.Tensor, KV]:
        """x: (B, T, D) new positions. Returns ((B, T, D), keys/values of all positions so far).

        Without `past`, x is a whole prefix and attention is causal within it. With `past`
        (S earlier positions), x must be one new position (T=1): it attends to all S+1.
        """
        B, T, D = x.shape
        q, k, v = self.qkv(x).reshape(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        if past is not None:
            if T != 1:
                raise ValueError("cached attention takes one new position at a time")
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        # A single query sees every key, so it needs no mask; a prefix needs the causal one.
        a = F.scaled_dot_product_attention(q, k, v, is_causal=past is None and T > 1)
        return self.proj(a.transpose(1, 2).reshape(B, T, D)), (k, v)


class Block(nn.Module):
    """Pre-LN transformer block: x + attn(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = CausalSelfAttention(dim, heads)
        self.ln2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, past: KV | None = None) -> tuple[torch.Tensor, KV]:
        a, present = self.attn(self.ln1(x), past)
        x = x + a
        return x + self.mlp(self.ln2(x)), present


def inverse_cdf(logits: torch.Tensor, u: torch.Tensor, temperature: float) -> torch.Tensor:
    """Categorical draw by inverse CDF: logits (B, K), u (B,) in [0, 1) -> tokens (B,) long.

    The softmax and cumulative sum run in float64 so that rounding moves a CDF boundary by
    ~1e-16, far below the 2^-24 resolution of the float32 uniforms.
    """
    cdf = torch.softmax(logits.double() / temperature, dim=-1).cumsum(dim=-1)
    # smallest k with u < cdf_k; the last boundary is left out so a cdf that rounds to
    # 0.9999999 cannot push the token past K-1.
    return (cdf[:, :-1] <= u.double()[:, None]).sum(dim=-1)


class GPT(GenerativeModel):
    """Causal transformer language model over cells; the family "gpt"."""

    kind = "autoregressive"
    uses_item_sets = True

    def __init__(self, encoding: Encoding, cfg: ModelConfig, tie_weights: bool = False):
        super().__init__(encoding)
        self.cfg = cfg
        D, L, K = cfg.width, encoding.seq_len, encoding.num_values
        self.L, self.K = L, K
        self.tok = nn.Embedding(encoding.vocab_size, D)
        self.pos = LearnedPositions(L, D)
        self.blocks = nn.ModuleList(Block(D, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.ln_f = nn.LayerNorm(D)
        # Tied: the output weights are the first K rows of the token embedding (BOS excluded).
        # Off by default: with K=2 values, tying makes the fresh model favour repeating its
        # input token (loss 0.63 < ln 2 at init on parity G=2), a head start on the very rule
        # whose learning time we measure.
        self.head = None if tie_weights else nn.Linear(D, K, bias=False)
        self._init_weights(cfg.depth)
        self._ll_sets: dict[str, torch.Tensor] | None = None  # fixed likelihood sets, built lazily

    def _init_weights(self, depth: int) -> None:
        # nanoGPT: N(0, 0.02) everywhere, residual output projections scaled by 1/sqrt(2*depth)
        # so the residual stream's variance does not grow with depth.
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding, LearnedPositions)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        for block in self.blocks:
            for proj in (block.get_submodule("attn.proj"), block.get_submodule("mlp.2")):
                assert isinstance(proj, nn.Linear)
                nn.init.normal_(proj.weight, std=0.02 / math.sqrt(2 * depth))

    # ----- network ---------------------------------------------------------------------------
    def forward(
        self, inputs: torch.Tensor, start: int = 0, past: list[KV] | None = None
    ) -> tuple[torch.Tensor, list[KV]]:
        """inputs: (B, T) token ids at positions start..start+T-1 (position 0 holds BOS).

        Returns (logits (B, T, K) over the next cell value, per-block keys/values). With
        `past` (from positions 0..start-1), T must be 1.
        """
        h = self.pos(self.tok(inputs), start)  # (B, T, D): token plus position embeddings
        presents = []
        for i, block in enumerate(self.blocks):
            h, kv = block(h, None if past is None else past[i])
            presents.append(kv)
        if self.head is None:
            return F.linear(self.ln_f(h), self.tok.weight[: self.K]), presents
        return self.head(self.ln_f(h)), presents

    def shifted(self, tokens: torch.Tensor) -> torch.Tensor:
        """Targets (B, L) -> inputs (B, L): BOS followed by tokens 0..L-2."""
        bos = torch.full_like(tokens[:, :1], self.encoding.bos)
        return torch.cat([bos, tokens[:, :-1]], dim=1)

    # ----- GenerativeModel ---------------------------------------------------------------------
    def encode(self, cells: np.ndarray) -> torch.Tensor:
        """uint8 cells (n, H, W) -> long tokens (n, L) in the encoding's token order."""
        return self.encoding.to_tokens(cells)

    def loss(self, batch: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
        """Mean next-token cross-entropy (nats per token) over all L positions of (B, L) tokens.

        Deterministic given the batch, so `gen` is unused (accepted for the interface).
        """
        logits, _ = self(self.shifted(batch))
        return self.token_loss(logits, batch)

    def token_loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of logits (B, L, K) against tokens (B, L), in fp32."""
        return F.cross_entropy(logits.float().reshape(-1, self.K), targets.reshape(-1))

    # ----- grouping ------------------------------------------------------------------------------
    def loss_draws(self, batch: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
        """The loss draws nothing."""
        return ()

    def group_blocker(self) -> str | None:
        if self.head is None:
            return "its output layer is tied to the token embedding"
        return stacking_blocker(self)

    @classmethod
    def grouped(cls, members: list[GenerativeModel]) -> GroupedModel:
        gpts = [m for m in members if isinstance(m, GPT)]
        if len(gpts) < len(members):
            raise TypeError("only GPTs group with GPTs")
        return GroupedGPT(gpts)

    def make_sample_noise(self, num: int, gen: torch.Generator) -> torch.Tensor:
        """Uniforms (num, L) in [0, 1) on gen.device: u[i, t] picks token t of sample i."""
        return torch.rand(num, self.L, generator=gen, device=gen.device)

    @torch.no_grad()
    def sample_tokens(self, noise: torch.Tensor, use_cache: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Ancestral sampling from uniforms noise (B, L).

        Returns (tokens (B, L) long, logits (B, L, K) of every step). The cached path feeds one
        token per step and reuses each block's keys/values; the uncached path reruns the whole
        prefix every step (L times the work). Both compute the same function.
        """
        B = noise.shape[0]
        device = self.tok.weight.device
        noise = noise.to(device)
        tokens = torch.empty(B, self.L, dtype=torch.long, device=device)
        all_logits = []
        bos = torch.full((B, 1), self.encoding.bos, dtype=torch.long, device=device)
        past: list[KV] | None = None
        for t in range(self.L):
            if use_cache:  # feed only the newest token (BOS at t=0) at position t
                logits, past = self(bos if t == 0 else tokens[:, t - 1 : t], start=t, past=past)
            else:  # feed the whole prefix: BOS and tokens 0..t-1 at positions 0..t
                logits, _ = self(torch.cat([bos, tokens[:, :t]], dim=1))
            last = logits[:, -1]
            tokens[:, t] = inverse_cdf(last, noise[:, t], self.cfg.temperature)
            all_logits.append(last)
        return tokens, torch.stack(all_logits, dim=1)

    @torch.no_grad()
    def generate(self, noise: torch.Tensor, use_cache: bool = True) -> np.ndarray:
        """Uniforms (B, L) -> uint8 cells (B, H, W); deterministic in (weights, noise)."""
        tokens, _ = self.sample_tokens(noise, use_cache)
        return self.encoding.from_tokens(tokens)

    # ----- likelihood view ---------------------------------------------------------------------
    @torch.no_grad()
    def log_likelihood(self, tokens: torch.Tensor, batch: int = 1024) -> torch.Tensor:
        """Exact log p(item) in nats: tokens (n, L) -> float64 (n,), at temperature 1."""
        out = []
        for start in range(0, len(tokens), batch):
            x = tokens[start : start + batch]
            logp = self(self.shifted(x))[0].double().log_softmax(dim=-1)  # (b, L, K)
            out.append(logp.gather(2, x[:, :, None]).squeeze(2).sum(dim=1))
        return torch.cat(out) if out else torch.zeros(0, dtype=torch.float64)

    def extra_metrics(self, item_sets: ItemSets | None) -> dict[str, float]:
        """Mean log-likelihood (nats per item) of fixed training, held-out and corrupted sets,
        and the two gaps: train - heldout (copying) and heldout - invalid (rule)."""
        if item_sets is None:
            raise ValueError("the GPT's likelihood metrics need the run's item sets")
        if self._ll_sets is None:
            device = self.tok.weight.device
            self._ll_sets = {k: self.encode(v).to(device) for k, v in item_sets.as_dict().items()}
        was_training = self.training
        self.eval()
        ll = {f"ll_{k}": float(self.log_likelihood(v).mean()) if len(v) else math.nan for k, v in self._ll_sets.items()}
        self.train(was_training)
        ll["ll_gap_train_heldout"] = ll["ll_train"] - ll["ll_heldout"]
        ll["ll_gap_valid_invalid"] = ll["ll_heldout"] - ll["ll_invalid"]
        # References: a perfect rule learner (uniform over the valid set) scores -ln(population)
        # on every valid item; a perfect copier scores -ln(N) on training items.
        ll["ll_ref_rule"] = -item_sets.log2_population * math.log(2.0)
        ll["ll_ref_copy"] = -math.log(item_sets.num_train)
        return ll


class GroupedGPT(GPT, GroupedModel):
    """K GPTs of one shape as one: the layers of a stacked copy (`stack_backbone`), under the
    members' names, each holding the K members' weights. Tokens (K*B, L), member-major; the
    loss is each member's own mean over its B rows. Used for training only: every member
    samples and scores with its own GPT."""

    def __init__(self, members: list[GPT]):
        first = members[0]
        GenerativeModel.__init__(self, first.encoding)
        self.cfg, self.L, self.K = first.cfg, first.L, first.K
        for name, layer in stack_backbone(list(members)).named_children():
            self.add_module(name, layer)

    def member_losses(self, batches: list[torch.Tensor], draws: list[tuple[torch.Tensor, ...]]) -> list[torch.Tensor]:
        logits, _ = self(self.shifted(torch.cat(batches)))
        return [self.token_loss(part, batch) for part, batch in zip(logits.chunk(len(batches)), batches)]
