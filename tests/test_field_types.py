"""Field annotations are resolved by typing (no eval): each that can be, even beside one that cannot."""

from __future__ import annotations

import dataclasses

import pytest

from twoclocks.core.fields import fill
from twoclocks.errors import ConfigError


@dataclasses.dataclass
class Params:
    size: int | None = 3
    rate: float = 0.5
    shape: NotImportedHere | None = None  # type: ignore[name-defined]  # noqa: F821


def test_the_resolvable_fields_are_coerced_beside_one_that_is_not():
    p = fill(Params, {"size": 4.0, "rate": "3e-4", "shape": "free text"}, "task", "the test")
    assert (p.size, p.rate, p.shape) == (4, 3e-4, "free text")
    assert isinstance(p.size, int)
    with pytest.raises(ConfigError, match=r"^task.size: cannot use 'big' as int \| None$"):
        fill(Params, {"size": "big"}, "task", "the test")
