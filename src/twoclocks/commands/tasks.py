"""`twoclocks tasks [task=NAME task.KEY=VALUE ...] [--N N] [--json]`: the task zoo at a glance."""

from __future__ import annotations

import argparse
import math

import twoclocks.plugins as plugins
from twoclocks.commands import json_text
from twoclocks.config import parse_overrides
from twoclocks.errors import ConfigError, quote
from twoclocks.tasks import ENTRY_POINTS, TASKS, build_task
from twoclocks.tasks.base import Task


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tasks",
        help="list the rule-valid tasks with their populations",
        description="List every registered task with its default parameters, knob, "
        "kind, log2 population and the chance that a uniform valid "
        "sample copies one of N training items. With task=NAME (and "
        "task.KEY=VALUE overrides) list only that task, so configured.",
    )
    p.add_argument(
        "overrides", nargs="*", metavar="key=value", help="task=NAME and task.KEY=VALUE, e.g. task=sudoku task.size=4"
    )
    p.add_argument("--N", type=int, default=32, help="training-set size for mem_chance (default 32)")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.set_defaults(func=main)


def selected_tasks(overrides: list[str]) -> list[Task]:
    """Every task with its defaults, or the one task named by task=NAME with its overrides."""
    items = parse_overrides(overrides)
    bad = [k for k in items if k != "task" and not k.startswith("task.")]
    if bad:
        raise ConfigError(f"twoclocks tasks only takes task=NAME and task.KEY=VALUE, got {quote(bad[0])}")
    if "task" not in items:
        if items:
            raise ConfigError(f"{next(iter(items))} needs task=NAME to say which task it configures")
        return [build_task({"name": name}) for name in [*TASKS, *plugins.entry_point_names(ENTRY_POINTS)]]
    return [build_task({"name": items.pop("task"), **{k[len("task.") :]: v for k, v in items.items()}})]


def describe(task: Task, N: int) -> dict:
    params = task.definition()
    params.pop("name")
    return {
        "name": task.name,
        "kind": task.kind,
        "knob": task.knob,
        "knob_value": params.get(task.knob),
        "params": params,
        "shape": list(task.shape),
        "num_values": task.num_values,
        "log2_population": task.log2_population,
        "population_exact": task.population_exact,
        # A task without a rule has no population to count copies against: its runs measure
        # the chance level on held-out items instead.
        "mem_chance": task.mem_chance(N) if task.has_rule else None,
        "valid_chance": task.valid_chance if task.has_rule else None,
        "N": N,
    }


def table(rows: list[dict]) -> str:
    header = ["task", "kind", "knob", "shape", "K", "log2 pop", "exact", "mem_chance", "valid_chance", "params"]
    lines = [
        [
            r["name"],
            r["kind"],
            f"{r['knob']}={r['knob_value']}",
            "x".join(map(str, r["shape"])),
            str(r["num_values"]),
            f"{r['log2_population']:.2f}" if math.isfinite(r["log2_population"]) else "unknown",
            "yes" if r["population_exact"] else "est.",
            "measured" if r["mem_chance"] is None else f"{r['mem_chance']:.3g}",
            "-" if r["valid_chance"] is None else f"{r['valid_chance']:.3g}",
            " ".join(f"{k}={v}" for k, v in r["params"].items()),
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*row).rstrip() for row in [header, *lines])


def main(args: argparse.Namespace) -> int:
    if args.N <= 0:
        raise ConfigError(f"--N must be a positive integer, got {args.N}")
    rows = [describe(task, args.N) for task in selected_tasks(args.overrides)]
    if args.json:
        print(json_text(rows, indent=2))
    else:
        print(table(rows))
        print(f"mem_chance: probability that one uniform valid item is one of N={args.N} training items")
        print("valid_chance: the rate at which a uniformly random grid is valid (the rule clocks read valid above it)")
    return 0
