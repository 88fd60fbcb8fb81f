"""The packaged sweeps of `twoclocks reproduce` (sweeps/specs/reproduce_<scale>.yaml)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from twoclocks.errors import ConfigError, quote
from twoclocks.sweeps.spec import SweepSpec, load_spec

SCALES = ("tiny", "cpu", "cpu-long", "gpu")


def scale_spec(scale: str) -> SweepSpec:
    """The packaged sweep of a scale (src/twoclocks/sweeps/specs/reproduce_<scale>.yaml)."""
    if scale not in SCALES:
        raise ConfigError(f"--scale must be one of {list(SCALES)}, got {quote(scale)}")
    return load_spec(Path(str(files("twoclocks") / "sweeps" / "specs" / f"reproduce_{scale}.yaml")))
