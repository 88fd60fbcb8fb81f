import json

import pytest

from twoclocks.config import RunConfig, build_config, from_dict
from twoclocks.errors import ConfigError


def test_dotted_overrides_and_types():
    cfg = build_config(["task.G=3", "data.N=64", "train.lr=3e-4", "model=dit", "model.depth=6", "seed=7"])
    assert cfg.task == {"name": "parity", "n": 6, "G": 3, "layout": "contiguous", "layout_seed": 0}
    assert cfg.data.N == 64 and cfg.train.lr == 3e-4 and cfg.model.depth == 6 and cfg.seed == 7


def test_yaml_file_then_command_line(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("task:\n  name: parity\n  G: 4\ndata:\n  N: 16\ntrain.steps: 123\n")
    cfg = build_config(["data.N=8"], str(f))
    assert cfg.task["G"] == 4 and cfg.data.N == 8 and cfg.train.steps == 123


def test_round_trip_through_json():
    cfg = build_config(["task.G=4", "model.sigma_data=1.0"])
    again = from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg


@pytest.mark.parametrize(
    "override,match",
    [
        (["task=nope"], "unknown task 'nope'"),
        (["model=rnn"], "unknown model 'rnn'"),
        (["task.G=5"], None),  # caught when the task is built, not here
        (["train.steps=0"], "train.steps must be positive"),
        (["train.batch=-4"], "train.batch must be positive"),
        (["train.stepz=10"], "unknown config key train.stepz"),
        (["foo=1"], "unknown config key 'foo'"),
        (["task.K=3"], "unknown field task.K"),
        (["data.N=abc"], "data.N must be an integer"),
        (["train.lr=fast"], "train.lr must be a number"),
        (["nonsense"], "not of the form key=value"),
    ],
)
def test_bad_overrides(override, match):
    if match is None:
        build_config(override)
        return
    with pytest.raises(ConfigError, match=match):
        build_config(override)


def test_defaults_are_documented_dataclasses():
    cfg = RunConfig()
    assert cfg.model.family == "dit" and cfg.task["name"] == "parity"


def test_cli_overrides_may_follow_options(monkeypatch):
    import twoclocks.commands.run as run_cmd
    from twoclocks import cli

    seen = {}
    monkeypatch.setattr(run_cmd, "main", lambda args: seen.update(o=args.overrides, q=args.quiet))
    assert cli.main(["run", "task.G=3", "--quiet", "data.N=8"]) == 0
    assert seen == {"o": ["task.G=3", "data.N=8"], "q": True}
