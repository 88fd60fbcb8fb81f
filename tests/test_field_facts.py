"""A config field's facts (its domain and its role) are declared on the field, once: a field added
to a section is found by every list derived from them, with nothing else to edit."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

import twoclocks.config as config
from twoclocks.core.domains import POOLED, UNMODELLED, closed, setting
from twoclocks.core.fields import fill
from twoclocks.errors import ConfigError
from twoclocks.prediction.variables import config_key_values
from twoclocks.sweeps.claims.fits import non_slicing
from twoclocks.sweeps.spec import config_hash

DEFAULT_HASH = "c16853cd768477d64922158b6ecf03e79967d037d3feebe96fea2dc2007f036a"  # the default config's point


@dataclasses.dataclass
class TrainWithMore(config.TrainConfig):
    # A new execution field, left out of a point's hash at its neutral value.
    prefetch: int = setting(2, domain=closed(0, 8), role="execution", neutral=2)
    # A new field of what the run computes.
    momentum_warmup: int = setting(0, domain=closed(0, 100))


@pytest.fixture
def more_fields(monkeypatch):
    monkeypatch.setitem(config.SECTIONS, "train", TrainWithMore)


def test_a_new_fields_role_reaches_every_derived_list(more_fields):
    assert config.execution_neutrals()[("train", "prefetch")] == 2
    assert "train.prefetch" in non_slicing() and "train.prefetch" in config.keys_of_role(*UNMODELLED)
    assert "train.momentum_warmup" not in non_slicing()
    table = pd.DataFrame({"train.prefetch": [1, 2], "train.momentum_warmup": [0, 5], "task": ["parity"] * 2})
    assert set(config_key_values(table)) == {"task", "train.momentum_warmup"}


def test_a_new_field_is_a_config_key_hashed_only_off_its_default(more_fields):
    base = config_hash(config.build_config([]))
    assert base == DEFAULT_HASH  # the points of every sweep keep their hashes
    cfg = config.build_config(["train.prefetch=5", "train.momentum_warmup=0"])
    assert cfg.to_dict()["train"]["prefetch"] == 5 and config.flatten(cfg.to_dict())["train.momentum_warmup"] == 0
    assert config_hash(cfg) == base  # an execution field hashed at its neutral, a science one at its default
    assert config_hash(config.build_config(["train.momentum_warmup=5"])) != base
    with pytest.raises(ConfigError, match=r"^train.prefetch must be non-negative and at most 8, got 9$"):
        config.build_config(["train.prefetch=9"])


def test_a_new_fields_domain_is_checked_where_it_is_filled(more_fields):
    assert fill(TrainWithMore, {"prefetch": 8}, "train", "the test").prefetch == 8
    with pytest.raises(ConfigError, match=r"^train.prefetch must be non-negative and at most 8, got 9$"):
        fill(TrainWithMore, {"prefetch": 9}, "train", "the test")


def test_the_roles_split_the_fields_as_the_lists_did():
    """The lists these facts replaced, as they were where they agreed."""
    pooled = config.keys_of_role(*POOLED)
    unmodelled = config.keys_of_role(*UNMODELLED)
    both = {"seed", "data.seed", "eval.noise_seed", "train.threads", "train.device", "train.steps"}
    both |= {"train.checkpoint_every", "eval.points", "eval.batch", "eval.keep_checkpoints", "eval.keep_samples"}
    assert both <= pooled and both <= unmodelled
    # how the clocks are read (their noise and resolution) is pooled by fits but is a variable
    # of the laws: the laws were fitted at the measured resolution
    assert {"eval.samples", "eval.first"} <= pooled - unmodelled
    assert not {"model.width", "data.N", "train.batch", "train.lr", "clocks.theta_rule"} & pooled
    assert set(config.execution_neutrals()) == {("train", "threads"), ("train", "tensorboard"), ("train", "precision")}


def test_a_task_parameters_domain_is_declared_on_its_field():
    from twoclocks.tasks import make_task

    with pytest.raises(ConfigError, match=r"task.rows must be at least 2 and at most 255 \(the first row"):
        make_task("ca", rows=1)
    with pytest.raises(ConfigError, match=r"task.n must be positive and at most 64 \(items of up to 64 x 64"):
        make_task("parity", n=65)
    with pytest.raises(ConfigError, match=r"task.layout must be one of contiguous, random, blocks"):
        make_task("parity", layout="diagonal")
