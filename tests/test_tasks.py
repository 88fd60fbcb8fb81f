"""The task zoo: every registered task samples valid items, catches corruptions, round-trips
through both encodings, and reports a population that matches its enumeration."""

from __future__ import annotations

import dataclasses
import json
import math
from functools import cache

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from twoclocks.cli import main as cli_main
from twoclocks.data import draw_training_set, hash_cells
from twoclocks.encoding import Encoding
from twoclocks.errors import ConfigError
from twoclocks.models.reference import population_denoiser
from twoclocks.tasks import TASKS, make_task
from twoclocks.tasks.base import Task
from twoclocks.tasks.latin import LATIN_COUNTS, log2_latin_count
from twoclocks.tasks.sudoku import fill_grids, group_size, orbit_bias

# Every task at its defaults plus a few knob values (and the small variants that enumerate).
CASES = [
    ("parity", ()),
    ("sparse_parity", ()),
    ("sparse_parity", (("k", 1),)),
    ("sparse_parity", (("k", 8),)),
    ("sparse_parity", (("n", 4), ("k", 5))),
    ("linear_code", ()),
    ("linear_code", (("check_size", 2),)),
    ("linear_code", (("check_size", 5), ("m", 10))),
    ("linear_code", (("n", 4),)),
    ("ca", ()),
    ("ca", (("rule", 30),)),
    ("ca", (("rule", 110), ("width", 8))),
    ("hamming_weight", ()),
    ("hamming_weight", (("w", 1),)),
    ("hamming_weight", (("n", 4), ("w", 2))),
    ("mirror", ()),
    ("mirror", (("axes", "ud"),)),
    ("mirror", (("axes", "both"),)),
    ("mirror", (("n", 5), ("axes", "lr"))),
    ("mirror", (("n", 5), ("axes", "both"))),
    ("sudoku", ()),
    ("sudoku", (("size", 4),)),
    ("latin", ()),
    ("latin", (("n", 4),)),
    ("latin", (("n", 7), ("mix_steps", 40))),
    ("latin", (("sampler", "isotopy"),)),
    ("queens", ()),
    ("queens", (("n", 5),)),
    ("queens", (("n", 10),)),
    ("words", ()),
    ("words", (("length", 8),)),
]
IDS = [name + "".join(f"-{k}={v}" for k, v in params) for name, params in CASES]
SEEDS = st.integers(0, 2**32 - 1)
FEW = settings(max_examples=5, deadline=None)


@cache
def get_task(name: str, params: tuple) -> Task:
    """Tasks are cached: some build lookup tables on first use (sudoku pool, queens solutions)."""
    return make_task(name, **dict(params))


def sensitive_cells(task: Task) -> np.ndarray:
    """bool (H, W): cells where changing the value ALWAYS breaks validity.

    Exceptions, by design of the rules:
    - sparse_parity: only bits inside the hidden subset matter; the rest are free.
    - linear_code: bits that appear in no check are free.
    - ca: rows 1.. always; row 0 only when the rule makes every row-0 flip visible in row 1
      (true for 90, 30 and 110; for e.g. rule 136 = centre AND right, a flip between two
      zeros leaves row 1, hence the whole image, valid: see test_ca_row0_exception).
    - mirror: cells on a mirror axis (odd n) are their own image, so flipping them is valid.
    """
    H, W = task.shape
    if task.name == "sparse_parity":
        mask = np.zeros(H * W, dtype=bool)
        mask[task.subset] = True
        return mask.reshape(H, W)
    if task.name == "linear_code":
        return task.covered.reshape(H, W)
    if task.name == "ca":
        mask = np.ones((H, W), dtype=bool)
        mask[0] = row0_flips_always_visible(task.params.rule)
        return mask
    if task.name == "mirror":
        return ~task.on_axis()
    return np.ones((H, W), dtype=bool)


def row0_flips_always_visible(rule: int) -> bool:
    """Whether flipping the middle bit of every 5-bit window changes one of the three
    updates that read it (positions j-1, j, j+1)."""
    table = [(rule >> i) & 1 for i in range(8)]
    for w in range(32):
        bits = [(w >> i) & 1 for i in range(5)]
        flipped = bits.copy()
        flipped[2] ^= 1
        out = [table[4 * b[i] + 2 * b[i + 1] + b[i + 2]] for b in (bits, flipped) for i in range(3)]
        if out[:3] == out[3:]:
            return False
    return True


def test_ca_row0_exception():
    assert all(row0_flips_always_visible(rule) for rule in (90, 30, 110))
    task = make_task("ca", rule=136)
    assert not row0_flips_always_visible(136)
    cells = task.evolve(np.array([[0, 0, 0, 1, 1, 0]], dtype=np.uint8))
    cells[0, 0, 1] = 1  # between two zeros: row 1 is unchanged
    assert task.is_valid(cells).all()


def test_every_registered_task_is_covered():
    # tasks without a rule (data sets) have tests of their own: tests/test_image_tasks.py
    assert {name for name, _ in CASES} == {name for name, cls in TASKS.items() if cls.has_rule}
    for cls in TASKS.values():
        assert cls.kind in ("binary", "puzzle", "natural", "image")
        assert cls.knob in {f.name for f in dataclasses.fields(cls.Params)}


@pytest.mark.parametrize("name,params", CASES, ids=IDS)
@FEW
@given(seed=SEEDS)
def test_samples_are_valid(name, params, seed):
    task = get_task(name, params)
    cells = task.sample(64, np.random.default_rng(seed))
    assert cells.shape == (64, *task.shape) and cells.dtype == np.uint8
    assert cells.max() < task.num_values
    assert task.is_valid(cells).all()
    assert (task.constraint_acc(cells) == 1.0).all()


# A lexicon has words one letter apart (bake, bale), so no letter of a word is always sensitive.
CORRUPTIBLE = [(case, i) for case, i in zip(CASES, IDS) if case[0] != "words"]


@pytest.mark.parametrize("name,params", [c for c, _ in CORRUPTIBLE], ids=[i for _, i in CORRUPTIBLE])
@FEW
@given(seed=SEEDS)
def test_single_cell_corruption_is_caught(name, params, seed):
    task = get_task(name, params)
    rng = np.random.default_rng(seed)
    cells = task.sample(32, rng)
    where = np.flatnonzero(sensitive_cells(task))
    pos = rng.choice(where, size=len(cells))
    flat = cells.reshape(len(cells), -1).copy()
    old = flat[np.arange(len(cells)), pos]
    # A uniformly random different value: old + 1..K-1 (mod K).
    flat[np.arange(len(cells)), pos] = (old + rng.integers(1, task.num_values, size=len(cells))) % task.num_values
    corrupted = flat.reshape(cells.shape)
    assert not task.is_valid(corrupted).any()
    assert (task.constraint_acc(corrupted) < 1.0).all()


@pytest.mark.parametrize("name,params", CASES, ids=IDS)
@FEW
@given(seed=SEEDS, scheme=st.sampled_from(["onehot", "analog"]))
def test_encodings_round_trip(name, params, seed, scheme):
    task = get_task(name, params)
    cells = task.sample(16, np.random.default_rng(seed))
    order = task.token_order()
    enc = Encoding(task.shape, task.num_values, scheme, None if order is None else tuple(order))
    x = enc.to_continuous(cells)
    assert x.shape == (16, enc.channels, *task.shape)
    assert set(torch.unique(x).tolist()) <= {-1.0, 1.0}
    assert np.array_equal(enc.from_continuous(x), cells)
    tokens = enc.to_tokens(cells)
    assert tokens.shape == (16, task.num_cells) and int(tokens.max()) < enc.bos
    assert np.array_equal(enc.from_tokens(tokens), cells)


@pytest.mark.parametrize("name,params", CASES, ids=IDS)
@FEW
@given(a=SEEDS, b=SEEDS)
def test_seeds_reproduce_and_differ(name, params, a, b):
    task = get_task(name, params)
    one = task.sample(32, np.random.default_rng(a))
    assert np.array_equal(one, task.sample(32, np.random.default_rng(a)))
    if a != b:
        other = task.sample(32, np.random.default_rng(b))
        # As sequences: a small population (queens n=5 has 10) can repeat the same *set*.
        assert not np.array_equal(one, other)
        if task.log2_population > 12:
            assert set(hash_cells(one).tolist()) != set(hash_cells(other).tolist())


@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_training_set_is_distinct_and_bounded(name, params):
    task = get_task(name, params)
    # population - 1: data.py compares N with 2.0**log2_population, which rounds below the
    # true count for some populations (see test_whole_population_as_training_set).
    N = min(50, int(round(2.0**task.log2_population)) - 1)
    train = draw_training_set(task, N, np.random.default_rng(0))
    assert train.shape == (N, *task.shape)
    assert len(set(hash_cells(train).tolist())) == N
    assert task.is_valid(train).all()
    if task.population is not None:
        with pytest.raises(ConfigError, match="larger than the population"):
            draw_training_set(task, task.population + 1, np.random.default_rng(0))


def test_whole_population_as_training_set():
    # 2**log2(10) = 9.999999999999998: the check must use the exact count
    task = make_task("queens", n=5)
    train = draw_training_set(task, 10, np.random.default_rng(0))
    assert len(set(hash_cells(train).tolist())) == 10


def test_sudoku_4_training_set_of_289_is_refused():
    with pytest.raises(ConfigError, match="data.N=289"):
        draw_training_set(make_task("sudoku", size=4), 289, np.random.default_rng(0))


@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_population_matches_enumeration(name, params):
    task = get_task(name, params)
    everything = task.enumerate()
    # enumerate() is there exactly when the population fits the reference denoiser (2^18).
    assert (everything is not None) == (task.log2_population <= 18)
    if everything is None:
        return
    assert task.population_exact
    assert len(everything) == task.population == round(2.0**task.log2_population)
    assert everything.dtype == np.uint8 and everything.shape[1:] == task.shape
    assert len(np.unique(hash_cells(everything))) == len(everything)  # distinct hashes => distinct
    assert task.is_valid(everything).all()


def chi_square(task: Task, draws_per_item: int, seed: int = 0) -> tuple[float, int, int]:
    """(statistic, degrees of freedom, support) of the sampler's counts over the enumeration."""
    everything = task.enumerate()
    keys = hash_cells(everything)
    order = np.argsort(keys)
    cells = task.sample(draws_per_item * len(everything), np.random.default_rng(seed))
    idx = order[np.searchsorted(keys[order], hash_cells(cells))]
    assert np.array_equal(everything[idx], cells)
    counts = np.bincount(idx, minlength=len(everything))
    stat = float(((counts - draws_per_item) ** 2 / draws_per_item).sum())
    return stat, len(everything) - 1, int((counts > 0).sum())


@pytest.mark.parametrize(
    "name,params",
    [
        ("sudoku", (("size", 4),)),
        ("latin", (("n", 4),)),
        ("queens", ()),
        ("queens", (("n", 6),)),
        ("ca", ()),
        ("hamming_weight", (("n", 3), ("w", 1))),
        ("mirror", (("n", 3), ("axes", "both"))),
        ("linear_code", (("n", 3), ("m", 5))),
        ("sparse_parity", (("n", 3), ("k", 4))),
    ],
)
def test_uniform_samplers_pass_chi_square(name, params):
    """Uniform samplers against their enumeration; 6 sigma above the mean is a failure."""
    stat, df, support = chi_square(get_task(name, params), draws_per_item=40)
    assert support == df + 1
    assert stat < df + 6 * math.sqrt(2 * df), (stat, df)


def test_latin_isotopy_sampler_is_biased():
    """The cyclic-isotopy sampler reaches only the 432 squares isotopic to Z4 (of 576)."""
    stat, df, support = chi_square(make_task("latin", n=4, sampler="isotopy"), draws_per_item=40)
    assert support == 432
    assert stat > df + 6 * math.sqrt(2 * df)


def test_sudoku_transformations_cover_orbits_only():
    """On 4x4, one base grid reaches one orbit (96 or 192 of 288) uniformly; a pool holding
    every grid is uniform (TV ~ sampling noise)."""
    everything = fill_grids(2)
    assert len(everything) == 288 and group_size(2) == 3072 and group_size(3) == 1_218_998_108_160
    rng = np.random.default_rng(0)
    supports = set()
    for i in range(0, 288, 7):
        result = orbit_bias(everything[i : i + 1], everything, 20_000, rng, b=2)
        assert result["support"] in (96, 192)
        assert result["tv_to_uniform"] == pytest.approx(1 - result["support"] / 288, abs=0.03)
        supports.add(result["support"])
    assert supports == {96, 192}
    assert orbit_bias(everything, everything, 50_000, rng, b=2)["tv_to_uniform"] < 0.05


def test_sudoku_9_pool_is_valid_and_distinct():
    task = make_task("sudoku", size=9, bases=8, base_seed=3)
    pool = task.base_grids
    assert pool.shape == (8, 9, 9) and task.is_valid(pool).all()
    assert len(set(hash_cells(pool).tolist())) == 8
    assert not np.array_equal(pool, make_task("sudoku", size=9, bases=8, base_seed=4).base_grids)


def test_latin_population_table_and_estimate():
    assert log2_latin_count(4) == (math.log2(576), True)
    assert LATIN_COUNTS[8] == 108776032459082956800
    est, exact = log2_latin_count(12)
    assert not exact and log2_latin_count(11)[0] < est
    task = make_task("latin", n=12)
    assert not task.population_exact and task.population is None and task.enumerate() is None


def test_linear_code_population_is_null_space():
    task = make_task("linear_code", n=4, m=6, check_size=3, code_seed=7)
    assert (task.H.astype(int) @ task.basis.T.astype(int) % 2 == 0).all()
    assert task.log2_population == 16 - task.rank
    assert task.rank <= 6
    words = task.enumerate()  # 2^dim combinations of the basis, all distinct
    assert len(np.unique(words.reshape(len(words), -1), axis=0)) == 2**task.dimension
    duplicated = make_task("linear_code", n=2, m=8, check_size=4)  # 8 copies of one check
    assert duplicated.rank == 1 and duplicated.log2_population == 3


@pytest.mark.parametrize(
    "name,params,field",
    [
        ("sudoku", {"size": 5}, "task.size"),
        ("latin", {"n": 1}, "task.n"),
        ("queens", {"n": 3}, "task.n"),
        ("ca", {"rule": 256}, "task.rule"),
        ("ca", {"width": 2}, "task.width"),
        ("hamming_weight", {"w": 7}, "task.w"),
        ("mirror", {"axes": "diag"}, "task.axes"),
        ("sparse_parity", {"k": 0}, "task.k"),
        ("linear_code", {"check_size": 37}, "task.check_size"),
        ("linear_code", {"m": 0}, "task.m"),
        ("latin", {"sampler": "mcmc"}, "task.sampler"),
    ],
)
def test_bad_parameters_name_the_field(name, params, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")) as info:
        make_task(name, **params)
    assert "\n" not in str(info.value)


def test_population_denoiser_on_a_categorical_task():
    task = make_task("sudoku", size=4)
    enc = Encoding(task.shape, task.num_values)
    denoise = population_denoiser(task, enc)
    x = enc.to_continuous(task.sample(4, np.random.default_rng(0)))
    out = denoise(x, torch.full((4,), 1e-3))
    assert torch.allclose(out, x, atol=1e-6)  # tiny noise: the posterior mean is the item


def test_tasks_command_lists_every_task(capsys):
    assert cli_main(["tasks", "--json", "--N", "16"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list(TASKS)
    for r in rows:
        assert {"name", "kind", "knob", "log2_population", "params", "mem_chance"} <= set(r)
        known = r["log2_population"] is not None  # an unknown population is null, and so its mem_chance
        assert r["mem_chance"] == (pytest.approx(min(1.0, 16 * 2.0 ** -r["log2_population"])) if known else None)
        cells = r["shape"][0] * r["shape"][1]
        chance = 2.0 ** (r["log2_population"] - cells * math.log2(r["num_values"])) if known else None
        assert r["valid_chance"] == (pytest.approx(chance) if known else None)
    assert cli_main(["tasks", "task=sudoku", "task.size=4"]) == 0
    assert "sudoku" in capsys.readouterr().out
    assert cli_main(["tasks", "task=sudoku", "task.size=5"]) == 1
    assert "task.size" in capsys.readouterr().err
