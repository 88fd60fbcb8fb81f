"""The laws a prediction uses: the shipped reference's with its shipped calibration, or those
of the given sweep directories, calibrated on their own held-out runs; fitted once and then
read back (`cache`).

Calibrating a sweep's laws refits them once per held-out level (`validation.calibrate`), with
CALIBRATION_DRAWS bootstrap refits each: seconds to a minute for a few dozen runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from twoclocks.config import RunConfig, apply_overrides, flatten
from twoclocks.plugins import never_imported
from twoclocks.prediction.cache import cached
from twoclocks.prediction.calibration import Calibration
from twoclocks.prediction.pilots import config_without_rule, joint_runs, own_rule, pilot_sweeps, recorded_rule
from twoclocks.prediction.predict import Laws, Prediction, predict_config
from twoclocks.prediction.reference import Runs, reference_calibration, reference_runs, shipped_pilots, sweep_runs
from twoclocks.prediction.variables import RecordedRule, check_data_set_size, task_params
from twoclocks.tasks import TASKS

CALIBRATION_DRAWS = 20


def fit_record(runs: Runs, calibrated: bool) -> dict:
    """The laws of `runs` as a record, calibrated on their held-out runs if asked."""
    laws = Laws.fit(runs)
    if calibrated:
        from twoclocks.prediction.validation import calibrate  # only where a fit is made

        laws = laws.calibrated(calibrate(runs, CALIBRATION_DRAWS))
    return laws.to_dict()


@lru_cache(maxsize=1)
def reference_laws() -> Laws:
    """The laws of the shipped reference results, fitted once (then read from the user's cache),
    with the shipped calibration where it was fitted on these same runs."""
    runs = reference_runs()
    record = cached(runs, "reference-laws", lambda: fit_record(runs, False))
    return with_shipped_calibration(Laws.from_dict(runs, record))


def sweep_laws(sweeps: Sequence[str | Path], calibrated: bool = True) -> Laws:
    """The laws of the finished runs of sweep directories, fitted once and cached beside a single
    sweep (in the user's cache for several)."""
    runs = sweep_runs(sweeps)
    beside = Path(sweeps[0]) if len(sweeps) == 1 else None
    purpose = "sweep-laws-calibrated" if calibrated else "sweep-laws"
    return Laws.from_dict(runs, cached(runs, purpose, lambda: fit_record(runs, calibrated), sweep=beside))


def pilot_laws(pilots: Runs) -> Laws:
    """The laws of the shipped reference and a rule's pilot runs together (`pilots`), fitted
    once, with the shipped calibration."""
    runs = joint_runs(pilots)
    return with_shipped_calibration(Laws.from_dict(runs, cached(runs, "pilot-laws", lambda: fit_record(runs, False))))


def shipped_calibration() -> Calibration | None:
    """The shipped calibration, where it was fitted on the shipped reference runs as installed."""
    record = reference_calibration(reference_runs())
    return Calibration.from_dict(record) if record else None


def with_shipped_calibration(laws: Laws) -> Laws:
    calibration = shipped_calibration()
    return laws.calibrated(calibration) if calibration else laws


def predict_overrides(overrides: Mapping[str, Any], sweeps: Sequence[str | Path] | None = None) -> Prediction:
    """The prediction for a config given as overrides: `predict_clocks`, or for a rule the rule
    features do not describe (one's own, or a built-in task of natural data) that the reference
    has no run of, from the reference and its pilot runs in `sweeps` (without `sweeps`, those
    shipped for it: `reference.shipped_pilots`). A prediction reads
    tables and configs: a plugin the overrides name is never imported (one line instead)."""
    with never_imported():
        return _predict_overrides(overrides, sweeps)


def _predict_overrides(overrides: Mapping[str, Any], sweeps: Sequence[str | Path] | None) -> Prediction:
    name = own_rule(overrides)
    if name is not None and name in TASKS:  # a data set: its distinct images bound data.N
        check_data_set_size(apply_overrides(RunConfig(), dict(overrides)))
    shipped = shipped_route(name) if sweeps is None else None
    if name is None or (sweeps is None and shipped is None and name in reference_tasks()):
        return predict_clocks(apply_overrides(RunConfig(), dict(overrides)), sweeps)
    cfg, params = config_without_rule(overrides, name)
    pilots = shipped or sweep_runs(pilot_sweeps(sweeps, name))
    return predict_config(pilot_laws(pilots), cfg, recorded_rule(name, params, pilots.table))


def reference_tasks() -> set[str]:
    """The tasks the shipped reference has runs of."""
    return set(reference_runs().table["task"].astype(str))


def shipped_route(name: str | None) -> Runs | None:
    """The shipped pilot runs a task the rule features do not describe (`own_rule`) is
    predicted from, where the reference itself has no run of it; else None."""
    if name is None or name in reference_tasks():
        return None
    return shipped_pilots(name)


def default_laws(cfg: RunConfig) -> tuple[Laws, RecordedRule | None]:
    """The laws (and the rule as its runs recorded it) that predict `cfg` without --from: the
    reference's, or the reference's with the shipped pilot runs of its task (words)."""
    name = str(cfg.task["name"])
    pilots = shipped_route(own_rule({"task": name}))
    if pilots is None:
        return reference_laws(), None
    return pilot_laws(pilots), recorded_rule(name, task_params(flatten({"task": dict(cfg.task)})), pilots.table)


def predict_clocks(cfg: RunConfig, sweeps: Sequence[str | Path] | None = None) -> Prediction:
    """The prediction for `cfg` from the shipped reference, or from these sweep directories."""
    return predict_config(reference_laws() if sweeps is None else sweep_laws(sweeps), cfg)
