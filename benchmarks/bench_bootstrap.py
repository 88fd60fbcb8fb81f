"""The bootstraps of the claims and the laws: the project's batched refits against one scipy
fit per resample (what they were), interleaved, median ratio, and the largest difference
between the two answers.

    python benchmarks/bench_bootstrap.py [--reps 5] [--threads 1]

Three bootstraps, on runs drawn from known laws (36 runs at 4 N levels, a quarter censored):
- claim 4's curvature of log tau_mem in log N (CURVE_BOOT = 400 Tobit refits);
- a law's refits on resampled seeds (`laws.bootstrap`, 100 refits of a 5-column design);
- claim 9's spread of the rules' median tau_mem (rule_families.spread, 2000 resamples), the
  same draws with the medians taken per rule over every replicate at once;
- the shipped laws' bootstraps (`laws.bootstrap`, BOOTSTRAP refits of each clock's law on the
  reference runs: a few hundred runs, twenty-odd columns), what a first `predict` spends.
"""

from __future__ import annotations

import numpy as np

from common import interleaved, parse_timing_args, report, timing_parser
from twoclocks.prediction.tobit import fit_tobit, fit_tobit_batch, resampled_rows
from twoclocks.sweeps.claims.rule_families import N_BOOT, spread

BOOT = {"curvature": 400, "law": 100}


def runs(rng: np.random.Generator, p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list]:
    """36 runs (4 levels of log N, 9 seeds each) of a p-column design, a quarter right-censored."""
    x = np.repeat(np.log10([16.0, 32.0, 64.0, 128.0]), 9)
    X = np.column_stack([np.ones_like(x)] + [(x - x.mean()) ** k for k in range(1, p)])
    y = X @ np.r_[3.0, 1.0, np.zeros(p - 2)] + 0.1 * rng.standard_normal(len(x))
    right = y > np.quantile(y, 0.75)
    groups = [np.arange(9 * i, 9 * i + 9) for i in range(4)]
    return X, np.where(right, np.quantile(y, 0.75), y), right, np.zeros_like(right), groups


def refits(name: str, p: int, rng: np.random.Generator, reps: int) -> None:
    """BOOT[name] refits of a p-column design, one scipy fit at a time and batched."""
    X, y, right, left, groups = runs(rng, p)
    full = fit_tobit(X, y, right, left)
    start = np.r_[full.beta, np.log(full.sigma)]
    idx = resampled_rows(groups, rng, BOOT[name])
    answers: dict[str, np.ndarray] = {}

    def one_by_one() -> None:
        fits = [fit_tobit(X[i], y[i], right[i], left[i], start=start) for i in idx]
        answers["scipy"] = np.array([np.r_[f.beta, np.log(f.sigma)] for f in fits])

    def batched() -> None:
        answers["batch"] = fit_tobit_batch(X[idx], y[idx], right[idx], left[idx], start=start)

    times = interleaved({"one scipy fit per resample": one_by_one, "batched refits": batched}, reps)
    report(f"{name}: {BOOT[name]} Tobit refits", times, "one scipy fit per resample", "boots/s")
    print(f"  largest |difference| in (beta, log sigma): {np.abs(answers['scipy'] - answers['batch']).max():.1e}")


def shipped_laws(reps: int) -> None:
    """The seed bootstrap of every clock's law on the shipped reference runs, batched
    (`laws.bootstrap`) and one scipy fit per resample (the same resamples)."""
    from twoclocks.prediction.laws import BOOTSTRAP, SEED, bootstrap, cells, fit_law
    from twoclocks.prediction.predict import run_variables
    from twoclocks.prediction.reference import reference_runs
    from twoclocks.prediction.variables import observed, recorded_clocks, waited_for

    table = reference_runs().table
    v = run_variables(table)
    inputs = []
    for clock in recorded_clocks(table):
        keep = waited_for(table, clock)
        vc, obs = v[keep].reset_index(drop=True), observed(table[keep], clock)
        law = fit_law(clock, vc, obs, draws=0)
        inputs.append((law.design, vc, obs, law.fit))

    def batched() -> None:
        for design, vc, obs, fit in inputs:
            bootstrap(design, vc, obs, fit, np.random.default_rng(SEED))

    def one_by_one() -> None:
        for design, vc, obs, fit in inputs:
            rng, cell = np.random.default_rng(SEED), cells(vc)
            groups = [np.flatnonzero(cell == c) for c in range(cell.max() + 1)]
            X, y, prior = design.matrix(vc), obs.y - design.offset(vc), design.prior_sd()
            start = np.r_[fit.beta, np.log(fit.sigma)]
            for i in resampled_rows(groups, rng, BOOTSTRAP):
                fit_tobit(X[i], y[i], obs.right[i], obs.left[i], start=start, prior_sd=prior)

    runs, cols = len(table), max(design.matrix(vc).shape[1] for design, vc, _, _ in inputs)
    times = interleaved({"one scipy fit per resample": one_by_one, "batched refits": batched}, reps)
    title = f"the shipped laws: {len(inputs)} clocks x {BOOTSTRAP} refits ({runs} runs, up to {cols} columns)"
    report(title, times, "one scipy fit per resample", "bootstraps/s")


def main() -> None:
    args = parse_timing_args(timing_parser(__doc__, reps=5))
    rng = np.random.default_rng(0)
    refits("curvature", 3, rng, args.reps)
    refits("law", 5, rng, args.reps)
    groups = {r: rng.lognormal(7, 0.1, n) for r, n in (("parity", 9), ("mirror", 6), ("code", 3))}

    def median_loop() -> None:  # what rule_families.spread was: one median per resample
        g = np.random.default_rng(0)
        boot = [
            max(m := [np.median(g.choice(v, size=len(v))) for v in groups.values()]) / min(m) for _ in range(N_BOOT)
        ]
        np.quantile(boot, [0.025, 0.975])

    times = interleaved({"a median per resample": median_loop, "medians at once": lambda: spread(groups)}, args.reps)
    report(f"claim 9's spread: {N_BOOT} resamples", times, "a median per resample", "spreads/s")
    shipped_laws(args.reps)


if __name__ == "__main__":
    main()
