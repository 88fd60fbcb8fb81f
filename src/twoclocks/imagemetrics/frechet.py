"""The Fréchet distance between two sets of features, each fitted by a Gaussian:

    FD = |mu_a - mu_b|^2 + Tr(C_a + C_b - 2 (C_a C_b)^(1/2)),

the squared 2-Wasserstein distance between the two Gaussians (the formula of FID, here on the
penultimate-layer features of a data set's own probe, so nothing is downloaded). Its floor is
the distance between two halves of the held-out images: what two samples of the data
distribution itself score, finite-sample bias included. The bias grows as the sets shrink,
so a floor measured on halves of K images is an upper bound on the floor of two sets of more
than K/2 images each.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg

FLOOR_SPLITS = 5  # random halvings averaged in the floor
SEED_FLOOR = 8_000_009
JITTER = 1e-6  # added to both diagonals when the product's square root comes out non-finite


def gaussian_fit(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float (n, k), n >= 2 -> mean (k,) and unbiased covariance (k, k), float64."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"a Gaussian fit needs at least two feature vectors (n, k), got shape {x.shape}")
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def frechet_from_moments(mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray, cov_b: np.ndarray) -> float:
    """The Fréchet distance between N(mu_a, cov_a) and N(mu_b, cov_b)."""
    with warnings.catch_warnings():
        # Fewer vectors than features, or a feature that never fires, makes the product
        # singular and sqrtm warns; its trace still agrees with the eigendecomposition of
        # C_a^1/2 C_b C_a^1/2 to 1e-8 (16 vectors of 64 features; tests/test_image_metrics.py).
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(root).all():  # singular covariances (fewer vectors than features)
        eye = np.eye(len(cov_a)) * JITTER
        root = linalg.sqrtm((cov_a + eye) @ (cov_b + eye))
    diff = mu_a - mu_b
    value = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(np.real(root))
    return float(max(value, 0.0))


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The Fréchet distance between the Gaussian fits of features a (n, k) and b (m, k)."""
    return frechet_from_moments(*gaussian_fit(a), *gaussian_fit(b))


def frechet_floor(features: np.ndarray, splits: int = FLOOR_SPLITS, seed: int = SEED_FLOOR) -> float:
    """The mean Fréchet distance between two disjoint random halves of `features` (n, k), over
    `splits` seeded halvings."""
    n = len(features)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(splits):
        order = rng.permutation(n)
        values.append(frechet_distance(features[order[: n // 2]], features[order[n // 2 : 2 * (n // 2)]]))
    return float(np.mean(values))
