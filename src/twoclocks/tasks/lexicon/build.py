"""Rebuild the shipped lexicon of the `words` task from SCOWL, byte for byte.

    python -m twoclocks.tasks.lexicon.build --source /usr/share/dict/scowl [--out DIR] [--check]

The source is SCOWL's `final/` folder (Debian and Ubuntu install it as /usr/share/dict/scowl
with the `scowl` package). The lexicon is the union of SCOWL's English and American word
lists up to size 50 (SCOWL's "medium" size): the words of Debian's `wamerican` list without
its proper names, upper-case words, abbreviations, contractions, spelling variants, hacker
jargon and Roman numerals. Of those lines, the ones that are L lower-case
letters a-z and nothing else (no capital, apostrophe, hyphen or accent) make words<L>.txt.
`--check` compares with the files in --out instead of writing them (exit 1 on a difference).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from twoclocks.core.io import read_bytes, write_bytes
from twoclocks.errors import TwoClocksError
from twoclocks.tasks.lexicon import HERE, LENGTHS, file_bytes, lexicon_file

CATEGORIES = ("english-words", "american-words")  # SCOWL's spelling categories of en_US words
SIZES = (10, 20, 35, 40, 50)  # SCOWL's sizes up to 50 (each file holds the words new at its size)


def source_files(source: Path) -> list[Path]:
    return [source / f"{category}.{size}" for category in CATEGORIES for size in SIZES]


def build(source: Path) -> dict[int, bytes]:
    """{L: the bytes of words<L>.txt} from the SCOWL lists in `source`. Lines are matched as
    bytes, so the lists' own encoding (Latin-1 or UTF-8 by release) cannot change the result."""
    lines: set[bytes] = set()
    for path in source_files(source):
        lines.update(read_bytes(path).splitlines())
    out = {}
    for length in LENGTHS:
        pattern = re.compile(rb"[a-z]{%d}" % length)
        out[length] = file_bytes([w.decode("ascii") for w in lines if pattern.fullmatch(w)])
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m twoclocks.tasks.lexicon.build", description=__doc__.split("\n")[0])
    p.add_argument("--source", type=Path, required=True, help="SCOWL's final/ folder, e.g. /usr/share/dict/scowl")
    p.add_argument("--out", type=Path, default=HERE, help="folder of the words<L>.txt files (default: the package's)")
    p.add_argument("--check", action="store_true", help="compare with the files in --out instead of writing them")
    args = p.parse_args(argv)
    try:
        files = build(args.source)
        differ = []
        for length, data in files.items():
            path = lexicon_file(length, args.out)
            if args.check:
                same = path.is_file() and read_bytes(path) == data
                differ += [] if same else [path.name]
            else:
                write_bytes(path, data)
            print(f"{path}: {len(data.splitlines())} words of {length} letters")
    except TwoClocksError as exc:
        print(f"build: error: {exc}", file=sys.stderr)
        return 1
    if differ:
        print(f"build: differs from the shipped lexicon: {', '.join(differ)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
