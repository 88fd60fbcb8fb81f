"""train.stop_at: which clocks a run waits for before it ends, declared once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from twoclocks.clocks import MEM, RULE_CLOCKS


@dataclass(frozen=True)
class StopAt:
    """A choice of train.stop_at: the clocks a run waits for. An `early` run ends once they are all
    settled (training.stopping); train.steps=auto sizes a budget by them (prediction.autobudget)."""

    clocks: Callable[[], tuple[str, ...]]  # their names, read off the clock lists when asked
    early: bool = True

    @property
    def waits_for(self) -> tuple[str, ...]:
        return self.clocks()

    def measures(self, clock: str) -> bool:
        """Whether a run with this choice reads `clock` as far as its budget goes."""
        return not self.early or clock in self.waits_for


# The one declaration of train.stop_at (its domain, stopping, steps=auto, fits, claims). `rule` waits for
# every rule clock, or tau_rule would be censored at a stop step that says nothing about 0.9.
STOP_AT: dict[str, StopAt] = {
    "none": StopAt(lambda: (*(rc.tau for rc in RULE_CLOCKS), MEM.tau), early=False),  # the whole curve
    "rule": StopAt(lambda: tuple(rc.tau for rc in RULE_CLOCKS)),
    "mem": StopAt(lambda: (MEM.tau,)),  # what the claims need
}


def stop_measures(stop_at: object, clock: str) -> bool:
    """StopAt.measures for a results-table value (NaN in a table older than stop_at: no stop)."""
    return not isinstance(stop_at, str) or stop_at not in STOP_AT or STOP_AT[stop_at].measures(clock)
