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
import math
import os
import struct
import zlib
from pathlib import Path
from typing import IO

import numpy as np

import twoclocks.core.memory as memory
from twoclocks.core.io import cause, open_regular
from twoclocks.errors import TwoClocksError

GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 2**20  # bytes read at a time
TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


MAX_DIMS = 32  # numpy's own limit on an array's dimensions is 32 or 64 by version


def parse_header(head: bytes, name: str) -> tuple[np.dtype, tuple[int, ...]]:
    """(dtype, shape) of an IDX header (`head`: at least its first 4 bytes, then its sizes)."""
    if len(head) < 4:
        raise TwoClocksError(f"{name} is truncated ({len(head)} bytes: not even an IDX header)")
    zero, code, ndim = head[:2], head[2], head[3]
    if zero != b"\x00\x00" or code not in TYPES or ndim == 0 or ndim > MAX_DIMS:
        raise TwoClocksError(f"{name} is not an IDX file (its magic number is 0x{head[:4].hex()})")
    if len(head) < 4 + 4 * ndim:
        raise TwoClocksError(f"{name} is truncated (its header names {ndim} sizes)")
    return np.dtype(TYPES[code]), struct.unpack(f">{ndim}I", head[4 : 4 + 4 * ndim])


def declared_bytes(dtype: np.dtype, shape: tuple[int, ...]) -> int:
    """The bytes of data a header declares, an exact Python integer (no int64 wrap-around)."""
    return math.prod(shape) * dtype.itemsize


def parse_idx(data: bytes, name: str = "IDX data") -> np.ndarray:
    """The array an IDX file holds, in native byte order; damage is a one-line TwoClocksError."""
    dtype, shape = parse_header(data[: 4 + 4 * MAX_DIMS], name)
    return idx_array(dtype, shape, memoryview(data)[4 + 4 * len(shape) :], name)


def idx_array(dtype: np.dtype, shape: tuple[int, ...], body: bytes | memoryview, name: str) -> np.ndarray:
    """The array of an IDX body of the declared type and shape, read-only, in native byte
    order: a view of `body` for bytes, one copy for wider types (big-endian on disk)."""
    expected = declared_bytes(dtype, shape)
    if len(body) != expected:
        problem = "truncated" if len(body) < expected else "longer than its header says"
        raise TwoClocksError(f"{name} is {problem} ({len(body)} bytes of data, {shape} needs {expected})")
    array = np.frombuffer(body, dtype=dtype).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array of an IDX file, gzip-compressed or not. The header is read first and the size
    it declares checked against the memory there is, so a small compressed file that declares
    or holds gigabytes is refused before they are allocated; no more than the declared data
    and one byte (to tell trailing bytes) is ever decompressed."""
    with open_regular(path) as raw:
        gzipped = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if gzipped else raw  # type: ignore[assignment]
        try:
            head = stream.read(4)
            head += stream.read(4 * head[3]) if len(head) == 4 else b""
            dtype, shape = parse_header(head, str(path))
            need = declared_bytes(dtype, shape)
            # The data are read into one buffer, and a type wider than a byte is copied once
            # into native order after: twice the data at most.
            memory.check_fits({"its data": 2 * need}, memory.available_ram(), f"reading {path}", "this machine")
            body = read_into_one_buffer(stream, need + 1)
        except (OSError, EOFError, zlib.error) as exc:
            what = "a damaged gzip file" if gzipped else "unreadable"
            raise TwoClocksError(f"{path} is {what} ({cause(exc)})") from None
    return idx_array(dtype, shape, body, str(path))


def read_into_one_buffer(stream: IO[bytes], n: int) -> memoryview:
    """Up to `n` bytes of a stream in one buffer, read a chunk at a time: `stream.read(n)`
    joins the chunks it decompressed, holding the data two or three times over."""
    buf = memoryview(bytearray(n))
    got = 0
    while got < n:
        k = stream.readinto(buf[got : got + CHUNK])  # type: ignore[attr-defined]
        if not k:
            break
        got += k
    return buf[:got]


def idx_bytes(array: np.ndarray) -> bytes:
    """An array as the bytes of an IDX file (the inverse of `parse_idx`; tests write small ones)."""
    codes = {np.dtype(v).newbyteorder("="): k for k, v in TYPES.items()}
    native = np.dtype(array.dtype).newbyteorder("=")
    if native not in codes:
        raise TwoClocksError(f"IDX cannot hold {array.dtype} arrays")
    header = bytes([0, 0, codes[native], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=TYPES[codes[native]]).tobytes()


def find_file(root: Path, stems: tuple[str, ...]) -> Path | None:
    """The first of `stem` and `stem.gz` for each stem that exists in `root`, or None; a name
    that is there but is no regular file (a folder, a FIFO, a link to a device or to nothing)
    is one line saying so, not taken for a missing file."""
    names = [root / name for stem in stems for name in (stem, stem + ".gz")]
    for path in names:
        if path.is_file():
            return path
    for path in names:
        if os.path.lexists(path):
            raise TwoClocksError(f"{path} is not a regular file")
    return None
