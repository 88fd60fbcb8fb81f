"""A prediction reads tables and configs and runs nobody's code: a model family named by a file
that leaves a marker when imported is refused in one line, from the command line (also through
--config) and from `tc.predict`, and the file is never imported."""

from __future__ import annotations

import pytest

import twoclocks as tc
from twoclocks.cli import main as cli_main
from twoclocks.errors import ConfigError

FAMILY = """
from pathlib import Path
Path(__file__).with_suffix(".imported").write_text("imported")

def build(cfg, encoding, train_cells):
    raise RuntimeError("never called")
"""


@pytest.fixture
def family(tmp_path, monkeypatch):
    path = tmp_path / "fam.py"
    path.write_text(FAMILY)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return path


@pytest.mark.parametrize("via_config", [False, True])
def test_predict_refuses_a_family_file_without_importing_it(family, capsys, via_config):
    words = ["model=./fam.py:build", "data.N=48"]
    if via_config:
        (family.parent / "cfg.yaml").write_text("model:\n  family: ./fam.py:build\n")
        words = ["--config", "cfg.yaml", "data.N=48"]
    assert cli_main(["predict", *words]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "model.family" in err and "never imports" in err, err
    assert not family.with_suffix(".imported").exists()


def test_the_api_predict_refuses_it_too(family):
    with pytest.raises(ConfigError, match="never imports"):
        tc.predict({"model.family": "./fam.py:build", "data.N": 48})
    assert not family.with_suffix(".imported").exists()
