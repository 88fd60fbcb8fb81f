"""The IDX format of MNIST and Fashion-MNIST: a header, then one array in big-endian order.

Header: two zero bytes, a type code (0x08 unsigned byte, 0x09 signed byte, 0x0B int16,
0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions d, then d big-endian uint32
sizes. The data follows, exactly prod(sizes) items. A file may be gzip-compressed (`.gz`, or
any file that starts with gzip's magic bytes). Every way a file can be damaged (a wrong
magic, a truncated header or body, trailing bytes, a broken gzip stream) is one line naming
the file.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from twoclocks.core.io import read_bytes
from twoclocks.errors import TwoClocksError

GZIP_MAGIC = b"\x1f\x8b"
TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(data: bytes, name: str = "IDX data") -> np.ndarray:
    """The array an IDX file holds, in native byte order; damage is a one-line TwoClocksError."""
    if len(data) < 4:
        raise TwoClocksError(f"{name} is truncated ({len(data)} bytes: not even an IDX header)")
    zero, code, ndim = data[:2], data[2], data[3]
    if zero != b"\x00\x00" or code not in TYPES or ndim == 0:
        raise TwoClocksError(f"{name} is not an IDX file (its magic number is 0x{data[:4].hex()})")
    start = 4 + 4 * ndim
    if len(data) < start:
        raise TwoClocksError(f"{name} is truncated (its header names {ndim} sizes)")
    shape = struct.unpack(f">{ndim}I", data[4:start])
    dtype = np.dtype(TYPES[code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    body = len(data) - start
    if body != expected:
        problem = "truncated" if body < expected else "longer than its header says"
        raise TwoClocksError(f"{name} is {problem} ({body} bytes of data, {shape} needs {expected})")
    array = np.frombuffer(data, dtype=dtype, offset=start).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array of an IDX file, gzip-compressed or not."""
    data = read_bytes(path)
    if data[:2] == GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise TwoClocksError(f"{path} is a damaged gzip file ({exc})") from None
    return parse_idx(data, str(path))


def idx_bytes(array: np.ndarray) -> bytes:
    """An array as the bytes of an IDX file (the inverse of `parse_idx`; tests write small ones)."""
    codes = {np.dtype(v).newbyteorder("="): k for k, v in TYPES.items()}
    native = np.dtype(array.dtype).newbyteorder("=")
    if native not in codes:
        raise TwoClocksError(f"IDX cannot hold {array.dtype} arrays")
    header = bytes([0, 0, codes[native], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=TYPES[codes[native]]).tobytes()


def find_file(root: Path, stems: tuple[str, ...]) -> Path | None:
    """The first of `stem` and `stem.gz` for each stem that exists in `root`, or None."""
    for stem in stems:
        for name in (stem, stem + ".gz"):
            if (root / name).is_file():
                return root / name
    return None
