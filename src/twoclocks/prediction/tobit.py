"""A censored normal regression (Tobit) of y on a design matrix X, fitted by maximum likelihood.

For run i with design row x_i:

    y_i = x_i . beta + sigma * eps_i,   eps_i ~ N(0, 1)                                    (1)

y_i is observed exactly, or only known to lie above its bound (right-censored: the clock was not
reached by the run's last evaluation), or below it (left-censored: reached by the first one).
With mu_i = x_i . beta and z_i = (y_i - mu_i) / sigma, the log-likelihood is

    l(beta, sigma) = sum_exact [log phi(z_i) - log sigma]                                  (2)
                   + sum_right log(1 - Phi(z_i))          P(y > bound)   log_ndtr(-z)
                   + sum_left  log Phi(z_i)               P(y <= bound)  log_ndtr(z)

and the fit maximises l(beta, sigma) - sum_{j>0} beta_j^2 / (2 sd_j^2)                     (3)

The penalty (a normal prior on every coefficient but the intercept) is what keeps a fit finite
where a group of runs is censored throughout (a rule never learned): the likelihood alone rises
without bound as that group's coefficient grows. sd_j = PRIOR_SD = 3 decades by default, wide
next to every
effect measured. Why not dropping censored runs or setting them to the budget: both pull the
law below the truth exactly where the clock is slow (tests/test_predict_laws.py measures it).

scipy.optimize.minimize (trust-exact: Newton steps in a trust region) with the analytic
gradient and Hessian of (2)-(3); parameters are (beta, log sigma), so sigma stays positive. A fit
of 30 runs and 12 columns converges in 3-6 Newton steps where L-BFGS-B took a median of 108
(and up to 450): the form choice and the bootstrap fit a law hundreds of times. log Phi is scipy.special.log_ndtr (what
scipy.stats.norm.logcdf and .logsf compute, accurate far in the tails, without their
per-call overhead: a law is refitted a few hundred times in its bootstrap).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PRIOR_SD = 3.0
LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)
SIGMA_FLOOR = 1e-3  # decades: below the resolution of any clock (interpolated between evaluations)


@dataclass(frozen=True)
class TobitFit:
    beta: np.ndarray
    sigma: float
    loglik: float  # l(beta, sigma) of (2), without the penalty

    def to_dict(self) -> dict:
        """JSON numbers that read back to the same floats (`from_dict`)."""
        return {"beta": [float(b) for b in self.beta], "sigma": float(self.sigma), "loglik": float(self.loglik)}

    @classmethod
    def from_dict(cls, d: dict) -> TobitFit:
        return cls(np.asarray(d["beta"], dtype=float), float(d["sigma"]), float(d["loglik"]))

    @classmethod
    def from_theta(cls, theta: np.ndarray, loglik: float) -> TobitFit:
        """The fit at theta = (beta, log sigma), sigma held at SIGMA_FLOOR or above."""
        return cls(theta[:-1], max(float(np.exp(theta[-1])), SIGMA_FLOOR), float(loglik))


def log_phi(z: np.ndarray) -> np.ndarray:
    """log of the standard normal density."""
    return -0.5 * z * z - LOG_SQRT_2PI


def _standardised(theta: np.ndarray, X: np.ndarray, y: np.ndarray, right: np.ndarray, left: np.ndarray):
    """What the log-likelihood (2) and its derivatives are written in: sigma, z = (y - mu) /
    sigma, the exact runs, each run's log-likelihood, and the hazard ratios h = phi(z) / (1 -
    Phi(z)) (right-censored) and g = phi(z) / Phi(z) (left), in log space, stable in the tails.
    One fit (theta (p + 1,), X (n, p)) or a batch of them (theta (B, p + 1), X (B, n, p))."""
    beta, log_sigma = theta[..., :-1], theta[..., -1:]
    sigma = np.maximum(np.exp(log_sigma), SIGMA_FLOOR)
    z = (y - (X @ beta[..., None])[..., 0]) / sigma
    exact = ~(right | left)
    from scipy.special import log_ndtr  # here, not at the top: a cached law predicts without scipy

    log_sf, log_cdf = log_ndtr(-z), log_ndtr(z)
    ll = np.where(exact, log_phi(z) - np.log(sigma), np.where(right, log_sf, log_cdf))
    return sigma, z, exact, ll, np.exp(log_phi(z) - log_sf), np.exp(log_phi(z) - log_cdf)


def _parts(theta: np.ndarray, X: np.ndarray, y: np.ndarray, right: np.ndarray, left: np.ndarray):
    """Log-likelihood (2) of each run and its derivatives in mu and in s = log sigma (with
    dz/dmu = -1/sigma, dz/ds = -z):

        exact   d mu = z / sigma     d s = z^2 - 1
        right   d mu = h / sigma     d s = h z
        left    d mu = -g / sigma    d s = -g z
    """
    sigma, z, exact, ll, h, g = _standardised(theta, X, y, right, left)
    d_mu = np.where(exact, z, np.where(right, h, -g)) / sigma
    d_log_sigma = np.where(exact, z * z - 1.0, np.where(right, h * z, -g * z))
    return ll, d_mu, d_log_sigma


def _second_derivatives(theta: np.ndarray, X: np.ndarray, y: np.ndarray, right: np.ndarray, left: np.ndarray):
    """Each run's second derivatives of (2) in mu and s = log sigma (d2 mu mu, d2 mu s, d2 s s),
    from those of `_parts` and the hazards' z-derivatives h (h - z) and -g (g + z):

        exact   d2 mu mu = -1 / sigma^2           d2 mu s = -2 z / sigma
                d2 s s = -2 z^2
        right   d2 mu mu = -h (h - z) / sigma^2   d2 mu s = -h (1 + z (h - z)) / sigma
                d2 s s = -h z (1 + z (h - z))
        left    d2 mu mu = -g (g + z) / sigma^2   d2 mu s = g (1 - z (g + z)) / sigma
                d2 s s = g z (1 - z (g + z))
    """
    sigma, z, exact, _, h, g = _standardised(theta, X, y, right, left)
    k_right, k_left = 1.0 + z * (h - z), 1.0 - z * (g + z)
    d2_mu_mu = np.where(exact, -1.0, np.where(right, -h * (h - z), -g * (g + z))) / sigma**2
    d2_mu_s = np.where(exact, -2.0 * z, np.where(right, -h * k_right, g * k_left)) / sigma
    d2_s_s = np.where(exact, -2.0 * z * z, np.where(right, -h * z * k_right, g * z * k_left))
    return d2_mu_mu, d2_mu_s, d2_s_s


def negative_log_posterior(theta, X, y, right, left, penalised) -> tuple[float, np.ndarray]:
    """Minus (3) and its gradient in theta = (beta, log sigma); `penalised`: PRIOR_SD / sd_j of
    each coefficient (0: no prior)."""
    ll, d_mu, d_log_sigma = _parts(theta, X, y, right, left)
    beta = theta[:-1]
    value = -ll.sum() + 0.5 * np.sum((beta * penalised) ** 2) / PRIOR_SD**2
    grad_beta = -(X.T @ d_mu) + beta * penalised**2 / PRIOR_SD**2
    return float(value), np.append(grad_beta, -d_log_sigma.sum())


def hessian(theta, X, y, right, left, penalised) -> np.ndarray:
    """The Hessian of minus (3) in theta = (beta, log sigma) (`_second_derivatives`)."""
    d2_mu_mu, d2_mu_s, d2_s_s = _second_derivatives(theta, X, y, right, left)
    p = X.shape[1]
    out = np.empty((p + 1, p + 1))
    out[:p, :p] = -(X.T * d2_mu_mu) @ X + np.diag(penalised**2 / PRIOR_SD**2)
    out[:p, p] = out[p, :p] = -(X.T @ d2_mu_s)
    out[p, p] = -d2_s_s.sum()
    return out


def fit_tobit(
    X: np.ndarray,
    y: np.ndarray,
    right: np.ndarray,
    left: np.ndarray,
    start: np.ndarray | None = None,
    prior_sd: np.ndarray | None = None,
) -> TobitFit:
    """The penalised maximum-likelihood fit of (1)-(3); column 0 of X is the intercept, with no
    prior unless `prior_sd` (one sd per column, inf: none) says otherwise."""
    penalised = _penalised(prior_sd, X.shape[1])
    if start is None:
        coef, *_ = np.linalg.lstsq(X, y, rcond=None)
        spread = np.std(y - X @ coef) if len(y) > X.shape[1] else 0.3
        start = np.append(coef, np.log(max(spread, 0.05)))
    from scipy import optimize  # a fit only: a prediction from cached laws needs none (0.3 s)

    result = optimize.minimize(
        negative_log_posterior,
        start,
        args=(X, y, right, left, penalised),
        jac=True,
        hess=hessian,
        method="trust-exact",
        options={"maxiter": 200},
    )
    return TobitFit.from_theta(result.x, float(loglik(result.x, X, y, right, left)))


def _penalised(prior_sd: np.ndarray | None, p: int) -> np.ndarray:
    """PRIOR_SD / sd_j of each of the p coefficients: a prior of PRIOR_SD on every one but the
    intercept unless `prior_sd` says otherwise (inf: none, 0 here)."""
    if prior_sd is None:
        prior_sd = np.full(p, PRIOR_SD)
        prior_sd[0] = np.inf
    return PRIOR_SD / np.asarray(prior_sd, dtype=float)


def fit_tobit_batch(
    X: np.ndarray,
    y: np.ndarray,
    right: np.ndarray,
    left: np.ndarray,
    start: np.ndarray,
    prior_sd: np.ndarray | None = None,
    gtol: float = 1e-6,
    max_steps: int = 100,
) -> np.ndarray:
    """B fits of (1)-(3) at once, one per leading row of X (B, n, p), y, right and left (B, n),
    all from `start` (p + 1: beta, log sigma): the bootstrap's refits. Damped Newton steps
    (Levenberg-Marquardt on the Hessian of `_second_derivatives`) on the fits not yet converged,
    each step kept where it lowers minus (3), or leaves it within rounding and lowers the
    gradient, until every gradient is below `gtol` (scipy's trust-exact stops at 1e-4).
    Returns theta (B, p + 1). Why not `fit_tobit` B times: a fit is a few Newton steps on a
    (p + 1)-square system, and scipy's per-call overhead was 95% of a bootstrap's time."""
    ridge = _penalised(prior_sd, X.shape[-1]) ** 2 / PRIOR_SD**2
    theta = np.broadcast_to(np.asarray(start, dtype=float), (len(X), X.shape[-1] + 1)).copy()
    damping = np.full(len(X), 1e-6)
    value, grad, hess = _batch_terms(theta, X, y, right, left, ridge)
    eye = np.eye(theta.shape[1])
    for _ in range(max_steps):
        todo = np.flatnonzero(np.abs(grad).max(axis=1) > gtol)
        if not len(todo):
            break
        try:
            step = np.linalg.solve(hess[todo] + damping[todo, None, None] * eye, -grad[todo, :, None])[..., 0]
        except np.linalg.LinAlgError:  # a singular system somewhere: damp every fit more
            damping[todo] *= 10
            continue
        trial = theta[todo] + step
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a step too far is refused below
            t_value, t_grad, t_hess = _batch_terms(trial, X[todo], y[todo], right[todo], left[todo], ridge)
        rounding = 1e-12 * np.maximum(1.0, np.abs(value[todo]))
        lower = (t_value < value[todo]) | (
            (t_value <= value[todo] + rounding) & (np.abs(t_grad).max(axis=1) < np.abs(grad[todo]).max(axis=1))
        )
        kept = lower & np.isfinite(t_grad).all(axis=1)
        at = todo[kept]
        theta[at], value[at], grad[at], hess[at] = trial[kept], t_value[kept], t_grad[kept], t_hess[kept]
        damping[todo] = np.where(kept, np.maximum(damping[todo] / 10, 1e-12), damping[todo] * 10)
    return theta


def resampled_rows(groups: list[np.ndarray], rng: np.random.Generator, draws: int) -> np.ndarray:
    """The bootstrap's resamples (draws, n): each group's row indices drawn with replacement,
    as many as it has, one resample after another (the draws of a loop of `rng.choice`)."""
    return np.array([np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups]) for _ in range(draws)])


def loglik(theta: np.ndarray, X: np.ndarray, y: np.ndarray, right: np.ndarray, left: np.ndarray) -> np.ndarray:
    """l(beta, sigma) of (2) at theta on its runs: one fit, or each of a batch (B, p + 1) on its
    own runs (B, n)."""
    return _parts(theta, X, y, right, left)[0].sum(axis=-1)


def _batch_terms(theta, X, y, right, left, ridge) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minus (3), its gradient and its Hessian for each of a batch of fits (`fit_tobit_batch`),
    as batched matrix products (X^T D X for the Hessian's beta block)."""
    beta = theta[:, :-1]
    ll, d_mu, d_log_sigma = _parts(theta, X, y, right, left)
    d2_mu_mu, d2_mu_s, d2_s_s = _second_derivatives(theta, X, y, right, left)
    p, Xt = X.shape[-1], X.transpose(0, 2, 1)
    value = -ll.sum(axis=1) + 0.5 * np.sum(beta**2 * ridge, axis=1)
    grad = np.concatenate([-(Xt @ d_mu[..., None])[..., 0] + beta * ridge, -d_log_sigma.sum(axis=1, keepdims=True)], 1)
    hess = np.empty((len(theta), p + 1, p + 1))
    hess[:, :p, :p] = -(Xt * d2_mu_mu[:, None, :]) @ X + np.diag(ridge)
    hess[:, :p, p] = hess[:, p, :p] = -(Xt @ d2_mu_s[..., None])[..., 0]
    hess[:, p, p] = -d2_s_s.sum(axis=1)
    return value, grad, hess


def censored_logpdf(
    mu: np.ndarray, sigma: float | np.ndarray, y: np.ndarray, right: np.ndarray, left: np.ndarray
) -> np.ndarray:
    """Log predictive density (2) of held-out runs: what the choice of a law's form scores."""
    z = (y - mu) / sigma
    from scipy.special import log_ndtr

    return np.where(right, log_ndtr(-z), np.where(left, log_ndtr(z), log_phi(z) - np.log(sigma)))
