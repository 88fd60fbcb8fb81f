"""The laws a prediction uses: the shipped reference's with its shipped calibration, or those
of the given sweep directories, calibrated on their own held-out runs.

Calibrating a sweep's laws refits them once per held-out level (`validation.calibrate`), with
CALIBRATION_DRAWS bootstrap refits each: seconds to a minute for a few dozen runs.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from twoclocks.config import RunConfig
from twoclocks.prediction.calibration import Calibration
from twoclocks.prediction.predict import Laws, Prediction, predict_config
from twoclocks.prediction.reference import reference_calibration, reference_runs, sweep_runs
from twoclocks.prediction.validation import calibrate

CALIBRATION_DRAWS = 20


@lru_cache(maxsize=1)
def reference_laws() -> Laws:
    """The laws of the shipped reference results, fitted once per process, with the shipped
    calibration where it was fitted on these same runs."""
    runs = reference_runs()
    laws = Laws.fit(runs)
    record = reference_calibration(runs)
    return laws.calibrated(Calibration.from_dict(record)) if record else laws


def sweep_laws(sweeps: list[str | Path], calibrated: bool = True) -> Laws:
    runs = sweep_runs(sweeps)
    laws = Laws.fit(runs)
    return laws.calibrated(calibrate(runs, CALIBRATION_DRAWS)) if calibrated else laws


def predict_clocks(cfg: RunConfig, sweeps: list[str | Path] | None = None) -> Prediction:
    """The prediction for `cfg` from the shipped reference, or from these sweep directories."""
    return predict_config(reference_laws() if sweeps is None else sweep_laws(sweeps), cfg)
