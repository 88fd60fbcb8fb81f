"""The words task: the shipped lexicon, its rule and population, the exact near-copy chance, its
run defaults, samples shown as words, and a run's metrics recomputed from its saved samples
with a plain Python set of the shipped words."""

from __future__ import annotations

import ast
import fnmatch
import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from conftest import TINY
from twoclocks.cli import main as cli_main
from twoclocks.config import apply_overrides, build_config
from twoclocks.evaluate import load_outcomes
from twoclocks.tasks import make_task
from twoclocks.tasks.lexicon import COUNTS, LENGTHS, file_bytes, lexicon_file
from twoclocks.tasks.lexicon.build import build, source_files
from twoclocks.training.rundir import RunDir
from twoclocks.training.runner import start_run
from twoclocks.training.sample_text import SHOWN, sample_lines

SCOWL = Path("/usr/share/dict/scowl")  # Debian's scowl package, where it is installed


def shipped_words(length: int) -> list[str]:
    """The shipped file read with plain Python, independently of the task's loader."""
    return lexicon_file(length).read_text(encoding="ascii").splitlines()


def as_cells(words: list[str]) -> np.ndarray:
    return np.array([[[ord(ch) - ord("a") for ch in w]] for w in words], dtype=np.uint8)


@pytest.mark.parametrize("length", LENGTHS)
def test_lexicon_files_hold_the_stated_counts(length):
    words = shipped_words(length)
    assert len(words) == COUNTS[length] == len(set(words))
    assert all(len(w) == length and w.isascii() and w.isalpha() and w.islower() for w in words)
    assert lexicon_file(length).read_bytes() == file_bytes(words)  # sorted, LF-terminated
    task = make_task("words", length=length)
    assert task.log2_population == math.log2(len(words))
    assert task.as_text(task.enumerate()) == words


def test_build_keeps_lower_case_words_of_each_length(tmp_path):
    """A stand-in SCOWL folder: capitals, apostrophes, accents (UTF-8 and Latin-1), hyphens
    and other lengths are left out; a word in two lists appears once."""
    lines = {
        "english-words.10": "about\nAbout\nabout's\ncafé\nbread\n",
        "american-words.10": "color\nbread\nlabor\n",
        "english-words.50": "x-ray\nzebras\nabcd\nabcdefgh\nabcdefghi\nfr\xe9re\n",
    }
    for path in source_files(tmp_path):
        data = lines.get(path.name, "")
        path.write_bytes(data.encode("latin-1" if "\xe9re" in data else "utf-8"))
    files = build(tmp_path)
    assert files[5] == b"about\nbread\ncolor\nlabor\n"
    assert files[4] == b"abcd\n" and files[6] == b"zebras\n" and files[8] == b"abcdefgh\n"
    assert files[7] == b""


@pytest.mark.skipif(not SCOWL.is_dir(), reason="SCOWL is not installed here (Debian package scowl)")
def test_build_rebuilds_the_shipped_files_byte_for_byte():
    files = build(SCOWL)
    for length, data in files.items():
        assert data == lexicon_file(length).read_bytes()


def test_validity_and_constraints_against_plain_python():
    task = make_task("words", length=5)
    words = shipped_words(5)
    lexicon = set(words)
    bigrams = [{(w[j], w[j + 1]) for w in words} for j in range(4)]
    rng = np.random.default_rng(0)
    # Real words, words with one letter changed, and random letters.
    real = rng.choice(words, 300).tolist()
    changed = [w[:k] + chr(97 + int(rng.integers(26))) + w[k + 1 :] for w, k in zip(real, rng.integers(0, 5, 300))]
    rows = real + changed + ["".join(chr(97 + int(v)) for v in r) for r in rng.integers(0, 26, (3000, 5))]
    cells = as_cells(rows)
    expect_valid = [r in lexicon for r in rows]
    expect_constraints = [[(r[j], r[j + 1]) in bigrams[j] for j in range(4)] for r in rows]
    assert task.is_valid(cells).tolist() == expect_valid
    assert task.constraints(cells).tolist() == expect_constraints
    # Locally plausible is not a word: rows with every bigram right that are not words exist.
    plausible = task.constraints(cells).all(axis=1)
    assert (plausible & ~task.is_valid(cells)).sum() > 10
    assert task.is_valid(task.enumerate()).all() and task.constraints(task.enumerate()).all()
    out_of_range = cells[:5].copy()
    out_of_range[:, 0, 2] = 26
    assert not task.is_valid(out_of_range).any()
    assert not task.constraints(out_of_range)[:, 1:3].any()


def test_sampler_draws_only_words_and_all_of_them():
    task = make_task("words", length=4)
    draws = task.as_text(task.sample(60_000, np.random.default_rng(1)))
    assert set(draws) <= set(shipped_words(4))
    assert len(set(draws)) > 0.99 * COUNTS[4]  # 26 draws per word: all but ~e^-26 of them seen


def test_ball_of_one_counts_pairs():
    task = make_task("words", length=4)
    words = shipped_words(4)
    sizes = task.ball_sizes(1)
    # Plain Python for a sample of words: neighbours one letter away, plus the word itself.
    for i in np.random.default_rng(2).choice(len(words), 50, replace=False):
        assert sizes[i] == sum(sum(a != b for a, b in zip(words[i], w)) <= 1 for w in words)
    assert np.array_equal(sizes, task._ball_by_pairs(1))


def subset_task(words: list[str]):
    """The words task restricted to `words` (a small lexicon whose chances can be brute-forced)."""
    task = make_task("words", length=len(words[0]))
    task.__dict__["_words"] = as_cells(sorted(words))[:, 0, :]
    task.__dict__["_codes"] = task.codes(as_cells(sorted(words)))
    return task


def distances_within(words: list[str], d: int) -> np.ndarray:
    cells = as_cells(words)[:, 0, :]
    return (cells[:, None, :] != cells[None, :, :]).sum(axis=2) <= d


def test_near_chance_by_exact_enumeration_of_training_sets():
    words = ["bake", "bale", "bare", "bore", "core", "cork", "dusk", "husk"]
    task = subset_task(words)
    near = distances_within(sorted(words), 1)
    for n in (1, 3, 5):
        sets = list(itertools.combinations(range(len(words)), n))
        hits = [near[x, list(s)].any() for s in sets for x in range(len(words))]
        assert task.near_chance(n, 1) == pytest.approx(np.mean(hits), abs=1e-12)
        assert task.near_chance(n, 0) == pytest.approx(n / len(words), abs=1e-12)


def test_near_chance_against_simulation_on_a_lexicon_subset():
    words = shipped_words(4)[:200]  # alphabetical: many share letters, so balls vary
    task = subset_task(words)
    near = distances_within(sorted(words), 1)
    rng = np.random.default_rng(3)
    n, trials = 25, 20_000  # here a constant ball of the mean size would be 0.045 (13 SE) too high
    train = np.argpartition(rng.random((trials, len(words))), n, axis=1)[:, :n]  # n distinct, uniform
    x = rng.integers(0, len(words), trials)
    simulated = near[x[:, None], train].any(axis=1).mean()
    exact = task.near_chance(n, 1)
    assert len(np.unique(task.ball_sizes(1))) > 3
    assert abs(simulated - exact) < 4 * math.sqrt(exact * (1 - exact) / trials)
    assert exact > n / len(words)  # near copies are likelier than copies


def test_unknown_length_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli_main(["run", "task=words", "task.length=3", "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "task.length" in err[0] and "at least 4 and at most 8" in err[0] and "lexicon" in err[0]
    assert list(tmp_path.iterdir()) == []
    # The declared interval names exactly the shipped lengths.
    assert LENGTHS == tuple(range(min(LENGTHS), max(LENGTHS) + 1))


def test_run_defaults_apply_where_not_given():
    cfg = build_config(["task=words"])
    assert cfg.model.patch == 1 and cfg.to_dict()["model"]["patch"] == 1 and cfg.data.N == 32
    assert build_config(["task=words", "data.N=8"]).data.N == 8
    assert build_config(["task=words", "model.patch=2"]).model.patch == 2  # the user's value wins
    assert build_config(["task=parity"]).model.patch == 2
    # Once the task is chosen, later overrides keep what the config holds.
    assert apply_overrides(build_config(["task=words", "model.patch=3"]), {"data.N": 8}).model.patch == 3


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("words") / "run"
    cfg = build_config([*TINY, "task=words", "model=gpt", "data.N=16", "train.steps=40", "eval.samples=128"])
    start_run(cfg, out, progress=False)
    return out


def test_metrics_recomputed_from_saved_samples_with_a_python_set(tiny_run):
    lexicon = set(shipped_words(5))
    rd = RunDir(tiny_run)
    train = {"".join(chr(97 + int(v)) for v in item.reshape(-1)) for item in rd.load_train_set()}
    assert train <= lexicon and len(train) == 16
    metrics = rd.load_metrics().set_index("step")
    for step, path in rd.sample_files():
        texts = ["".join(chr(97 + int(v)) for v in c.reshape(-1)) for c in load_outcomes(path).cells]
        valid = [t in lexicon for t in texts]
        mem = [t in train for t in texts]
        novel = [v and not m for v, m in zip(valid, mem)]
        row = metrics.loc[step]
        assert (row["valid"], row["mem"], row["novel_valid"]) == (np.mean(valid), np.mean(mem), np.mean(novel))
    assert len(metrics) == len(rd.sample_files()) > 1


def test_summary_shows_samples_as_words(tiny_run):
    rd = RunDir(tiny_run)
    summary = rd.load_summary()
    lines = sample_lines(summary, tiny_run)
    assert len(lines) == 3 and lines[1].startswith("  novel valid") and lines[2].startswith("  copies")
    lexicon = set(shipped_words(5))
    train = {"".join(chr(97 + int(v)) for v in item.reshape(-1)) for item in rd.load_train_set()}
    novel = lines[1].split(": ", 1)[1]
    copies = lines[2].split(": ", 1)[1]
    shown_novel = [] if novel == "-" else novel.split(", ")
    shown_copies = [] if copies == "-" else copies.split(", ")
    assert all(w in lexicon and w not in train for w in shown_novel) and len(shown_novel) <= SHOWN
    assert all(w in train for w in shown_copies) and len(shown_copies) <= SHOWN
    # A grid task shows no text.
    assert sample_lines({**summary, "config": {**summary["config"], "task": {"name": "parity"}}}, tiny_run) == []


def test_sweep_report_lists_samples_as_text(tiny_run):
    from twoclocks.analysis.report import ReportInput, sample_text_section

    section = sample_text_section(ReportInput(tiny_run.parent, "sweep", None, [tiny_run]))
    assert section is not None and section[0] == "Samples as text" and tiny_run.name in section[1]
    assert sample_text_section(ReportInput(tiny_run, "run", None, [tiny_run])) is None  # in its summary


def test_a_data_file_without_data_n_gives_all_its_items(tmp_path):
    items = tmp_path / "words.npy"
    np.save(items, as_cells(shipped_words(5)[:40]))
    assert build_config(["task=words", f"data.path={items}"]).data.N == 40  # not the run default


def test_packaged_sweep_spec_plans_every_family():
    from twoclocks.sweeps.spec import expand, load_spec

    spec = load_spec(Path(__file__).parents[1] / "src/twoclocks/sweeps/specs/words_cpu.yaml")
    points = expand(spec)
    assert len(points) == 3 * 4 * 2 * 3
    assert {p.cfg.model.family for p in points} == {"dit", "gpt", "mdm"}
    assert all(p.cfg.model.patch == 1 and p.cfg.task["name"] == "words" for p in points)
    assert {p.cfg.data.N for p in points} == {64, 128, 256, 512}


def test_package_data_ships_the_lexicon_and_its_licence():
    """Every data file beside the lexicon's code matches a package-data glob of pyproject.toml,
    so a wheel or `pip install .` carries the word lists and SCOWL's notices."""
    root = Path(__file__).parents[1]
    # The package-data table's one line (tomllib is not in Python 3.10, which the package supports).
    table = (root / "pyproject.toml").read_text(encoding="utf-8").split("[tool.setuptools.package-data]\n")[1]
    globs = ast.literal_eval(table.splitlines()[0].split("=", 1)[1].strip())
    package = root / "src/twoclocks"
    data = {p.relative_to(package).as_posix() for p in lexicon_file(5).parent.iterdir() if p.suffix == ".txt"}
    assert {"tasks/lexicon/SCOWL-COPYRIGHT.txt", *(f"tasks/lexicon/words{n}.txt" for n in LENGTHS)} <= data
    assert all(any(fnmatch.fnmatch(f, g) for g in globs) for f in data)


DAMAGE = {
    "cut short": lambda data: data[: len(data) // 2],
    "a byte not a-z": lambda data: data.replace(b"a", b"\xe9", 1),
    "out of order": lambda data: b"\n".join(reversed(data.split(b"\n")[:-1])) + b"\n",
    "a word twice": lambda data: data + data.split(b"\n")[0] + b"\n",
    "CRLF line ends": lambda data: data.replace(b"\n", b"\r\n"),
    "empty": lambda data: b"",
}


@pytest.mark.parametrize("kind", [*DAMAGE, "missing", "a folder"])
def test_a_damaged_lexicon_is_one_line_before_anything_is_written(kind, tmp_path, monkeypatch, capsys):
    """An installed lexicon file damaged in place: `twoclocks run task=words` names the file in
    one line, exit 1, no run directory."""
    import twoclocks.tasks.lexicon as lexicon

    damaged = tmp_path / "lexicon"
    damaged.mkdir()
    target = lexicon_file(5, damaged)
    if kind == "a folder":
        target.mkdir()
    elif kind != "missing":
        target.write_bytes(DAMAGE[kind](lexicon_file(5).read_bytes()))
    monkeypatch.setattr(lexicon, "lexicon_file", lambda length, folder=damaged: folder / f"words{length}.txt")
    lexicon.load_words.cache_clear()
    try:
        code = cli_main(["run", *TINY, "task=words", "task.length=5", "--out", str(tmp_path / "r"), "--quiet"])
    finally:
        lexicon.load_words.cache_clear()
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and str(target) in err and "Traceback" not in err, err
    assert not (tmp_path / "r").exists()
