"""The loss gap (Favero et al. 2025): the model's own training loss on held-out items against
its loss on training items, with the randomness of the loss fixed, so that the two sets and
every evaluation see the same noise. A model that generalises scores both alike; one that
memorises scores its training items lower.

Items go in chunks of GAP_CHUNK; chunk k of either set draws its randomness (the DiT's noise
levels and noise, the MDM's masks) from a generator seeded SEED_GAP + k, so that chunk k of the
training items and chunk k of the held-out items are paired. Both sets hold the same number of
items, at most GAP_ITEMS (the first of the training set and of the held-out images).

    loss_gap = 1 - L_train / L_heldout     (the relative gap; 0 for a model that generalised)

with a seeded bootstrap interval over the paired chunks. Its reference level
(`loss_gap_chance`) is 0: the gap of a model that treats held-out and training items alike.
"""

from __future__ import annotations

import numpy as np
import torch

from twoclocks.models.base import GenerativeModel

GAP_ITEMS = 128  # items of each set
GAP_CHUNK = 4  # items per paired chunk (4 chunks at N = 16)
SEED_GAP = 9_000_011
SEED_GAP_BOOTSTRAP = 9_000_029
BOOTSTRAP_DRAWS = 1000


@torch.no_grad()
def chunk_losses(model: GenerativeModel, cells: np.ndarray) -> np.ndarray:
    """uint8 (n, H, W) -> float64 (ceil(n / GAP_CHUNK),): the model's loss on each chunk, chunk k
    with its randomness from SEED_GAP + k (the model in eval mode, fp32)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    encoded = model.encode(cells).to(device)
    out = []
    for k, start in enumerate(range(0, len(encoded), GAP_CHUNK)):
        gen = torch.Generator(device=device).manual_seed(SEED_GAP + k)
        out.append(float(model.loss(encoded[start : start + GAP_CHUNK], gen)))
    model.train(was_training)
    return np.asarray(out, dtype=np.float64)


def relative_gap(train: np.ndarray, heldout: np.ndarray) -> float:
    """1 - sum(train) / sum(heldout) over paired chunk losses."""
    return float(1.0 - train.sum() / heldout.sum()) if heldout.sum() > 0 else float("nan")


def loss_gap(model: GenerativeModel, train_cells: np.ndarray, heldout: np.ndarray, ci_level: float) -> dict:
    """loss_train, loss_heldout (mean chunk losses), loss_gap with its interval and its chance."""
    n = min(len(train_cells), len(heldout), GAP_ITEMS)
    train, held = chunk_losses(model, train_cells[:n]), chunk_losses(model, heldout[:n])
    draws = np.random.default_rng(SEED_GAP_BOOTSTRAP).integers(0, len(train), (BOOTSTRAP_DRAWS, len(train)))
    with np.errstate(divide="ignore", invalid="ignore"):
        boot = 1.0 - train[draws].sum(axis=1) / held[draws].sum(axis=1)
    lo, hi = (float(np.nanquantile(boot, q)) for q in ((1 - ci_level) / 2, (1 + ci_level) / 2))
    return {
        "loss_train": float(train.mean()),
        "loss_heldout": float(held.mean()),
        "loss_gap": relative_gap(train, held),
        "loss_gap_lo": lo,
        "loss_gap_hi": hi,
        "loss_gap_chance": 0.0,
    }
