"""`twoclocks predict` imports neither torch nor matplotlib nor the optimiser: read from the
cache, the laws answer in a fraction of a second, which those imports alone would exceed
(benchmarks/bench_predict.py measures it)."""

from __future__ import annotations

import subprocess
import sys

BLOCKED = ("torch", "matplotlib", "scipy.optimize", "scipy.special", "scipy.stats")


def test_the_predict_command_imports_no_trainer():
    code = (
        "import sys\n"
        f"for name in {BLOCKED!r}:\n"
        "    sys.modules[name] = None  # importing it raises\n"
        "from twoclocks.cli import build_parser\n"
        "build_parser('predict')\n"
        "import twoclocks.prediction.fitted, twoclocks.prediction.autobudget\n"
        "from twoclocks.config import build_config\n"
        "from twoclocks.prediction.variables import config_variables\n"
        "print(config_variables(build_config(['task=sudoku', 'model=gpt'])).shape)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "(1, 15)"  # the variables of one config, the rule features among them
