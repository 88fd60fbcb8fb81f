"""The image metrics against independent computations on small data: the nearest-neighbour
ratio against a brute-force search, the copy fractions against loops, the Fréchet distance
against closed forms, the agreement of paired samples against loops."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from twoclocks.core.stats import bootstrap_interval
from twoclocks.data import TrainingIndex
from twoclocks.imagemetrics.agreement import agreement
from twoclocks.imagemetrics.copies import CRITERIA, copy_chance, copy_metrics, nn_ratio, ratio_copies
from twoclocks.imagemetrics.frechet import frechet_distance, frechet_floor, frechet_from_moments, gaussian_fit


def brute_ratio(queries: np.ndarray, train: np.ndarray) -> np.ndarray:
    """d1/d2 by a loop over every training image, sorted distances, no matrix algebra."""
    out = []
    for q in queries:
        d = sorted(float(np.sqrt(((q - t) ** 2).sum())) for t in train)
        out.append(0.0 if d[0] == 0 else d[0] / d[1])
    return np.array(out)


def test_ratio_matches_a_brute_force_search():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(40, 3, 5))
    queries = np.concatenate([rng.normal(size=(30, 3, 5)), train[:5] + 0.01 * rng.normal(size=(5, 3, 5))])
    expected = brute_ratio(queries, train)
    assert np.allclose(nn_ratio(queries, train), expected, rtol=1e-9)
    assert (ratio_copies(queries, train) == (expected < 1 / 3)).all()
    assert ratio_copies(queries, train)[-5:].all()  # a slightly perturbed training image is a copy
    assert not ratio_copies(queries, train)[:30].any()  # fresh Gaussian draws are not, in 15 dimensions


def test_a_planted_copy_counts_and_a_heldout_image_does_not():
    rng = np.random.default_rng(1)
    images = (rng.random((60, 8, 8)) < 0.3).astype(np.float64)  # binary images, far apart
    train, heldout = images[:50], images[50:]
    samples = np.concatenate([train[[3, 17]], heldout])
    flags = ratio_copies(samples, train)
    assert flags.tolist() == [True, True] + [False] * 10
    assert flags.tolist() == (brute_ratio(samples, train) < 1 / 3).tolist()


def test_binary_ties_at_one_third_are_not_copies():
    """Hamming distances 1 and 9 give d1/d2 = 1/3 exactly: not below it, so not a copy; 1 and
    10 are. Integer inputs keep the squared distances exact."""
    train = np.zeros((2, 1, 12))
    train[1, 0, :8] = 1  # 8 cells from train[0]
    queries = np.zeros((4, 1, 12))
    queries[0, 0, 11] = 1  # 1 cell from train[0], 9 from train[1]: d1/d2 = 1/3
    queries[1, 0, 0] = 1  # 1 from train[0], 7 from train[1]
    queries[2, 0, [10, 11]] = 1  # 2 from train[0], 10 from train[1]: 1/sqrt(5)
    # queries[3] is train[0]: d1 = 0
    hamming = np.abs(queries[:, None] - train[None]).sum(axis=(2, 3))  # (4, 2)
    exact = [9 * min(h) < max(h) for h in hamming.tolist()]  # 9 d1^2 < d2^2 on Hamming counts
    assert exact == [False, False, False, True]
    assert ratio_copies(queries, train).tolist() == exact
    wider = np.concatenate([train, np.zeros((1, 1, 12))])
    wider[2, 0, 9] = 1  # the second nearest of queries[0] is now 2 cells away, not 9
    assert ratio_copies(queries[:1], wider).tolist() == [False]
    with pytest.raises(ValueError, match="two training images"):
        ratio_copies(queries, train[:1])


def test_copy_metrics_match_loops():
    rng = np.random.default_rng(2)
    levels = 4
    train = rng.integers(0, levels, size=(30, 5, 5)).astype(np.uint8)
    samples = rng.integers(0, levels, size=(40, 5, 5)).astype(np.uint8)
    samples[:6] = train[:6]  # exact copies
    samples[6:10] = train[6:10]
    samples[6:10, 0, 0] = (samples[6:10, 0, 0] + 1) % levels  # one cell off
    index = TrainingIndex(train, levels)
    got = copy_metrics(samples, samples.astype(np.float64), index, train.astype(np.float64), near_cells=1)
    exact = [any((s == t).all() for t in train) for s in samples]
    near = [min(int((s != t).sum()) for t in train) <= 1 for s in samples]
    ratio = brute_ratio(samples.astype(np.float64), train.astype(np.float64)) < 1 / 3
    assert got["mem"] == np.mean(exact) and got["mem_near"] == np.mean(near) and got["mem_ratio"] == ratio.mean()
    assert got["mem"] >= 6 / 40 and got["mem_near"] >= 10 / 40
    for name in CRITERIA:
        assert got[f"{name}_lo"] <= got[name] <= got[f"{name}_hi"]
    chance = copy_chance(samples[10:], samples[10:].astype(np.float64), index, train.astype(np.float64), 1)
    direct = copy_metrics(samples[10:], samples[10:].astype(np.float64), index, train.astype(np.float64), 1)
    assert chance == {f"{name}_chance": direct[name] for name in CRITERIA}


def test_ratio_is_scale_free():
    rng = np.random.default_rng(3)
    train = rng.integers(0, 5, size=(20, 16)).astype(np.float64)
    queries = rng.integers(0, 5, size=(25, 16)).astype(np.float64)
    queries[:4] = train[:4]
    assert (ratio_copies(queries, train) == ratio_copies(queries / 4, train / 4)).all()


def test_bootstrap_interval_of_a_fraction_is_near_the_normal_interval():
    flags = np.zeros(400)
    flags[:100] = 1  # p = 0.25
    lo, hi = bootstrap_interval(flags, 0.95, draws=4000, seed=0)
    half = 1.959964 * np.sqrt(0.25 * 0.75 / 400)
    assert lo == pytest.approx(0.25 - half, abs=0.006) and hi == pytest.approx(0.25 + half, abs=0.006)
    assert bootstrap_interval(flags, 0.95, draws=500, seed=1) == bootstrap_interval(flags, 0.95, draws=500, seed=1)
    assert np.isnan(bootstrap_interval(np.zeros(0))[0])


def closed_form_frechet(mu1, c1, mu2, c2) -> float:
    """Tr(C1 + C2 - 2 (C1^1/2 C2 C1^1/2)^1/2) through symmetric eigendecompositions."""

    def sym_sqrt(c):
        w, v = np.linalg.eigh(c)
        return (v * np.sqrt(np.clip(w, 0, None))) @ v.T

    r1 = sym_sqrt(c1)
    cross = sym_sqrt(r1 @ c2 @ r1)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(c1) + np.trace(c2) - 2 * np.trace(cross))


def test_frechet_from_moments_matches_closed_forms():
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 16.0])  # diagonal: commuting covariances
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    diagonal = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert frechet_from_moments(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(diagonal, rel=1e-10)
    rng = np.random.default_rng(4)
    m1, m2 = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    c1, c2 = m1 @ m1.T + 0.1 * np.eye(5), m2 @ m2.T + 0.1 * np.eye(5)  # not commuting
    expected = closed_form_frechet(mu1[:2].repeat(3)[:5], c1, mu2[:2].repeat(3)[:5], c2)
    assert frechet_from_moments(mu1[:2].repeat(3)[:5], c1, mu2[:2].repeat(3)[:5], c2) == pytest.approx(expected)
    assert frechet_from_moments(mu1, np.diag(a), mu1, np.diag(a)) == pytest.approx(0.0, abs=1e-8)


def test_frechet_of_singular_covariances_matches_the_closed_form():
    """Fewer vectors than features and features that never fire, as probe features can be."""
    rng = np.random.default_rng(8)
    a, b = np.maximum(rng.normal(size=(16, 64)), 0), np.maximum(rng.normal(size=(300, 64)), 0)
    a[:, :5] = b[:, :5] = 0
    expected = closed_form_frechet(*gaussian_fit(a), *gaussian_fit(b))
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-7)


def test_frechet_of_samples_approaches_the_gaussians_distance():
    rng = np.random.default_rng(5)
    c1, c2 = np.diag([1.0, 2.0, 0.5]), np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 0.8]])
    mu1, mu2 = np.zeros(3), np.array([0.5, -0.5, 1.0])
    x = rng.multivariate_normal(mu1, c1, size=20000)
    y = rng.multivariate_normal(mu2, c2, size=20000)
    assert frechet_distance(x, y) == pytest.approx(closed_form_frechet(mu1, c1, mu2, c2), rel=0.03)
    mu, cov = gaussian_fit(x)
    assert np.allclose(cov, np.cov(x.T)) and np.allclose(mu, x.mean(0))


def test_frechet_floor_is_the_mean_over_seeded_halvings():
    rng = np.random.default_rng(6)
    feats = rng.normal(size=(200, 4))
    floor = frechet_floor(feats, splits=3, seed=11)
    halves = np.random.default_rng(11)
    direct = []
    for _ in range(3):
        order = halves.permutation(200)
        direct.append(closed_form_frechet(*gaussian_fit(feats[order[:100]]), *gaussian_fit(feats[order[100:]])))
    assert floor == pytest.approx(np.mean(direct), rel=1e-6)
    assert 0 < floor < frechet_distance(feats, feats + 1.0)  # a shift by one in 4 dimensions: FD ~ 4


def test_agreement_matches_loops():
    rng = np.random.default_rng(7)
    a = rng.integers(0, 3, size=(50, 4, 4)).astype(np.uint8)
    b = a.copy()
    b[20:] = rng.integers(0, 3, size=(30, 4, 4))
    va, vb = rng.random((50, 4, 4)), rng.random((50, 4, 4))
    got = agreement(a, b, va, vb)
    same = np.mean([bool((x == y).all()) for x, y in zip(a, b)])
    l2 = np.mean([np.sqrt(((x - y) ** 2).sum()) for x, y in zip(va, vb)])
    assert got["agree"] == same and same >= 20 / 50
    assert got["agree_l2"] == pytest.approx(l2)
    assert got["agree_lo"] <= got["agree"] <= got["agree_hi"]
    assert got["agree_l2_lo"] <= got["agree_l2"] <= got["agree_l2_hi"]
    lo, hi = scipy_stats.binomtest(int(same * 50), 50).proportion_ci(method="wilson")
    assert (got["agree_lo"], got["agree_hi"]) == pytest.approx((lo, hi))
    with pytest.raises(ValueError, match="equal shapes"):
        agreement(a, b[:10], va, vb)
