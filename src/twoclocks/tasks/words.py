"""English words of L letters: an item is a row of L letters (cell value 0 = a ... 25 = z), and
it is valid when it is a word of the shipped lexicon (`twoclocks.tasks.lexicon`, from SCOWL).

L (`task.length`, 4..8) is the knob. The population is the lexicon itself, enumerable and
exact, and the sampler draws uniformly from it. The constraints are local: each adjacent pair
of letters (positions j, j+1) must occur at those positions in some word of the lexicon, so
`constraint_acc` measures "locally plausible" and rises before `valid`, "a real word" (a
row whose every bigram is plausible need not be a word: validity is NOT every constraint).
Near copies are counted exactly: Hamming balls differ from word to word in a lexicon, so the
chance level averages the exact count over every word.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from twoclocks.core.domains import closed, setting
from twoclocks.tasks.base import Task
from twoclocks.tasks.lexicon import COUNTS, LENGTHS, load_words

LETTERS = 26
BALL_CHUNK = 512  # words per block of the pairwise distances (L=8: 512 x 10,137 x 8 bytes = 41 MB)


# The shipped lengths are one run of integers (lexicon.COUNTS), so an interval names them all.
LENGTH = closed(min(LENGTHS), max(LENGTHS), "the word lengths with a shipped lexicon")


@dataclass
class WordsParams:
    length: int = setting(5, domain=LENGTH)  # letters per word


class Words(Task):
    name = "words"
    kind = "natural"
    knob = "length"
    Params = WordsParams
    # A 1 x L row has no 2 x 2 patch. N = 32 puts tau_mem of the default DiT (~1,500 steps) well
    # inside the default 4,000 steps, with novel words made on the way (docs/tasks.md, "words").
    run_defaults: ClassVar[dict[str, Any]] = {"model.patch": 1, "data.N": 32}

    @property
    def shape(self) -> tuple[int, int]:
        return (1, self.params.length)

    @property
    def num_values(self) -> int:
        return LETTERS

    @property
    def log2_population(self) -> float:
        return math.log2(COUNTS[self.params.length])

    # ----- the lexicon as arrays -------------------------------------------------------------
    @cached_property
    def _words(self) -> np.ndarray:
        """uint8 (P, L): every word's letters, in the lexicon's (alphabetical) order."""
        text = "".join(load_words(self.params.length)).encode("ascii")
        return (np.frombuffer(text, np.uint8).reshape(-1, self.params.length) - ord("a")).astype(np.uint8)

    @cached_property
    def _codes(self) -> np.ndarray:
        """int64 (P,): each word as a base-26 number, increasing (alphabetical order)."""
        return self.codes(self._words[:, None, :])

    @cached_property
    def _bigrams(self) -> np.ndarray:
        """bool (L-1, 26, 26): whether letters (a, b) stand at positions (j, j+1) of some word."""
        w = self._words.astype(np.int64)
        table = np.zeros((self.params.length - 1, LETTERS, LETTERS), dtype=bool)
        j = np.arange(self.params.length - 1)
        table[j[None, :], w[:, :-1], w[:, 1:]] = True
        return table

    def codes(self, cells: np.ndarray) -> np.ndarray:
        """uint8 (n, 1, L) -> int64 (n,) base-26 numbers of the rows; -1 where a cell is not a letter."""
        c = np.asarray(cells, dtype=np.int64).reshape(len(cells), self.params.length)
        weights = LETTERS ** np.arange(self.params.length - 1, -1, -1, dtype=np.int64)
        return np.where((c < LETTERS).all(axis=1), c @ weights, -1)

    # ----- the rule ----------------------------------------------------------------------------
    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Uniform over the lexicon: uint8 (n, 1, L)."""
        return self._words[rng.integers(0, len(self._words), size=n)][:, None, :]

    def is_valid(self, cells: np.ndarray) -> np.ndarray:
        """Whether each row is a word of the lexicon: bool (n,)."""
        codes = self.codes(cells)
        pos = np.minimum(np.searchsorted(self._codes, codes), len(self._codes) - 1)
        return self._codes[pos] == codes

    def constraints(self, cells: np.ndarray) -> np.ndarray:
        """Whether the letters at (j, j+1) occur there in some word, j = 0..L-2: bool (n, L-1)."""
        c = np.asarray(cells, dtype=np.int64).reshape(len(cells), self.params.length)
        letters = c < LETTERS
        c = np.minimum(c, LETTERS - 1)
        j = np.arange(self.params.length - 1)
        return self._bigrams[j[None, :], c[:, :-1], c[:, 1:]] & letters[:, :-1] & letters[:, 1:]

    def enumerate(self) -> np.ndarray | None:
        """Every word, uint8 (P, 1, L), alphabetical."""
        return self._words[:, None, :].copy()

    def as_text(self, cells: np.ndarray) -> list[str]:
        """Each row as its letters ('?' for a cell that is not one)."""
        c = np.asarray(cells, dtype=np.int64).reshape(len(cells), self.params.length)
        chars = np.where(c < LETTERS, c + ord("a"), ord("?")).astype(np.uint8)
        return [row.tobytes().decode("ascii") for row in chars]

    # ----- near copies -------------------------------------------------------------------------
    def ball_sizes(self, d: int) -> np.ndarray:
        """int64 (P,): how many words lie within Hamming distance d (letters) of each word,
        itself included; computed once per d."""
        cache: dict[int, np.ndarray] = self.__dict__.setdefault("_balls", {})
        if d not in cache:
            cache[d] = self._ball_of_one() if d == 1 else self._ball_by_pairs(d)
        return cache[d]

    def _ball_of_one(self) -> np.ndarray:
        """ball_sizes(1) in O(L P log P): the words one letter away from x, at position j, are the
        other words that agree with x everywhere but j, i.e. share x's code with letter j removed."""
        w, codes, L = self._words.astype(np.int64), self._codes, self.params.length
        sizes = np.ones(len(w), dtype=np.int64)
        for j in range(L):
            without_j = codes - w[:, j] * LETTERS ** (L - 1 - j)
            _, inverse, counts = np.unique(without_j, return_inverse=True, return_counts=True)
            sizes += counts[inverse.reshape(-1)] - 1
        return sizes

    def _ball_by_pairs(self, d: int) -> np.ndarray:
        """ball_sizes(d) from every pairwise distance, in blocks of BALL_CHUNK words."""
        w = self._words
        sizes = [
            ((w[s : s + BALL_CHUNK, None, :] != w[None, :, :]).sum(axis=2) <= d).sum(axis=1)
            for s in range(0, len(w), BALL_CHUNK)
        ]
        return np.concatenate(sizes).astype(np.int64)

    def near_chance(self, n_train: int, d: int) -> float:
        """Exact: the mean over every word x of 1 - C(P - B_x, n) / C(P, n), B_x = ball_sizes(d)[x]
        (a uniform x and n distinct training words drawn uniformly from the lexicon)."""
        P = len(self._words)
        sizes, counts = np.unique(self.ball_sizes(d), return_counts=True)
        i = np.arange(min(n_train, P), dtype=np.float64)
        hit = [1.0 if b + n_train > P else float(-np.expm1(np.log1p(-b / (P - i)).sum())) for b in sizes]
        return float((counts * np.asarray(hit)).sum() / P)
