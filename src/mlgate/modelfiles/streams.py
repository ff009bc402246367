"""Byte streams the scanners read through: bounded (uncompressed bytes, compression ratio,
archive members), decompressing zlib as it goes, windows onto a file, and zip members read
the way PyTorch reads them. None of them keeps more than a chunk."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO

from mlgate.modelfiles.errors import LimitReached
from mlgate.modelfiles.pickle_vm import ByteSource
from mlgate.modelfiles.records import MB

CHUNK = 1 << 20
MAX_RATIO = 1100  # zlib cannot exceed ~1032:1; beyond this a stream is a bomb
RATIO_FLOOR = 64 * MB  # the ratio is only checked past this many output bytes


@dataclass
class Budget:
    """What one top-level file may still cost: uncompressed bytes and archive members."""

    bytes_left: int
    members_left: int

    def spend_member(self, limit: int) -> None:
        if self.members_left <= 0:
            raise LimitReached(f"more than {limit} archive members")
        self.members_left -= 1


def read_exact(source: ByteSource, size: int) -> bytes:
    """Up to `size` bytes (fewer only at the end of the stream)."""
    data = b""
    while len(data) < size:
        chunk = source.read(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def size_of(fh: IO[bytes]) -> int:
    """A seekable file's size; leaves it at its start."""
    size = fh.seek(0, io.SEEK_END)
    fh.seek(0)
    return size


class Counting:
    """Counts the bytes read from a (compressed) stream."""

    def __init__(self, inner: ByteSource) -> None:
        self._inner = inner
        self.count = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._inner.read(size)
        self.count += len(data)
        return data


class Limited:
    """A stream that stops with LimitReached once the budget's bytes are spent, or (with
    the compressed input counted) once it inflates beyond MAX_RATIO."""

    def __init__(
        self, inner: ByteSource, budget: Budget, what: str, source: Counting | None = None
    ) -> None:
        self._inner = inner
        self._budget = budget
        self._what = what
        self._source = source
        self._out = 0

    def read(self, size: int = -1, /) -> bytes:
        want = CHUNK if size is None or size < 0 else size
        data = self._inner.read(min(want, max(self._budget.bytes_left, 0) + 1))
        self._budget.bytes_left -= len(data)
        self._out += len(data)
        if self._budget.bytes_left < 0:
            raise LimitReached(f"{self._what} exceeds max_archive_mb (uncompressed)")
        source = self._source
        if source is not None and self._out > RATIO_FLOOR and self._out > MAX_RATIO * source.count:
            raise LimitReached(f"{self._what} inflates more than {MAX_RATIO}:1")
        return data


class ZlibStream:
    """A zlib stream (joblib's `compress=True`; raw deflate with wbits=-15), decompressed as
    it is read."""

    def __init__(self, inner: ByteSource, wbits: int = zlib.MAX_WBITS) -> None:
        self._inner = inner
        self._zlib = zlib.decompressobj(wbits)
        self._pending = b""

    def read(self, size: int = -1, /) -> bytes:
        want = CHUNK if size < 0 else size
        while len(self._pending) < want and not self._zlib.eof:
            raw = self._zlib.unconsumed_tail or self._inner.read(CHUNK)
            if not raw:
                break
            self._pending += self._zlib.decompress(raw, CHUNK)  # at most CHUNK out per step
        data, self._pending = self._pending[:want], self._pending[want:]
        return data


class Window:
    """At most `size` bytes of a stream, from where it stands."""

    def __init__(self, inner: IO[bytes], size: int) -> None:
        self._inner = inner
        self._left = size

    def read(self, size: int = -1, /) -> bytes:
        want = self._left if size < 0 else min(size, self._left)
        data = self._inner.read(want)
        self._left -= len(data)
        return data


class Prefixed:
    """Some bytes already read, then the rest of a stream."""

    def __init__(self, first: bytes, inner: ByteSource) -> None:
        self._first = first
        self._inner = inner

    def read(self, size: int = -1, /) -> bytes:
        if not self._first:
            return self._inner.read(size)
        cut = len(self._first) if size < 0 else size
        data, self._first = self._first[:cut], self._first[cut:]
        return data


def raw_member(fh: IO[bytes], info: zipfile.ZipInfo) -> ByteSource:
    """A zip member read as PyTorch's reader reads it: located through the central directory,
    whatever the local header's name or flags say, then inflated."""
    fh.seek(info.header_offset)
    header = fh.read(30)
    if len(header) < 30 or not header.startswith(b"PK\x03\x04"):
        raise zipfile.BadZipFile("no local file header where the central directory points")
    name_size, extra_size = struct.unpack("<HH", header[26:30])
    fh.seek(info.header_offset + 30 + name_size + extra_size)
    window = Window(fh, info.compress_size)
    if info.compress_type == zipfile.ZIP_STORED:
        return window
    if info.compress_type == zipfile.ZIP_DEFLATED:
        return ZlibStream(window, -zlib.MAX_WBITS)
    raise NotImplementedError(f"compression method {info.compress_type}")
