"""Score and basin dissection of diffusion checkpoints (definitions in docs/basins.md).

Three vertex sets probe the learned denoiser D(y; sigma): training items, held-out valid items
and invalid items. Each trajectory starts at y = x + sigma n (x a vertex, n unit noise fixed per
trajectory, the same for every checkpoint, sigma and set), integrates the probability-flow ODE
from sigma to 0 with the sampler's Heun integrator, decodes, and classifies the endpoint:
back to x itself / another training item / a novel valid item / invalid. The same noisy points
give the per-sigma EDM-weighted denoising loss and the explained variance of D against the
empirical (memorising) and population (rule-only) denoisers. `basins_run.run_basins` drives it over a
run's checkpoints and writes the tables; `twoclocks.analysis.basins_plots` draws the figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from twoclocks.data import TrainingIndex, hash_cells
from twoclocks.encoding import Encoding
from twoclocks.errors import ConfigError, quote
from twoclocks.models.reference import closed_form_denoiser, population_denoiser
from twoclocks.models.samplers import Denoiser, heun_sample, sigma_schedule
from twoclocks.tasks.base import Task

SETS = ("train", "heldout", "invalid")
OUTCOMES = ("self", "other_train", "novel_valid", "invalid")
EV_SETS = ("train", "heldout", "all")  # "all" pools the train and held-out points
# Largest population the softmax population denoiser is run on here: basins call it
# (2 * ode_steps - 1) times per sigma, so the 2^18 limit of `reference` would take too long on CPU.
MAX_POPULATION_FOR_BASINS = 1 << 16
DEFAULT_SIGMAS = (0.1, 0.2, 0.35, 0.5, 0.7, 1.0, 1.4, 2.0, 3.0, 5.0)
DEFAULT_LOSS_SIGMAS = tuple(float(s) for s in np.round(np.geomspace(0.02, 20.0, 13), 4))
_SEED_SETS, _SEED_NOISE = 7_000_003, 8_000_009  # offsets: the probe has its own random streams


@dataclass
class Probe:
    """The vertex sets and their fixed noise. Trajectory j of a set starts from vertex
    j mod V (V vertices), so a set smaller than `per_set` (a small training set) is visited
    several times with independent noise, and every set has the same number of trajectories.
    Trajectory j of every set uses the same noise n_j (common random numbers), so differences
    between sets come from the vertices, not from the noise draws."""

    cells: dict[str, np.ndarray]  # set -> uint8 (V, H, W) distinct vertices
    start: dict[str, np.ndarray]  # set -> uint8 (n, H, W) the vertex of each trajectory
    x: dict[str, torch.Tensor]  # set -> (n, C, H, W) encoded start vertices
    noise: dict[str, torch.Tensor]  # set -> (n, C, H, W) unit Gaussian noise, fixed
    invalid_kind: np.ndarray  # str (V_invalid,): "near" (one-cell change) or "random"

    @property
    def n(self) -> dict[str, int]:
        return {s: len(v) for s, v in self.start.items()}


def draw_heldout(task: Task, index: TrainingIndex, count: int, rng: np.random.Generator) -> np.ndarray:
    """Up to `count` distinct valid items that are not training items, uint8 (<=count, H, W).
    Fewer only when the population is nearly exhausted by the training set."""
    items: list[np.ndarray] = []
    seen = set(int(h) for h in hash_cells(index.cells))
    for _ in range(200):
        batch = task.sample(max(64, 2 * count), rng)
        for item, key in zip(batch, hash_cells(batch)):
            if int(key) not in seen and len(items) < count:
                seen.add(int(key))
                items.append(item)
        if len(items) == count:
            break
    return np.stack(items) if items else np.zeros((0, *task.shape), np.uint8)


def break_one_cell(task: Task, valid: np.ndarray, rng: np.random.Generator, tries: int = 16) -> np.ndarray:
    """Each valid item with one cell changed so that it becomes invalid, uint8 (n, H, W).

    Of `tries` random single-cell changes per item, keeps the invalid one that breaks the fewest
    constraints (for group parity every bit flip breaks exactly one group). An item whose tries
    all stay valid is dropped."""
    K, (H, W) = task.num_values, task.shape
    out = []
    for item in valid:
        cand = np.repeat(item[None], tries, axis=0)
        r, c = rng.integers(0, H, tries), rng.integers(0, W, tries)
        shift = rng.integers(1, K, tries)  # a different value: +1..K-1 mod K
        cand[np.arange(tries), r, c] = (cand[np.arange(tries), r, c] + shift) % K
        broken = (~task.constraints(cand)).sum(axis=1)
        ok = np.nonzero(broken > 0)[0]
        if len(ok):
            out.append(cand[ok[np.argmin(broken[ok])]])
    return np.stack(out) if out else np.zeros((0, H, W), np.uint8)


def random_invalid(task: Task, count: int, rng: np.random.Generator) -> np.ndarray:
    """Up to `count` uniformly random grids that break at least one constraint, uint8."""
    grids = rng.integers(0, task.num_values, (8 * count, *task.shape), dtype=np.uint8)
    return grids[~task.is_valid(grids)][:count]


def make_probe(
    task: Task, encoding: Encoding, index: TrainingIndex, per_set: int, seed: int, device: torch.device | str = "cpu"
) -> Probe:
    """Vertex sets and fixed noise for `per_set` trajectories per set (deterministic in seed).

    Args:
        task: the run's rule; encoding: its continuous encoding; index: the training items.
        per_set: trajectories per set (the training set is cycled when it has fewer items).
        seed: seeds the held-out and invalid draws and the noise.
        device: where the encoded tensors live.
    """
    if per_set <= 0:
        raise ConfigError(f"--per-set must be a positive integer, got {per_set}")
    rng = np.random.default_rng(seed + _SEED_SETS)
    heldout = draw_heldout(task, index, per_set, rng)
    # Half of the invalid vertices sit one cell away from a valid item (fresh ones, not the
    # held-out vertices, so the sets share no structure); the other half are random grids.
    near = break_one_cell(task, draw_heldout(task, index, (per_set + 1) // 2, rng), rng)
    far = random_invalid(task, per_set - len(near), rng)
    invalid = np.concatenate([near, far])
    cells = {"train": index.cells[:per_set], "heldout": heldout, "invalid": invalid}
    gen = torch.Generator().manual_seed(seed + _SEED_NOISE)
    common = torch.randn(per_set, encoding.channels, *encoding.shape, generator=gen).to(device)
    start, x, noise = {}, {}, {}
    for name in SETS:
        if len(cells[name]) == 0:
            raise ConfigError(f"could not draw any {name} vertices for {task.describe()}")
        start[name] = cells[name][np.arange(per_set) % len(cells[name])]
        x[name] = encoding.to_continuous(start[name]).to(device)
        noise[name] = common
    kind = np.array(["near"] * len(near) + ["random"] * len(far))
    return Probe(cells, start, x, noise, kind)


def classify(end: np.ndarray, start: np.ndarray, index: TrainingIndex, task: Task) -> np.ndarray:
    """Outcome code per trajectory, int (n,): index into OUTCOMES. `self` wins over the rest,
    so an invalid vertex that comes back to itself counts as `self`, not `invalid`."""
    same = (end.reshape(len(end), -1) == start.reshape(len(start), -1)).all(axis=1)
    train = index.match(end) >= 0
    valid = task.is_valid(end)
    return np.where(same, 0, np.where(train, 1, np.where(valid, 2, 3)))


@torch.no_grad()
def basin_rows(
    denoise: Denoiser,
    probe: Probe,
    encoding: Encoding,
    index: TrainingIndex,
    task: Task,
    sigmas: tuple[float, ...],
    ode_steps: int,
    sigma_min: float,
    rho: float,
) -> list[dict]:
    """Outcome fractions per (set, sigma) for one denoiser; basin_size = frac_self.

    Each start y = x + sigma n is integrated by `heun_sample` over the EDM schedule with
    `ode_steps` levels from sigma down to sigma_min (exponent rho), then 0."""
    rows = []
    for sigma in sigmas:
        sched = sigma_schedule(ode_steps, min(sigma_min, sigma), sigma, rho, probe.x["train"].device)
        for name in SETS:
            end = heun_sample(denoise, probe.x[name] + sigma * probe.noise[name], sched)
            codes = classify(encoding.from_continuous(end), probe.start[name], index, task)
            frac = np.bincount(codes, minlength=len(OUTCOMES)) / len(codes)
            rows.append(
                {
                    "set": name,
                    "sigma": float(sigma),
                    "basin_size": float(frac[0]),
                    **{f"frac_{o}": float(f) for o, f in zip(OUTCOMES, frac)},
                    "n": len(codes),
                }
            )
    return rows


@torch.no_grad()
def denoise_at(denoise: Denoiser, probe: Probe, sigmas: tuple[float, ...]) -> dict[tuple[str, float], torch.Tensor]:
    """D(y; sigma) at the antithetic points y = x + sigma n and x - sigma n of every trajectory:
    {(set, sigma): (2n, C, H, W) float64}, the +n half first. The pair cancels the x.n cross term
    of the loss, so a denoiser that treats every item alike has exactly equal losses on all sets."""
    out = {}
    for sigma in sigmas:
        for name in SETS:
            x, n = probe.x[name], probe.noise[name]
            y = torch.cat([x + sigma * n, x - sigma * n])
            s = torch.full((len(y),), float(sigma), device=y.device)
            out[(name, float(sigma))] = denoise(y, s).double()
    return out


def loss_rows(outputs: dict[tuple[str, float], torch.Tensor], probe: Probe, sigma_data: float) -> list[dict]:
    """EDM-weighted loss lambda(sigma) ||D - x||^2 (mean over entries, as in training) per set and
    sigma, lambda = (sigma^2 + sigma_d^2) / (sigma sigma_d)^2: mean over trajectories of the
    antithetic pair's average, and its standard error."""
    rows = []
    for (name, sigma), D in outputs.items():
        lam = (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2
        x = probe.x[name].double()
        per = lam * ((D - torch.cat([x, x])) ** 2).flatten(1).mean(dim=1)
        pair = 0.5 * (per[: len(x)] + per[len(x) :])
        se = float(pair.std() / math.sqrt(len(pair))) if len(pair) > 1 else float("nan")
        rows.append({"set": name, "sigma": sigma, "loss": float(pair.mean()), "loss_se": se, "n": len(pair)})
    return rows


def ev_rows(
    model_out: dict[tuple[str, float], torch.Tensor],
    ref_out: dict[tuple[str, float], torch.Tensor],
    sigmas: tuple[float, ...],
) -> list[dict]:
    """Explained variance of a denoiser against a reference at the same points, per set & sigma:
    EV = 1 - sum_i ||D(y_i) - R(y_i)||^2 / sum_i ||R(y_i) - mean_i R(y_i)||^2."""
    rows = []
    for sigma in sigmas:
        s = float(sigma)
        for ev_set in EV_SETS:
            names = ("train", "heldout") if ev_set == "all" else (ev_set,)
            D = torch.cat([model_out[(n, s)] for n in names]).flatten(1)
            R = torch.cat([ref_out[(n, s)] for n in names]).flatten(1)
            mse = float(((D - R) ** 2).sum(dim=1).mean())
            var = float(((R - R.mean(dim=0)) ** 2).sum(dim=1).mean())
            ev = 1.0 - mse / var if var > 0 else float("nan")
            rows.append({"set": ev_set, "sigma": s, "ev": ev, "mse": mse, "ref_var": var, "n": len(D)})
    return rows


def sigma_half(sigmas: np.ndarray, basin: np.ndarray, level: float = 0.5) -> dict:
    """The sigma at which a basin curve first drops below `level`, interpolated in log sigma.

    Returns {"sigma_half": float | None, "censored": "none" | "left" | "right"}: "left" when
    the basin is already below `level` at the smallest sigma (sigma_half <= that sigma, value
    None), "right" when it never drops below on the grid (sigma_half > the largest sigma)."""
    order = np.argsort(sigmas)
    s, b = np.asarray(sigmas, float)[order], np.asarray(basin, float)[order]
    below = np.nonzero(b < level)[0]
    if len(below) == 0:
        return {"sigma_half": None, "censored": "right"}
    i = int(below[0])
    if i == 0:
        return {"sigma_half": None, "censored": "left"}
    frac = (b[i - 1] - level) / (b[i - 1] - b[i])  # b[i-1] >= level > b[i]
    log_s = math.log(s[i - 1]) + frac * (math.log(s[i]) - math.log(s[i - 1]))
    return {"sigma_half": float(math.exp(log_s)), "censored": "none"}


def reference_population(task: Task, encoding: Encoding) -> tuple[Denoiser | None, str | None]:
    """(population denoiser, None), or (None, note) when it cannot be computed here."""
    closed_form = closed_form_denoiser(task, encoding) is not None
    if not closed_form and task.log2_population > math.log2(MAX_POPULATION_FOR_BASINS):
        return None, (
            f"population denoiser skipped for {task.describe()}: no closed form and the "
            f"population (2^{task.log2_population:.1f}) exceeds 2^16 items"
        )
    try:
        return population_denoiser(task, encoding), None
    except ConfigError as exc:
        return None, f"population denoiser skipped: {exc}"


def select_checkpoints(
    snaps: list[tuple[int, Path]], spec: str, summary: dict | None, count: int = 7
) -> list[tuple[int, Path]]:
    """Pick snapshots: "all", a comma list of steps, or "auto" = `count` steps spread evenly in
    log step plus the snapshots nearest (in log step) to tau_rule and tau_mem of the summary."""
    if not snaps:
        raise ConfigError("the run has no checkpoints/step_*.pt snapshots (eval.keep_checkpoints=all keeps them)")
    by_step = dict(snaps)
    if spec == "all":
        return list(snaps)
    if spec != "auto":
        try:
            wanted = sorted({int(s) for s in spec.split(",") if s.strip()})
        except ValueError:
            raise ConfigError(f"--checkpoints must be all, auto or a comma list of steps, got {quote(spec)}") from None
        missing = [s for s in wanted if s not in by_step]
        if missing or not wanted:
            raise ConfigError(f"no snapshot for step(s) {quote(missing or spec)}; available: {sorted(by_step)}")
        return [(s, by_step[s]) for s in wanted]
    steps = np.array(sorted(by_step), dtype=float)
    logs = np.log(steps)

    def nearest(target: float) -> int:
        return int(steps[np.argmin(np.abs(logs - math.log(target)))])

    targets = list(np.geomspace(steps[0], steps[-1], min(count, len(steps))))
    for key in ("tau_rule", "tau_mem"):
        if summary and summary.get(key):
            targets.append(float(summary[key]))
    return [(s, by_step[s]) for s in sorted({nearest(t) for t in targets})]
