"""joblib's compressed pickles, recognised by joblib's own magic bytes whatever the file's
name (joblib/compressor.py picks its decompressor by these prefixes before it tries the
bytes as a pickle): gzip, bz2, xz, lzma, zlib, lz4 and the old `ZF` format. They are
decompressed as they are read, bounded in output (`max_archive_mb`) and in ratio."""

from __future__ import annotations

import bz2
import gzip
import importlib
import importlib.util
import lzma
import zlib
from pathlib import Path
from typing import IO, Any, ClassVar

from mlgate.findings import Severity
from mlgate.modelfiles.formats.base import SNIFF, Engine, ModelFormat, Sniffed
from mlgate.modelfiles.formats.numpy import NUMPY_EXTS
from mlgate.modelfiles.formats.pickle import PICKLE_FAMILY
from mlgate.modelfiles.pickle_streams import scan_pickle_stream
from mlgate.modelfiles.pickle_vm import ByteSource, parses_as_pickle
from mlgate.modelfiles.records import RULE_UNPARSEABLE, Where
from mlgate.modelfiles.streams import Counting, Limited, Prefixed, ZlibStream, read_exact

COMPRESSED = (
    (b"\x1f\x8b", "gzip"),
    (b"BZ", "bz2"),
    (b"\xfd\x37\x7a\x58\x5a", "xz"),
    (b"\x5d\x00", "lzma"),
    (b"\x04\x22\x4d\x18", "lz4"),
    (b"\x78", "zlib"),
)
COMPRESSORS = frozenset(kind for _magic, kind in COMPRESSED)
ZFILE = "zfile"
ZFILE_PREFIX = b"ZF"  # joblib < 0.9.3: "ZF", the length in 19 hex digits, zlib data
ZFILE_HEADER = 2 + 19
UNKNOWN_SIZE = 1 << 62  # the length of a decompressed stream, before it is read


def _is_hex(data: bytes) -> bool:
    text = data.strip()
    return bool(text) and all(c in b"0123456789abcdefABCDEFx" for c in text)


def _decompressed_head(kind: str, head: bytes) -> bytes | None:
    """The first bytes `head` decompresses to (partial data is fine), or None when it is
    not that format. lz4 needs the optional `lz4` package, as joblib does."""
    try:
        if kind == "lz4":
            return _lz4_head(head)
        data: bytes = _decompressor(kind).decompress(head, SNIFF)
        return data
    except (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError, RuntimeError):
        return None


def _decompressor(kind: str) -> Any:
    if kind == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if kind == "bz2":
        return bz2.BZ2Decompressor()
    if kind in ("xz", "lzma"):
        return lzma.LZMADecompressor(lzma.FORMAT_XZ if kind == "xz" else lzma.FORMAT_ALONE)
    return zlib.decompressobj()


def _lz4_head(head: bytes) -> bytes:
    if importlib.util.find_spec("lz4") is None:
        return b""  # the frame magic alone: no other format starts with it
    frame = importlib.import_module("lz4.frame")
    data: bytes = frame.LZ4FrameDecompressor().decompress(head, max_length=SNIFF)
    return data


def compressed_pickle(kind: str, head: bytes) -> bool:
    """Whether a compressed file's content starts like a pickle (lz4 without the lz4
    package: assumed, since it cannot be looked at)."""
    data = _decompressed_head(kind, head)
    if data is None:
        return False
    if kind == "lz4" and not data:
        return True
    return parses_as_pickle(data, UNKNOWN_SIZE)  # how far the stream inflates is unknown


def decompressing(kind: str, fh: Any) -> ByteSource:
    """A stream that decompresses `fh` (anything with a `read`) as joblib does for `kind`."""
    if kind == "gzip":
        return gzip.GzipFile(fileobj=fh, mode="rb")
    if kind == "bz2":
        return bz2.BZ2File(fh, mode="rb")
    if kind in ("xz", "lzma"):
        return lzma.LZMAFile(fh, mode="rb")
    if kind == "lz4":
        frame = importlib.import_module("lz4.frame")
        stream: ByteSource = frame.LZ4FrameFile(fh, mode="rb")
        return stream
    if kind == ZFILE:
        header = read_exact(fh, ZFILE_HEADER + 1)
        inner = Prefixed(header[ZFILE_HEADER:].lstrip(b" "), fh)
        return ZlibStream(inner)
    return ZlibStream(fh)


class JoblibFormat(ModelFormat):
    name = "joblib-compressed"
    kinds: ClassVar[frozenset[str]] = COMPRESSORS | {ZFILE}

    def recognise(self, head: bytes, size: int | None, fast: bool) -> str | None:
        if head.startswith(ZFILE_PREFIX) and _is_hex(head[2:ZFILE_HEADER]):
            return ZFILE
        for magic, kind in COMPRESSED:
            if head.startswith(magic) and _decompressed_head(kind, head) is not None:
                return kind
        return None

    def selects(self, kind: str | None, head: bytes) -> bool:
        """A compressed file is a model when what it inflates to starts like a pickle."""
        return kind == ZFILE or (kind in COMPRESSORS and compressed_pickle(kind, head))

    def reads_content(self, file: Sniffed) -> bool:
        """The `ZF` format always; a compressed stream when it inflates to a pickle or the
        file has a name joblib, torch or numpy would load."""
        if file.kind == ZFILE:
            return True
        named = file.ext in PICKLE_FAMILY | NUMPY_EXTS
        return file.kind in COMPRESSORS and (named or compressed_pickle(file.kind, file.head))

    def scan(
        self, engine: Engine, fh: IO[bytes], where: Where, file: Sniffed, path: Path | None
    ) -> None:
        kind = file.kind or ZFILE  # never None: reads_content claimed it
        engine.scan.format("joblib-compressed")
        if kind == "lz4" and importlib.util.find_spec("lz4") is None:
            engine.scan.pickle_based = True
            message = (
                "lz4-compressed (joblib compress='lz4') and the lz4 package is not installed: "
                "the pickle inside cannot be proven safe"
            )
            engine.scan.add(where, RULE_UNPARSEABLE, Severity.MEDIUM, message, "lz4")
            return
        counted = Counting(fh)
        stream = decompressing(kind, counted)
        limited = Limited(stream, engine.budget, f"{kind} stream", counted)
        scan_pickle_stream(engine.scan, where, limited)
