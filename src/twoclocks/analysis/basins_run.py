"""`twoclocks basins RUN_DIR`: the basin, loss and explained-variance analysis of a run's
checkpoints and its references (the measurements themselves are twoclocks.analysis.basins'),
written as tables, figures and summary.json under RUN_DIR/basins."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from twoclocks.analysis.basins import (
    DEFAULT_LOSS_SIGMAS,
    DEFAULT_SIGMAS,
    SETS,
    Probe,
    basin_rows,
    denoise_at,
    ev_rows,
    loss_rows,
    make_probe,
    reference_population,
    select_checkpoints,
    sigma_half,
)
from twoclocks.analysis.basins_report import SUMMARY
from twoclocks.config import apply_overrides
from twoclocks.core.io import write_json, write_npz, write_table
from twoclocks.core.paths import check_no_links
from twoclocks.data import TrainingIndex
from twoclocks.encoding import Encoding
from twoclocks.errors import ConfigError
from twoclocks.models.edm import DiffusionBase
from twoclocks.models.reference import empirical_denoiser
from twoclocks.models.samplers import Denoiser
from twoclocks.tasks.base import Task
from twoclocks.training import checkpoint
from twoclocks.training.experiment import build_experiment
from twoclocks.training.rundir import RunDir


@dataclass
class BasinSettings:
    """What `twoclocks basins` measures (CLI flags in brackets)."""

    sigmas: tuple[float, ...] = DEFAULT_SIGMAS  # basin noise levels [--sigmas]
    loss_sigmas: tuple[float, ...] = DEFAULT_LOSS_SIGMAS  # loss / explained-variance levels [--loss-sigmas]
    per_set: int = 64  # trajectories per vertex set [--per-set]
    ode_steps: int = 6  # Heun levels from sigma to sigma_min [--ode-steps]
    seed: int = 0  # vertex draws and noise [--seed]
    checkpoints: str = "auto"  # all | auto | STEP,STEP [--checkpoints]


@dataclass(frozen=True)
class Measuring:
    """What every denoiser of a run is measured on: the probe, the task and its encoding, the
    training set's index, and the model's noise scale and schedule."""

    probe: Probe
    encoding: Encoding
    index: TrainingIndex
    task: Task
    sigma_data: float
    sigma_min: float
    rho: float


@dataclass
class BasinTables:
    """The rows of basins.parquet, loss.parquet and explained_variance.parquet."""

    basins: list[dict] = field(default_factory=list)
    losses: list[dict] = field(default_factory=list)
    evs: list[dict] = field(default_factory=list)

    def extend(self, other: BasinTables) -> None:
        self.basins += other.basins
        self.losses += other.losses
        self.evs += other.evs


def analyse(
    label: str, step: int | None, denoise: Denoiser, m: Measuring, settings: BasinSettings, refs: dict[str, dict]
) -> BasinTables:
    """Basins, loss and explained variance (against every reference in `refs` other than itself)
    of one denoiser; refs maps a reference name to its `denoise_at` outputs."""
    tag = {"checkpoint": label, "step": step}
    basins = basin_rows(
        denoise, m.probe, m.encoding, m.index, m.task, settings.sigmas, settings.ode_steps, m.sigma_min, m.rho
    )
    out = denoise_at(denoise, m.probe, settings.loss_sigmas)
    losses = loss_rows(out, m.probe, m.sigma_data)
    evs = [
        {"ref": ref, **row}
        for ref, ref_out in refs.items()
        if ref != label
        for row in ev_rows(out, ref_out, settings.loss_sigmas)
    ]
    return BasinTables([{**tag, **r} for r in basins], [{**tag, **r} for r in losses], [{**tag, **r} for r in evs])


def sigma_half_table(basins: pd.DataFrame) -> dict:
    """{checkpoint label: {set: sigma_half dict}} from the basins DataFrame."""
    table: dict = {}
    for (label, name), grp in basins.groupby(["checkpoint", "set"], sort=False):
        grp = grp.sort_values("sigma")
        table.setdefault(str(label), {})[name] = sigma_half(grp["sigma"].to_numpy(), grp["basin_size"].to_numpy())
    return table


def plot_sigma_for(sigmas: tuple[float, ...], half: dict) -> float:
    """The grid sigma shown in the basin-vs-step figure: nearest (in log) to the population's
    held-out sigma_half, where rule learning and copying separate most; else nearest to 1."""
    target = (half.get("population", {}).get("heldout") or {}).get("sigma_half") or 1.0
    return float(min(sigmas, key=lambda s: abs(math.log(s / target))))


def run_basins(
    run_dir: str | Path,
    out: str | Path | None = None,
    settings: BasinSettings | None = None,
    device: str = "auto",
    progress: bool = True,
) -> dict:
    """Analyse the selected checkpoints of a run; write tables, figures and summary.json to
    `out` (default RUN_DIR/basins). Returns the summary."""
    t0 = time.perf_counter()
    settings = settings or BasinSettings()
    run = RunDir(run_dir).require()
    if out is None:
        check_no_links(run.path, "basins")
    out = Path(out) if out else run.path / "basins"
    recorded = run.read_config()
    if recorded.plugins():
        raise ConfigError(
            f"{run.path}: basins would run the code of {' and '.join(recorded.plugins())}, and reading a run "
            f"never imports a plugin; basins analyses runs of the built-in rules and families"
        )
    cfg = apply_overrides(recorded.cfg, {"train.device": device})
    # The saved training set is the truth (the model's sigma_data was measured on it).
    exp = build_experiment(cfg, train_cells=run.load_train_set())
    model = exp.model
    sigma_data = getattr(model, "sigma_data", None)
    if not isinstance(model, DiffusionBase) or not isinstance(sigma_data, float):
        raise ConfigError(f"basins need a diffusion model (dit or mlp); this run is {cfg.model.family}")
    summary = run.load_summary()
    snaps = select_checkpoints(run.snapshots(), settings.checkpoints, summary)
    probe = make_probe(exp.task, exp.encoding, exp.index, settings.per_set, settings.seed, exp.device)
    m = Measuring(probe, exp.encoding, exp.index, exp.task, sigma_data, cfg.model.sigma_min, cfg.model.rho)
    population, note = reference_population(exp.task, exp.encoding)
    references: dict[str, Denoiser] = {} if population is None else {"population": population}
    references["empirical"] = empirical_denoiser(exp.encoding.to_continuous(exp.train_cells).to(exp.device))
    # (label, step, a function returning the denoiser): references first, then the checkpoints,
    # whose weights are loaded into the one model only when their turn comes.
    jobs: list[tuple[str, int | None, Callable[[], Denoiser]]] = [
        (name, None, partial(_identity, d)) for name, d in references.items()
    ]
    jobs += [(str(s), s, partial(_load_weights, model, p, exp.device)) for s, p in snaps]
    tables = analyse_all(jobs, m, settings, references, progress)
    result = {
        "run_dir": str(run.path),
        "task": exp.task.describe(),
        "N": len(exp.train_cells),
        "tau_rule": (summary or {}).get("tau_rule"),
        "tau_mem": (summary or {}).get("tau_mem"),
        "checkpoints": [s for s, _ in snaps],
        "references": list(references),
        "settings": {**asdict(settings), "sigmas": list(settings.sigmas), "loss_sigmas": list(settings.loss_sigmas)},
        "vertices": {name: len(probe.cells[name]) for name in SETS},
        "trajectories": probe.n,
        "invalid_kinds": {k: int((probe.invalid_kind == k).sum()) for k in ("near", "random")},
    }
    return write_basins(out, tables, probe, result, [] if note is None else [note], settings, t0)


def analyse_all(
    jobs: list[tuple[str, int | None, Callable[[], Denoiser]]],
    m: Measuring,
    settings: BasinSettings,
    references: dict[str, Denoiser],
    progress: bool,
) -> BasinTables:
    """Every job's rows, each checkpoint's EV measured against the references' outputs."""
    ref_out = {name: denoise_at(d, m.probe, settings.loss_sigmas) for name, d in references.items()}
    tables = BasinTables()
    for label, stp, get in tqdm(jobs, desc="basins", unit="ckpt", disable=not progress, dynamic_ncols=True):
        tables.extend(analyse(label, stp, get(), m, settings, ref_out))
    return tables


def write_basins(
    out: Path, tables: BasinTables, probe: Probe, about: dict, notes: list[str], settings: BasinSettings, t0: float
) -> dict:
    """The tables, vertices, figures and summary.json (`about` the run, then the sigma_half
    table, the notes, the figures and the time taken); returns the summary."""
    basins, losses, evs = _frame(tables.basins), _frame(tables.losses), _frame(tables.evs)
    half = sigma_half_table(basins)
    result = {**about, "plot_sigma": plot_sigma_for(settings.sigmas, half), "sigma_half": half, "notes": notes}
    write_table(out / "basins.parquet", basins, parents=True)
    write_table(out / "loss.parquet", losses)
    write_table(out / "explained_variance.parquet", evs)
    write_npz(out / "vertices.npz", {"invalid_kind": probe.invalid_kind, **probe.cells})
    from twoclocks.analysis.basins_plots import plot_all  # matplotlib only when writing figures

    result["figures"] = [p.name for p in plot_all(out, basins, losses, evs, result)]
    result["seconds"] = time.perf_counter() - t0
    write_json(out / SUMMARY, result)
    return result


def _identity(denoiser: Denoiser) -> Denoiser:
    return denoiser


def _load_weights(model: DiffusionBase, path: Path, device: torch.device) -> Denoiser:
    model.load_state_dict(checkpoint.load(path, device)["model"])
    return model.eval().denoise


def _frame(rows: list[dict]) -> pd.DataFrame:
    """Rows -> DataFrame with `step` as a nullable integer (null for the reference rows)."""
    df = pd.DataFrame(rows)
    df["step"] = df["step"].astype("Int64")
    return df
