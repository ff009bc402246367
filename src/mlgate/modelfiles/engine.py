"""The engine: one file in, one `FileReport` out. It recognises each file (and each archive
member) by content first, name second, hands it to its format's scanner through the
registry (`formats.reader_of`), and keeps one budget per top-level file. Nothing is ever
imported, unpickled, loaded or rendered."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path
from typing import IO

from mlgate.findings import Severity
from mlgate.modelfiles.errors import LimitReached, ScanTimeout
from mlgate.modelfiles.formats import index, reader_of
from mlgate.modelfiles.formats import selects as selects_content
from mlgate.modelfiles.formats import sniff as sniff_head
from mlgate.modelfiles.formats.base import SNIFF, basename, sniffed, suffix
from mlgate.modelfiles.formats.pickle import PICKLE_FAMILY
from mlgate.modelfiles.records import (
    RULE_LIMIT,
    RULE_UNPARSEABLE,
    FileReport,
    Scan,
    ScanSettings,
    Where,
)
from mlgate.modelfiles.streams import Budget


class Engine:
    """Scans one top-level file, descending into archives within the budget."""

    def __init__(self, scan: Scan, budget: Budget) -> None:
        self.scan = scan
        self.budget = budget
        self.settings = scan.settings

    def sniff(self, head: bytes, size: int | None, fast: bool = True) -> str | None:
        return sniff_head(head, size, fast)

    def scan_stream(self, fh: IO[bytes], where: Where, name: str, path: Path | None) -> None:
        head = fh.read(SNIFF)
        size = fh.seek(0, io.SEEK_END)
        fh.seek(0)
        file = sniffed(self.sniff(head, size), head, name, where)
        model_format = reader_of(file)
        if model_format is None:
            self.scan.note(where, "not a pickle, zip, tar or HDF5 file: skipped (raw weights?)")
            return
        model_format.scan(self, fh, where, file, path)

    def limit(self, where: Where, reason: str) -> None:
        if not where.strict:
            self.scan.note(where, f"not scanned: {reason}")
            return
        message = f"not fully scanned: {reason} (a zip bomb, or raise the models limits)"
        self.scan.add(where, RULE_LIMIT, Severity.MEDIUM, message, "limit")


def scan_file(root: Path, rel: str, settings: ScanSettings) -> FileReport:
    """Scan one repository file. Never raises for the file's content (only ScanTimeout)."""
    scan = Scan(rel, settings)
    path = root / rel
    ext = suffix(rel)
    where = Where(rel, strict=ext in index().strict_extensions)
    budget = Budget(settings.max_archive_bytes, settings.max_archive_members)
    try:
        if path.stat().st_size == 0:
            scan.note(where, "empty file: skipped")
            return scan.report()
        with path.open("rb") as fh:
            Engine(scan, budget).scan_stream(fh, where, rel, path)
    except ScanTimeout:
        raise
    except LimitReached as exc:
        Engine(scan, budget).limit(where, str(exc))
    except Exception as exc:  # a file's content must never crash the gate
        message = f"could not be scanned: {type(exc).__name__}: {exc}"
        severity = Severity.MEDIUM if where.strict else Severity.LOW
        scan.add(where, RULE_UNPARSEABLE, severity, message, "unreadable")
    if ext in PICKLE_FAMILY and not scan.formats:
        scan.pickle_based = True
    return scan.report()


def is_model_file(root: Path, rel: str) -> bool:
    """Whether a repository file is one the engine scans: a model extension or file name,
    or content a model loader reads (a pickle stream of any protocol and first opcode, a
    joblib-compressed pickle, a NumPy array, a zip, tar or HDF5 container, a GGUF model)."""
    names = index()
    return (
        suffix(rel) in names.extensions
        or basename(rel) in names.filenames
        or _is_model_content(os.path.join(root, rel))
    )


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


def _is_model_content(path: str) -> bool:
    """One lstat and one read of the head: a repository has thousands of files to sniff."""
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode):
            return False
        fd = os.open(path, _READ_FLAGS)
        try:
            head = os.read(fd, SNIFF)
        finally:
            os.close(fd)
    except OSError:
        return False
    return selects_content(sniff_head(head, info.st_size), head)
