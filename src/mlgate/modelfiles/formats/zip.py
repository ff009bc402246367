"""Zips: PyTorch's zip format, NumPy's `.npz`, Keras' `.keras`, and a plain `.zip` holding
models. Members are read as PyTorch reads them (no CRC check; located through the central
directory when the local header disagrees), by content first (an npz member with the npy
magic is an array whatever its name), then by name, then any other member whose bytes
parse as a pickle or a model container. Bounded: member count (read from the end of
central directory before zipfile parses it), uncompressed bytes, nesting depth."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, ClassVar

from mlgate.findings import Severity
from mlgate.modelfiles.errors import LimitReached
from mlgate.modelfiles.formats.base import SNIFF, Engine, ModelFormat, Sniffed, suffix
from mlgate.modelfiles.formats.joblib import JoblibFormat
from mlgate.modelfiles.formats.keras import MAX_JSON_BYTES, report_keras
from mlgate.modelfiles.formats.numpy import NPY_MAGIC, scan_npy
from mlgate.modelfiles.formats.pickle import PICKLE_EXTS, PICKLE_FAMILY, TORCH_EXTS
from mlgate.modelfiles.pickle_streams import scan_pickle_stream
from mlgate.modelfiles.pickle_vm import ByteSource
from mlgate.modelfiles.records import MB, RULE_UNPARSEABLE, Where
from mlgate.modelfiles.streams import CHUNK, Limited, Prefixed, raw_member, read_exact

MAX_NESTING = 2  # a model archive inside a model archive, no deeper
ZIP_EXTS = frozenset({".zip"})
_NESTED_EXTS = TORCH_EXTS | ZIP_EXTS | {".npz", ".keras"}
_JOBLIB = JoblibFormat()


def zip_entry_count(fh: IO[bytes]) -> int | None:
    """The member count from a zip's end-of-central-directory record, read before zipfile
    parses the directory (so a zip claiming millions of members is refused cheaply)."""
    fh.seek(0, io.SEEK_END)
    size = fh.tell()
    tail_size = min(size, 65_557)
    fh.seek(size - tail_size)
    tail = fh.read(tail_size)
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or len(tail) - pos < 22:
        return None
    count = int.from_bytes(tail[pos + 10 : pos + 12], "little")
    if count != 0xFFFF or pos < 20 or tail[pos - 20 : pos - 16] != b"PK\x06\x07":
        return count
    fh.seek(int.from_bytes(tail[pos - 12 : pos - 4], "little"))
    record = fh.read(56)
    if not record.startswith(b"PK\x06\x06"):
        return count
    return int.from_bytes(record[32:40], "little")


def _is_torch_zip(names: Sequence[str]) -> bool:
    return any(n.endswith("/data.pkl") or n == "data.pkl" for n in names)


def _zip_format(ext: str, names: Sequence[str]) -> str:
    if ext == ".keras":
        return "keras"
    if ext == ".npz":
        return "numpy-npz"
    return "pytorch-zip" if _is_torch_zip(names) else "zip"


def _member_kind(name: str, keras: bool) -> str | None:
    """How a zip member is scanned, by name: pickle, npy, nested, keras-config, or not."""
    ext = suffix(name)
    if keras and name == "config.json":
        return "keras-config"
    if ext in PICKLE_EXTS:
        return "pickle"
    if ext == ".npy":
        return "npy"
    if ext in _NESTED_EXTS:
        return "nested"
    return None


def _content_member_kind(engine: Engine, head: bytes, size: int) -> str | None:
    kind = engine.sniff(head, size, fast=False)
    if kind in ("zip", "tar") or _JOBLIB.selects(kind, head):
        return "nested"
    return "pickle" if kind == "pickle" else None


class ZipFormat(ModelFormat):
    name = "zip"
    kinds: ClassVar[frozenset[str]] = frozenset({"zip"})
    extensions: ClassVar[frozenset[str]] = ZIP_EXTS
    strict = False  # a plain .zip need not hold a model

    def recognise(self, head: bytes, size: int | None, fast: bool) -> str | None:
        return "zip" if head.startswith((b"PK\x03\x04", b"PK\x05\x06")) else None

    def scan(
        self, engine: Engine, fh: IO[bytes], where: Where, file: Sniffed, path: Path | None
    ) -> None:
        count = zip_entry_count(fh)
        fh.seek(0)
        if count is not None and count > engine.budget.members_left:
            engine.limit(where, f"it has {count} members, more than max_archive_members allows")
            return
        with zipfile.ZipFile(fh) as archive:
            infos = archive.infolist()
            names = [i.filename for i in infos]
            engine.scan.format(_zip_format(file.ext, names))
            keras = file.ext == ".keras" or ("config.json" in names and "metadata.json" in names)
            for info in infos:
                _zip_member(engine, archive, fh, info, where, keras)


def _zip_member(
    engine: Engine,
    archive: zipfile.ZipFile,
    fh: IO[bytes],
    info: zipfile.ZipInfo,
    where: Where,
    keras: bool,
) -> None:
    engine.budget.spend_member(engine.settings.max_archive_members)
    if info.is_dir():
        return
    inner = where.inside(info.filename)
    try:
        _scan_member(engine, archive, fh, info, inner, _member_kind(info.filename, keras))
    except LimitReached as exc:
        engine.limit(inner, str(exc))
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError) as exc:
        message = f"could not be read: {type(exc).__name__}: {exc}"
        engine.scan.add(inner, RULE_UNPARSEABLE, Severity.MEDIUM, message, "unreadable")


def _scan_member(
    engine: Engine,
    archive: zipfile.ZipFile,
    fh: IO[bytes],
    info: zipfile.ZipInfo,
    where: Where,
    named: str | None,
) -> None:
    """A member by content first (np.load reads any npz member that starts with the npy
    magic as an array, whatever its name), then by name, then any other member whose bytes
    parse as a pickle or a model container (reported as found by content)."""
    with contextlib.ExitStack() as stack:
        raw = _open_member(engine, archive, fh, info, where, stack)
        stream = Limited(raw, engine.budget, "the archive")
        head = read_exact(stream, SNIFF)
        kind = "npy" if head.startswith(NPY_MAGIC) else named
        if kind is None:
            kind = _content_member_kind(engine, head, info.file_size)
            where = where.by_content()
        data = Prefixed(head, stream)
        if kind == "pickle":
            scan_pickle_stream(engine.scan, where, data)
        elif kind == "npy":
            scan_npy(engine.scan, where, data)
        elif kind == "keras-config":
            _keras_config(engine, data, where)
        elif kind == "nested":
            _nested(engine, data, where, info.filename)


def _open_member(
    engine: Engine,
    archive: zipfile.ZipFile,
    fh: IO[bytes],
    info: zipfile.ZipInfo,
    where: Where,
    stack: contextlib.ExitStack,
) -> ByteSource:
    """The member's bytes as PyTorch's reader gets them: its CRC is not checked (a bad CRC
    would stop zipfile at the last read, before the payload is seen); when zipfile refuses
    the local header (a name that differs from the central directory's, an encryption
    flag), the bytes are located through the central directory."""
    try:
        member = stack.enter_context(archive.open(info))
        member._expected_crc = None  # type: ignore[attr-defined]  # CPython: no CRC check
        return member
    except (zipfile.BadZipFile, RuntimeError) as exc:
        message = (
            f"zip headers disagree ({exc}): a known way to hide a member from scanners; "
            "it was read the way PyTorch reads it"
        )
        engine.scan.add(where, RULE_UNPARSEABLE, Severity.MEDIUM, message, "zip-header")
        return raw_member(fh, info)


def _keras_config(engine: Engine, stream: ByteSource, where: Where) -> None:
    data = read_exact(stream, MAX_JSON_BYTES)
    try:
        config = json.loads(data)
    except ValueError:
        engine.scan.add(where, RULE_UNPARSEABLE, Severity.LOW, "config.json is not JSON", "json")
        return
    report_keras(engine.scan, where, config)


def _nested(engine: Engine, stream: ByteSource, where: Where, name: str) -> None:
    """A model archive or pickle inside the archive: spooled (to disk past 16 MB, within
    the budget already spent on it), then scanned as a file of its own."""
    with tempfile.SpooledTemporaryFile(max_size=16 * MB) as spool:
        while chunk := stream.read(CHUNK):
            spool.write(chunk)
        spool.seek(0)
        head = spool.read(SNIFF)
        size = spool.tell() if len(head) < SNIFF else spool.seek(0, io.SEEK_END)
        spool.seek(0)
        kind = engine.sniff(head, size)
        if kind == "zip" and where.depth >= MAX_NESTING:
            engine.limit(where, f"archives nested deeper than {MAX_NESTING} levels")
        elif kind is not None or suffix(name) in PICKLE_FAMILY:
            engine.scan_stream(spool, where, name, None)
