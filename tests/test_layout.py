"""The architecture stays visible: no import circle, and no module imports from a floor above
its own (task -> model -> trainer -> evaluator -> clocks -> report, as the data flows)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1] / "src" / "twoclocks"

# Each module's floor, by its first matching prefix; a module may import its own floor or below.
FLOORS = [
    ("twoclocks.errors", 0),
    ("twoclocks.core", 0),
    ("twoclocks.encoding", 0),
    ("twoclocks.plugins", 0),
    ("twoclocks.version", 0),
    ("twoclocks.tasks", 1),
    ("twoclocks.data", 2),
    ("twoclocks.itemfile", 2),
    ("twoclocks.models", 3),
    ("twoclocks.config", 4),
    ("twoclocks.evaluate", 4),
    ("twoclocks.imagemetrics", 4),
    ("twoclocks.clocks", 4),
    ("twoclocks.records", 4),
    ("twoclocks.plots", 4),
    ("twoclocks.training", 5),
    ("twoclocks.sweeps.sweepdir", 5),  # a sweep directory's names, beside a run directory's
    ("twoclocks.sweeps.claims", 8),  # judges the results table that the sweep below writes
    ("twoclocks.sweeps", 6),
    ("twoclocks.prediction", 7),  # laws fitted on the results tables that sweeps write
    ("twoclocks.analysis", 9),
    ("twoclocks.api", 10),
    ("twoclocks.api_args", 10),
    ("twoclocks.commands", 11),
    ("twoclocks.cli", 11),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def floor(module: str) -> int:
    if module == "twoclocks":
        return 10  # the package exports the API
    for prefix, level in FLOORS:
        if module == prefix or module.startswith(prefix + "."):
            return level
    raise AssertionError(f"{module} has no floor in tests/test_layout.py; give it one")


def imported(path: Path, known: set[str]) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("twoclocks"):
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                out.add(name)
    return out


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in ROOT.rglob("*.py")}
    return {m: imported(p, set(files)) - {m} for m, p in files.items()}


def test_no_import_from_a_higher_floor():
    upward = [
        f"{m} (floor {floor(m)}) imports {d} (floor {floor(d)})"
        for m, deps in graph().items()
        for d in deps
        if floor(d) > floor(m)
    ]
    assert not upward, "\n".join(upward)


def test_no_import_circle():
    g = graph()
    seen: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(m: str, path: list[str]) -> None:
        seen[m] = 1
        for d in sorted(g[m]):
            if seen.get(d) == 1:
                pytest.fail("import circle: " + " -> ".join(path[path.index(d) :] + [d]))
            if d not in seen:
                visit(d, path + [d])
        seen[m] = 2

    for m in sorted(g):
        if m not in seen:
            visit(m, [m])


@pytest.mark.parametrize(
    "owner, names",
    [
        ("rundir.py", ("last.pt", "config.json", "train_set.npz", "metrics.parquet")),
        ("sweepdir.py", ("sweep.json", ".sweep.lock", "results.parquet", "failures.json", "claims.json", "claims.csv")),
    ],
)
def test_file_names_of_a_run_or_sweep_directory_are_spelled_once(owner, names):
    spelled = {
        name: [p.name for p in ROOT.rglob("*.py") if any(f"{q}{name}{q}" in p.read_text() for q in "\"'")]
        for name in names
    }
    assert all(files == [owner] for files in spelled.values()), spelled
