"""train.steps=auto: a run's budget from the predicted clocks of its config.

    steps = min(max_steps, ceil2(upper end of the 95% predictive interval of the last clock
                                 the run waits for))

where the clocks a run waits for are those twoclocks.clocks.stopat.STOP_AT declares for its
train.stop_at; ceil2 rounds up to two significant
digits (an evaluation grid of 5,400 steps, not 5,371); max_steps = 0 means no ceiling. With
stopping, the run then pays for what it uses. The laws are fitted on the shipped reference
results (and, for a task of natural data, with its shipped pilot runs: `fitted.default_laws`);
the record of the prediction (`budget_record`) goes into the run's summary.
"""

from __future__ import annotations

import dataclasses
import math

from twoclocks.clocks.stopat import STOP_AT
from twoclocks.config import AUTO_STEPS, RunConfig
from twoclocks.core.domains import BIG
from twoclocks.errors import ConfigError
from twoclocks.prediction.fitted import default_laws
from twoclocks.prediction.predict import Laws, Prediction, predict_config


def ceil2(x: float) -> int:
    """x rounded up to two significant digits."""
    if x <= 100:
        return max(1, math.ceil(x))
    scale = 10 ** (int(math.floor(math.log10(x))) - 1)
    return int(math.ceil(x / scale) * scale)


def budget_from(prediction: Prediction, stop_at: str, max_steps: int) -> int:
    unknown = [c for c in STOP_AT[stop_at].waits_for if c not in prediction.clocks]
    if unknown:
        raise ConfigError(f"train.steps=auto: the laws have no {', '.join(unknown)} to size train.stop_at={stop_at} by")
    refused = [c for c in STOP_AT[stop_at].waits_for if prediction.clocks[c].refused]
    if refused:
        c = refused[0]
        raise ConfigError(
            f"train.steps=auto: {c} is not predicted for this config ({prediction.clocks[c].refused}); "
            f"give train.steps a number to wait for train.stop_at={stop_at}"
        )
    upper = max(prediction.clocks[c].intervals[0.95][1] for c in STOP_AT[stop_at].waits_for)
    steps = min(ceil2(upper), BIG)
    return min(steps, max_steps) if max_steps > 0 else steps


def resolve_steps(cfg: RunConfig, laws: Laws | None = None) -> tuple[RunConfig, dict | None]:
    """cfg with train.steps=auto replaced by its budget, and the record of how it was sized;
    a config with a number of steps comes back as it is, with no record."""
    if cfg.train.steps != AUTO_STEPS:
        return cfg, None
    laws, rule = default_laws(cfg) if laws is None else (laws, None)
    prediction = predict_config(laws, cfg, rule)
    steps = budget_from(prediction, cfg.train.stop_at, cfg.train.max_steps)
    resolved = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=steps))
    return resolved, budget_record(prediction, cfg, steps)


def budget_record(prediction: Prediction, cfg: RunConfig, steps: int) -> dict:
    """What the summary keeps next to the measured clocks: the budget, why, and the prediction."""
    waits = STOP_AT[cfg.train.stop_at].waits_for
    capped = cfg.train.max_steps > 0 and steps == cfg.train.max_steps
    return {
        "steps": steps,
        "waits_for": list(waits),
        "rule": f"upper end of the 95% interval of {', '.join(waits)}"
        + (", capped by train.max_steps" if capped else ""),
        "max_steps": cfg.train.max_steps,
        "prediction": prediction.to_dict(),
    }
