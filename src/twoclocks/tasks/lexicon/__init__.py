"""The English lexicon of the `words` task, shipped with the package: one file per word length,
`words<L>.txt`, the words of L lower-case letters a-z, one per line, sorted, LF line ends.

Derived from SCOWL (Spell Checker Oriented Word Lists, Kevin Atkinson; a permissive licence:
docs/tasks.md, "words") by `python -m twoclocks.tasks.lexicon.build`, which rebuilds these files
byte for byte from the SCOWL lists. Nothing is downloaded at run time.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from twoclocks.core.io import read_bytes
from twoclocks.errors import TwoClocksError

HERE = Path(__file__).resolve().parent
# Words per shipped length: every length the task offers, and what a shipped file must hold.
COUNTS = {4: 2302, 5: 4442, 6: 7030, 7: 9600, 8: 10137}
LENGTHS = tuple(COUNTS)


def lexicon_file(length: int, folder: Path = HERE) -> Path:
    return folder / f"words{length}.txt"


def file_bytes(words: list[str]) -> bytes:
    """The one byte form of a word list: sorted, one word per line, LF after each."""
    return "".join(w + "\n" for w in sorted(words)).encode("ascii")


@cache
def load_words(length: int) -> tuple[str, ...]:
    """The shipped words of `length` letters, sorted; a file that is missing or does not hold
    COUNTS[length] distinct words of a-z is a one-line TwoClocksError."""
    path = lexicon_file(length)
    words = read_bytes(path).decode("ascii", errors="replace").split("\n")
    if words and words[-1] == "":
        words.pop()
    pattern = re.compile(f"[a-z]{{{length}}}")
    good = all(pattern.fullmatch(w) for w in words) and list(words) == sorted(set(words))
    if not good or len(words) != COUNTS[length]:
        raise TwoClocksError(
            f"{path} is corrupt (expected {COUNTS[length]} sorted distinct words of {length} letters a-z); "
            f"reinstall twoclocks"
        )
    return tuple(words)
