"""Older run and sweep directories, read here and nowhere else; elsewhere the code knows one format.

Format versions (FORMAT, written as "format" in config.json and as a column of results.parquet):
  1  the first sweeps: summary.json and results.parquet with tau_rule as the only rule clock;
     a point's hash covers the config fields in FIELDS_AT_1.
  2  the group-level rule clocks (tau_rule_low, tau_group) in summary.json and results.parquet.
     No version was recorded yet: a directory without one is told apart from version 1 by its
     content (`results_format`, `rule_clocks_of`, `has_every_rule_clock`). A run's summary of
     version 1 is upgraded when read (`upgrade_summary`, called by RunDir.load_finished): the
     later rule clocks come from its metrics.parquet, so every reader of a run knows one format.
  3  the version recorded in config.json and results.parquet.
  4  the near-copy clock (tau_mem_near) in summary.json and results.parquet. A table of any
     older version gets the clocks it lacks from its runs (`with_later_clocks`): rule clocks
     from metrics.parquet, near copies from the samples the runs saved.
  5  the rule clocks on `valid` read against chance validity (`valid_chance`, a metrics column
     and a summary key; docs/protocol.md, "Chance validity"). An older run's summary and an
     older table have those clocks as measured before: they are read again from metrics.parquet
     with the chance of the run's built-in rule (`with_valid_chance`), where it moves the
     threshold by a sample or more (`stale_columns`); a plugin's older runs keep them as recorded.

Point hashes stay stable without a hand-kept list of later fields: a point's hash covers every
field of FIELDS_AT_1 (the config's fields when sweeps were first hashed, a record of version 1
that is never edited) and any field added since only where its value differs from its default
(`hashed_identity`). A sweep directory made before a field existed hashes every one of its
points with that field at its default, so its points keep their hashes and resume.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

import twoclocks.tasks as tasks
from twoclocks.clocks import CHANCE, CLOCK_FIELDS, MEM_CLOCKS, PRIMARY, RULE_CLOCKS, RuleClock, compute_clocks
from twoclocks.config import AUTO_STEPS, SECTIONS, RunConfig, execution_neutrals
from twoclocks.errors import ConfigError, TwoClocksError, quote

FORMAT = 5
FORMAT_KEY = "format"  # in config.json, and a column of results.parquet
# The config fields of version 1, per section (task and seed: every one of their fields).
FIELDS_AT_1 = {
    "data": ("N", "seed"),
    "model": (
        "family",
        "width",
        "depth",
        "heads",
        "patch",
        "mlp_ratio",
        "encoding",
        "sigma_data",
        "P_mean",
        "P_std",
        "sigma_min",
        "sigma_max",
        "rho",
        "sample_steps",
        "sampler",
        "temperature",
    ),
    "train": (
        "steps",
        "batch",
        "lr",
        "warmup",
        "weight_decay",
        "beta1",
        "beta2",
        "grad_clip",
        "ema",
        "precision",
        "device",
        "threads",
        "checkpoint_every",
    ),
    "eval": ("samples", "points", "first", "batch", "keep_checkpoints", "keep_samples", "noise_seed"),
    "clocks": ("theta_rule", "theta_mem", "theta_mem_high", "ci_level"),
}


# ----- config.json ------------------------------------------------------------------------------
def config_record(cfg: RunConfig) -> dict:
    """What config.json holds: the config's sections and the format version."""
    return {**cfg.to_dict(), FORMAT_KEY: FORMAT}


def config_sections(data: dict) -> tuple[int, dict]:
    """(format version, the config's sections) of a config.json (1 when it records none)."""
    data = dict(data)
    version = data.pop(FORMAT_KEY, 1)
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= FORMAT:
        raise ConfigError(f"{FORMAT_KEY} {quote(version)} is not one this twoclocks reads (1 to {FORMAT})")
    return version, data


# ----- point hashes -----------------------------------------------------------------------------
def identity_dict(cfg: RunConfig) -> dict:
    """cfg.to_dict() with the fields that say how a point is executed, not what it computes, at
    their neutral value (config.execution_neutrals), so that the same point run by 1 or 8 workers,
    or on a CPU with or without bf16 instructions (train.precision=auto: the same clocks,
    docs/default.md), is the same point. Precision is hashed at bf16, the default of every sweep
    made before it was chosen per machine, so that those sweeps keep their hashes and resume."""
    d = cfg.to_dict()
    for (section, name), neutral in execution_neutrals().items():
        d[section][name] = neutral
    return d


def same_point(saved: RunConfig, point: RunConfig) -> bool:
    """Whether a run directory's saved config is this point's (train.steps=auto is saved as the
    number it was resolved to)."""
    if point.train.steps == AUTO_STEPS:
        point = dataclasses.replace(point, train=dataclasses.replace(point.train, steps=saved.train.steps))
    return identity_dict(saved) == identity_dict(point)


def hashed_identity(identity: dict) -> dict:
    """A point's identity (cfg.to_dict() with execution fields neutral) as it is hashed: every
    field of FIELDS_AT_1, and a later field only where it differs from its default."""
    defaults = {name: dataclasses.asdict(section()) for name, section in SECTIONS.items()}
    out = dict(identity)
    for section, known in FIELDS_AT_1.items():
        values, default = identity[section], defaults[section]
        out[section] = {k: v for k, v in values.items() if k in known or k not in default or v != default[k]}
    return out


# ----- summaries and results tables -----------------------------------------------------------
def rule_clocks_of(keys: Iterable[str]) -> list[RuleClock]:
    """The rule clocks a summary (its keys) or a results table (its columns) has: tau_rule only
    in version 1, every rule clock since."""
    keys = set(keys)
    return [rc for rc in RULE_CLOCKS if rc.tau in keys]


def has_every_rule_clock(keys: Iterable[str]) -> bool:
    """Whether a summary (its keys) or a results table (its columns) has every rule clock:
    version 2 and later."""
    return len(rule_clocks_of(keys)) == len(RULE_CLOCKS)


def summary_is_current(summary: dict) -> bool:
    """Whether a finished run's summary has every rule clock, read against chance (version 5)."""
    return has_every_rule_clock(summary) and CHANCE in summary


def chance_keys() -> list[str]:
    """The summary keys of the rule clocks read against chance validity, windows included."""
    return [rc.tau + s for rc in RULE_CLOCKS if rc.chance for s in CLOCK_FIELDS] + [
        k for rc in RULE_CLOCKS if rc.chance for k in rc.window_keys()
    ]


def stale_columns(results: pd.DataFrame, columns: Iterable[str]) -> list[str]:
    """Of `columns`, those a results table older than version 5 holds as measured before and a
    reader recomputes from its runs: the clocks on `valid` (none for a later table)."""
    if results_format(results) >= 5:
        return []
    keys = set(chance_keys())
    return [c for c in columns if c in keys or c.removesuffix("_lo").removesuffix("_hi") in keys]


def with_valid_chance(metrics: pd.DataFrame, cfg: RunConfig) -> pd.DataFrame:
    """A run's metrics with the valid_chance column a run of version 5 writes: an older run of a
    built-in rule gets it from that rule (its code is ours); a plugin's older run stays as it is."""
    builtin = {cls.name for cls in tasks.BUILTIN}
    if CHANCE in metrics or cfg.task["name"] not in builtin:
        return metrics
    return metrics.assign(**{CHANCE: tasks.build_task(cfg.task).valid_chance})


def upgrade_summary(summary: dict, metrics: pd.DataFrame, cfg: RunConfig, name: str) -> dict:
    """A finished run's summary in the current format, its clocks read off its metrics by
    compute_clocks (the function a run uses, at the thresholds of its own config): one of version
    1 (tau_rule its only rule clock) gains the later rule clocks and their windows; one older than
    version 5 has its clocks on `valid` read again against the metrics' valid_chance (none in the
    metrics of a plugin's older run: as recorded). `name` names the run's summary in the one-line
    error when its metrics lack a curve those clocks need."""
    if summary_is_current(summary):
        return summary
    try:
        clocks = compute_clocks(metrics, cfg.clocks, cfg.train.batch, cfg.data.N)
    except KeyError as exc:
        raise TwoClocksError(f"{name} predates the later rule clocks and its metrics lack {exc}") from None
    thresholds = {**clocks["thresholds"], **summary.get("thresholds", {})}
    out = {**summary, **{k: v for k, v in clocks.items() if k not in summary}, "thresholds": thresholds}
    if CHANCE in metrics:
        out.update({k: clocks[k] for k in chance_keys()}, **{CHANCE: float(metrics[CHANCE].max())})
    return out


def results_format(results: pd.DataFrame) -> int:
    """The format version of a results table: its column, else 2 with every rule clock, else 1."""
    if FORMAT_KEY in results and results[FORMAT_KEY].notna().any():
        return int(results[FORMAT_KEY].dropna().min())
    return 2 if has_every_rule_clock(results.columns) else 1


def with_later_clocks(
    results: pd.DataFrame,
    root: str | Path | None,
    columns: list[str],
    run_columns: Callable[[Path], dict[str, Any]],
    stale: Iterable[str] = (),
) -> tuple[pd.DataFrame, str]:
    """A results table older than some of `columns` (the clocks added since its version) with
    them recomputed by `run_columns(run_dir)` for each finished run under `root` (the sweep
    directory), and a note ('' when nothing was missing). Without `root` (to name what the table
    lacks), or when a run directory cannot be read, the table itself is returned and the note
    says why. Columns already present are kept; a value a run cannot give (near copies of a run
    that kept no samples) stays empty. `stale` columns are recomputed even where present (those
    a later version reads differently)."""
    stale = set(stale)
    missing = [c for c in columns if c not in results or c in stale]
    if not missing:
        return results, ""
    clocks = ", ".join(c for c in dict.fromkeys(_clock_of(c) for c in missing) if c) or "the later columns"
    if root is None:
        return results, f"the results table lacks {clocks}"
    done = results["status"] == "finished" if "status" in results else pd.Series(True, index=results.index)
    filled: dict[str, list] = {c: [None] * len(results) for c in missing}
    try:
        for pos, (ok, rel) in enumerate(zip(done, results["run_dir"])):
            if ok:
                row = run_columns(Path(root) / rel)
                for c in missing:
                    filled[c][pos] = row.get(c)
    except (TwoClocksError, OSError, KeyError, ValueError) as exc:
        return results, f"{clocks} could not be recomputed from the run directories: {exc}"
    out = results.assign(**filled)
    if stale:  # read again as this version reads them
        out = out.assign(**{FORMAT_KEY: FORMAT})
    return out, f"recomputed {clocks} from the runs' metrics.parquet and samples"


def _clock_of(column: str) -> str:
    """The clock a results column belongs to ('tau_group' for 'tau_group_ci_lo'), else ''."""
    names = [rc.tau for rc in RULE_CLOCKS] + [mc.tau for mc in MEM_CLOCKS]
    return max((n for n in names if column == n or column.startswith(n + "_")), key=len, default="")


# ----- claims.json ---------------------------------------------------------------------------------
def claim_by_clock(claim: dict) -> dict[str, dict]:
    """A claims.json entry's verdict at each rule clock; an entry written before the rule clocks
    has its one verdict, at tau_rule."""
    return claim.get("by_clock") or {PRIMARY.tau: {"verdict": claim["verdict"], "evidence": claim["evidence"]}}
