"""The packaged sweeps of `twoclocks reproduce` (sweeps/specs/reproduce_<scale>.yaml), less the
points of a model family that is not available here."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from twoclocks.errors import ConfigError
from twoclocks.sweeps.spec import SweepSpec, load_spec

SCALES = ("tiny", "cpu", "cpu-long", "gpu")
OPTIONAL_FAMILIES = ("gpt", "mdm")  # families a packaged sweep runs only where they are available


def scale_spec(scale: str) -> SweepSpec:
    """The packaged sweep of a scale (src/twoclocks/sweeps/specs/reproduce_<scale>.yaml), without
    the points of a family (gpt, mdm) that is not available."""
    if scale not in SCALES:
        raise ConfigError(f"--scale must be one of {list(SCALES)}, got {scale!r}")
    spec = load_spec(Path(str(files("twoclocks") / "sweeps" / "specs" / f"reproduce_{scale}.yaml")))
    for family in OPTIONAL_FAMILIES:
        if not family_available(family):
            spec.grids = drop_family(spec.grids, family)
    return spec


def family_available(family: str) -> bool:
    """Whether this installation can build `family`'s model (an optional dependency may be missing)."""
    from twoclocks.models import FAMILIES

    return family in FAMILIES


def drop_family(grids: list[dict], family: str) -> list[dict]:
    out = []
    for g in grids:
        key = "model.family" if "model.family" in g else "model" if "model" in g else None
        if key is None:
            out.append(g)
            continue
        values = [v for v in g[key] if v != family]
        if values:
            out.append({**g, key: values})
    return out
