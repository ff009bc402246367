"""What a model format is to the engine: the `ModelFormat` interface every module of
`mlgate.modelfiles.formats` implements, and the `Engine` it may call back into.

A format declares what it recognises (`kinds` its `recognise` names from a file's first
bytes, the `extensions` and `filenames` that select a file as a model) and when it reads
a file: `reads_content` (the content sniffed as one of its kinds) or, when no format
claimed the content, `reads_name`. `scan` then writes what it finds into the engine's
`Scan`. Nothing here imports or unpickles what it reads.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, ClassVar, Protocol

from mlgate.findings import Severity
from mlgate.modelfiles.records import RULE_UNPARSEABLE, Scan, ScanSettings, Where
from mlgate.modelfiles.streams import Budget

SNIFF = 8192  # the first bytes read to recognise a format


@dataclass(frozen=True)
class Sniffed:
    """A file or archive member as the dispatcher sees it: what its first bytes are (`kind`,
    None when no format recognised them), its first bytes, and its names."""

    kind: str | None
    head: bytes
    ext: str  # its extension, lower case
    base: str  # its file name


def unreadable(scan: Scan, where: Where, what: str, exc: Exception) -> None:
    """A protobuf or GGUF file that does not parse: low (loading it runs no code)."""
    scan.add(where, RULE_UNPARSEABLE, Severity.LOW, f"not a valid {what}: {exc}", what)


def suffix(name: str) -> str:
    """`PurePosixPath(name).suffix.lower()` without building a path (asked for every file)."""
    base = basename(name)
    dot = base.rfind(".")
    return base[dot:].lower() if 0 < dot < len(base) - 1 else ""


def basename(name: str) -> str:
    """`PurePosixPath(name).name` for a repository-relative path, without building a path."""
    base = name.rpartition("/")[2]
    return base if base not in ("", ".") else PurePosixPath(name).name


def sniffed(kind: str | None, head: bytes, name: str, where: Where) -> Sniffed:
    return Sniffed(kind, head, suffix(name), PurePosixPath(where.member or where.path).name)


class Engine(Protocol):
    """What a format's scanner may use: the file's accumulator, budget and settings, and
    the engine itself for what it finds nested inside."""

    scan: Scan
    budget: Budget
    settings: ScanSettings

    def scan_stream(self, fh: IO[bytes], where: Where, name: str, path: Path | None) -> None: ...

    def limit(self, where: Where, reason: str) -> None: ...

    def sniff(self, head: bytes, size: int | None, fast: bool = True) -> str | None: ...


class ModelFormat(ABC):
    """One format family. Subclasses declare; the registry (`formats.FORMATS`) dispatches."""

    name: ClassVar[str]  # the registry key
    kinds: ClassVar[frozenset[str]] = frozenset()  # what `recognise` may name
    extensions: ClassVar[frozenset[str]] = frozenset()  # names that select a model file
    filenames: ClassVar[frozenset[str]] = frozenset()
    # A file selected by one of its extensions that does not parse is a medium finding (low
    # for a file selected by content, or with an extension of a plain container: `.zip`).
    strict: ClassVar[bool] = True
    # Whether its names alone make it read a file whose content no format claimed (formats
    # without magic); a format recognised by content reads only what it recognises.
    by_name: ClassVar[bool] = False

    def recognise(self, head: bytes, size: int | None, fast: bool) -> str | None:
        """The kind these first bytes are (`size`: the whole file's, when known), or None."""
        return None

    def selects(self, kind: str | None, head: bytes) -> bool:
        """Whether content sniffed as `kind` makes a file a model file, whatever its name."""
        return kind in self.kinds

    def reads_content(self, file: Sniffed) -> bool:
        """Whether this format reads a file whose content sniffed as one of its kinds."""
        return file.kind in self.kinds

    def reads_name(self, file: Sniffed) -> bool:
        """Whether this format reads, by its name, a file whose content no format claimed."""
        return self.by_name and (file.ext in self.extensions or file.base in self.filenames)

    @abstractmethod
    def scan(
        self, engine: Engine, fh: IO[bytes], where: Where, file: Sniffed, path: Path | None
    ) -> None:
        """Read the file (seekable, at its start) and record what it holds."""
