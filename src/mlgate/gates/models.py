"""models gate: static scan of model files (pickle, joblib, PyTorch, NumPy, Keras), never loaded.

Files are read as bytes only: no `pickle.load`, `torch.load`, `joblib.load`, no import of
the repo's code. Pickles are walked opcode by opcode by `mlgate.pickles` (streaming, with
bounded memory); every global a pickle imports is checked against an allowlist of known-safe
ML globals. A dangerous global (os.system, eval, subprocess, ...) is critical; one that is
neither known-safe nor known-dangerous is medium, with its name, so a new bypass is still
reported. The policy's `allow_globals` extends the allowlist.

Formats: pickle (any extension, sniffed by its first bytes), joblib (plain or gzip, bz2,
xz, lzma, zlib compressed; raw NumPy data between the opcodes is skipped), PyTorch (zip:
every `.pkl` member; legacy raw-pickle and tar), NumPy `.npy`/`.npz` (object arrays carry a
pickle), Keras (`.h5` model_config via h5py when installed, else a byte search for the
JSON; `.keras` zip config.json): Lambda layers and custom objects from outside Keras.
`.safetensors` (header sanity-checked), `.onnx` and `.gguf` pass. Archives are bounded:
uncompressed bytes read (`max_archive_mb`), member count (`max_archive_members`) and
nesting depth (2).

Engine. Three scanners were evaluated on crafted fixtures (modelscan 0.8.8, picklescan
1.0.5, fickling 0.1.12); none is used:
- modelscan is a denylist: it reported nothing for a pickle importing an unknown
  `mylib.evil.Thing`, nothing for a raw (non-zip) pickle named `.bin` or `.pt`, nothing
  for the globals before the error in a truncated pickle, and failed on `.npy` files
  under NumPy 2 (`numpy.lib.format._check_version` is gone).
- picklescan found all of those, but its allowlist is its own (no policy extension, an
  unknown global is only "suspicious"), it keeps every opcode of a file in memory
  (a 50 MB pickle took about 80 MB more resident memory) and it has no JSON output.
- fickling's CLI cannot read PyTorch zips ("No pickle files detected"), rates every
  non-stdlib import LIKELY_UNSAFE (so every scikit-learn model), reads no `.npy`, and its
  release imported `typing_extensions` without declaring it.
Wrapping any of them would still need our own allowlist semantics on top, so the gate
relies on its own opcode scanner, which is small, stdlib-only and streaming.
"""

from __future__ import annotations

import ast
import base64
import bz2
import contextlib
import gzip
import hashlib
import importlib
import importlib.util
import io
import json
import lzma
import re
import struct
import tarfile
import tempfile
import time
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from mlgate import __version__
from mlgate.findings import Finding, Severity, assign_fingerprints
from mlgate.gates.base import GateContext, GateInputs, GateResult
from mlgate.modelformats import (
    MAX_TEMPLATE,
    TF_CALLS_PYTHON,
    TF_TOUCHES_FILES,
    FormatError,
    Wire,
    escapes,
    keras_metadata_json,
    onnx_external_data,
    read_gguf,
    savedmodel_ops,
    template_issues,
)
from mlgate.pickles import (
    Allowlist,
    ByteSource,
    GlobalRef,
    PickleReport,
    ScanTimeout,
    Verdict,
    base_dtype,
    inventory_versions,
    parses_as_pickle,
    scan_pickles,
)
from mlgate.repo import Repo

NAME = "models"
TOOL = "mlgate"
MB = 1 << 20
HEAD = 512
CHUNK = 1 << 20

PICKLE_EXTS = frozenset({".pkl", ".pickle", ".joblib"})
TORCH_EXTS = frozenset({".pt", ".pth", ".bin", ".ckpt"})
NUMPY_EXTS = frozenset({".npy", ".npz"})
KERAS_EXTS = frozenset({".h5", ".hdf5", ".keras"})
SAFE_EXTS = frozenset({".safetensors", ".onnx", ".gguf"})
ARCHIVE_EXTS = frozenset({".zip"})
MODEL_EXTS = PICKLE_EXTS | TORCH_EXTS | NUMPY_EXTS | KERAS_EXTS | SAFE_EXTS | ARCHIVE_EXTS
# Extensions whose files are read as a pickle even when their first bytes do not say so.
PICKLE_FAMILY = PICKLE_EXTS | (TORCH_EXTS - {".bin"})

DEFAULT_MAX_FILE_MB = 16.0
DEFAULT_MAX_ARCHIVE_MB = 2048.0
DEFAULT_MAX_ARCHIVE_MEMBERS = 50_000
MAX_NESTING = 2  # a model archive inside a model archive, no deeper
MAX_JSON_BYTES = 64 * MB
MAX_SAFETENSORS_HEADER = 100 * MB
MAX_NPY_HEADER = 1 << 16
MAX_H5_CONFIGS = 8

RULE_DANGEROUS = "pickle-dangerous-global"
RULE_UNKNOWN = "pickle-unknown-global"
RULE_INDIRECT = "pickle-indirect-call"
RULE_UNPARSEABLE = "unparseable-model"
RULE_UNPROVABLE = "pickle-unprovable"
RULE_UNSAFE_FORMAT = "unsafe-format"
RULE_LIMIT = "scan-limit-exceeded"
RULE_NUMPY_OBJECT = "numpy-object-array"
RULE_LAMBDA = "keras-lambda-layer"
RULE_CUSTOM = "keras-custom-object"
RULE_KERAS_FILE = "keras-file-reference"
CWE_DESERIALIZATION = "CWE-502"
HELP_PICKLE = "https://docs.python.org/3/library/pickle.html#restricting-globals"


def _words_of(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# --- sniffing ---------------------------------------------------------------------------
# Content first, name second: what a loader does with a file depends on its bytes. joblib
# picks its decompressor by these prefixes (joblib/compressor.py) whatever the file's name,
# before it tries the bytes as a pickle; pickle.load accepts any protocol with or without
# PROTO and any first opcode, so "is a pickle" means "its opcodes parse" (parses_as_pickle).

_COMPRESSED = (
    (b"\x1f\x8b", "gzip"),
    (b"BZ", "bz2"),
    (b"\xfd\x37\x7a\x58\x5a", "xz"),
    (b"\x5d\x00", "lzma"),
    (b"\x04\x22\x4d\x18", "lz4"),
    (b"\x78", "zlib"),
)
ZFILE_PREFIX = b"ZF"  # joblib < 0.9.3: "ZF", the length in 19 hex digits, zlib data
ZFILE_HEADER = 2 + 19
SNIFF = 8192


def sniff(head: bytes, size: int | None = None) -> str | None:
    """The format a file's first bytes announce (`size`: the file's size, when known)."""
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "hdf5"
    if head.startswith(b"GGUF"):
        return "gguf"
    if head.startswith(ZFILE_PREFIX) and _is_hex(head[2:ZFILE_HEADER]):
        return "zfile"
    for magic, kind in _COMPRESSED:
        if head.startswith(magic) and _decompressed_head(kind, head) is not None:
            return kind
    if is_tar_head(head):
        return "tar"
    if parses_as_pickle(head, len(head) + 1 if size is None else size):
        return "pickle"
    return None


def _is_hex(data: bytes) -> bool:
    text = data.strip()
    return bool(text) and all(c in b"0123456789abcdefABCDEFx" for c in text)


def is_tar_head(head: bytes) -> bool:
    """A tar header block as tarfile (and so PyTorch's legacy loader) accepts it: a valid
    checksum, with or without the `ustar` magic."""
    if len(head) < tarfile.BLOCKSIZE:
        return False
    try:
        tarfile.TarInfo.frombuf(head[: tarfile.BLOCKSIZE], "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


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
    return parses_as_pickle(data, len(data) + 1)


def is_pickle_head(head: bytes) -> bool:
    """Whether these first bytes of a longer file are the start of a pickle stream."""
    return parses_as_pickle(head, len(head) + 1)


def _suffix(name: str) -> str:
    return PurePosixPath(name).suffix.lower()


def _read_head(path: Path, size: int = HEAD) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(size)
    except OSError:
        return b""


# --- settings and budgets -------------------------------------------------------------------


class _LimitReached(Exception):
    """An archive or decompression limit was reached; the rest is not scanned."""


@dataclass
class _Budget:
    """What one top-level file may still cost: uncompressed bytes and archive members."""

    bytes_left: int
    members_left: int

    def spend_member(self, limit: int) -> None:
        if self.members_left <= 0:
            raise _LimitReached(f"more than {limit} archive members")
        self.members_left -= 1


MAX_RATIO = 1100  # zlib cannot exceed ~1032:1; beyond this a stream is a bomb
RATIO_FLOOR = 64 * MB  # the ratio is only checked past this many output bytes


class _Counting:
    """Counts the bytes read from a (compressed) stream."""

    def __init__(self, inner: ByteSource) -> None:
        self._inner = inner
        self.count = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._inner.read(size)
        self.count += len(data)
        return data


class _Limited:
    """A stream that stops with _LimitReached once the budget's bytes are spent, or (with
    the compressed input counted) once it inflates beyond MAX_RATIO."""

    def __init__(
        self, inner: ByteSource, budget: _Budget, what: str, source: _Counting | None = None
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
            raise _LimitReached(f"{self._what} exceeds max_archive_mb (uncompressed)")
        source = self._source
        if source is not None and self._out > RATIO_FLOOR and self._out > MAX_RATIO * source.count:
            raise _LimitReached(f"{self._what} inflates more than {MAX_RATIO}:1")
        return data


class _ZlibStream:
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


class _Window:
    """At most `size` bytes of a stream, from where it stands."""

    def __init__(self, inner: IO[bytes], size: int) -> None:
        self._inner = inner
        self._left = size

    def read(self, size: int = -1, /) -> bytes:
        want = self._left if size < 0 else min(size, self._left)
        data = self._inner.read(want)
        self._left -= len(data)
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
    window = _Window(fh, info.compress_size)
    if info.compress_type == zipfile.ZIP_STORED:
        return window
    if info.compress_type == zipfile.ZIP_DEFLATED:
        return _ZlibStream(window, -zlib.MAX_WBITS)
    raise NotImplementedError(f"compression method {info.compress_type}")


@dataclass(frozen=True)
class Settings:
    allow: Allowlist
    require_safe_formats: bool
    max_file_bytes: int
    max_archive_bytes: int
    max_archive_members: int
    deadline: float | None

    @classmethod
    def from_options(cls, options: Mapping[str, Any], deadline: float | None) -> Settings:
        return cls(
            allow=Allowlist(tuple(str(p) for p in options.get("allow_globals") or ())),
            require_safe_formats=bool(options.get("require_safe_formats", False)),
            max_file_bytes=int(float(options.get("max_file_mb", DEFAULT_MAX_FILE_MB)) * MB),
            max_archive_bytes=int(
                float(options.get("max_archive_mb", DEFAULT_MAX_ARCHIVE_MB)) * MB
            ),
            max_archive_members=int(
                options.get("max_archive_members", DEFAULT_MAX_ARCHIVE_MEMBERS)
            ),
            deadline=deadline,
        )


# --- where a finding is ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Where:
    path: str
    member: str | None = None
    depth: int = 0  # archive nesting: 0 for the file itself
    strict: bool = True  # selected by a model extension (else by content or as a plain .zip)

    def inside(self, member: str) -> _Where:
        inner = f"{self.member}!/{member}" if self.member else member
        return _Where(self.path, inner, self.depth + 1, self.strict)

    def by_content(self) -> _Where:
        """The same place, chosen by its content alone (a parse error there is only low)."""
        return _Where(self.path, self.member, self.depth, strict=False)

    def label(self) -> str:
        return f"member {self.member}: " if self.member else ""


@dataclass
class _Found:
    finding: Finding
    anchor: str


@dataclass
class FileScan:
    """The findings and notes of one file, and what it turned out to be."""

    path: str
    settings: Settings
    found: list[_Found] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)
    pickle_based: bool = False
    pickle_streams: int = 0

    def add(
        self,
        where: _Where,
        rule: str,
        severity: Severity,
        message: str,
        anchor: str = "",
        **properties: Any,
    ) -> None:
        cwe = properties.pop("cwe", CWE_DESERIALIZATION if rule != RULE_LIMIT else None)
        props = {"member": where.member, **properties}
        if self.formats:
            props.setdefault("format", self.formats[0])
        finding = Finding(
            gate=NAME,
            tool=TOOL,
            rule_id=rule,
            severity=severity,
            confidence="high",
            message=f"{where.label()}{message}",
            path=self.path,
            cwe=cwe,
            help_uri=HELP_PICKLE if rule.startswith("pickle") else None,
            properties=props,
        )
        self.found.append(_Found(finding, f"{where.member or ''}|{anchor}"))

    def note(self, where: _Where, text: str) -> None:
        inner = f" [{where.member}]" if where.member else ""
        self.notes.append(f"{self.path}{inner}: {text}")

    def format(self, name: str) -> None:
        if name not in self.formats:
            self.formats.append(name)


# --- pickles --------------------------------------------------------------------------------


def _names(refs: Sequence[GlobalRef]) -> list[str]:
    return sorted({r.dotted for r in refs})


def _call_text(report: PickleReport, refs: Sequence[GlobalRef]) -> str:
    parts = []
    for ref in sorted(refs, key=lambda r: r.dotted):
        ops = sorted(report.calls.get(ref, set()))
        parts.append(f"{ref.dotted} (called via {'/'.join(ops)})" if ops else ref.dotted)
    return ", ".join(parts)


def report_pickle(scan: FileScan, where: _Where, report: PickleReport) -> None:
    """Turn one pickle stream's report into findings."""
    scan.pickle_based = True
    scan.pickle_streams += 1
    verdicts = {ref: scan.settings.allow.classify(ref) for ref in report.globals}
    dangerous = [r for r, v in verdicts.items() if v is Verdict.DANGEROUS]
    unknown = [r for r, v in verdicts.items() if v is Verdict.UNKNOWN]
    calls = {r.dotted: sorted(report.calls.get(r, set())) for r in dangerous + unknown}
    if dangerous:
        names = _names(dangerous)
        scan.add(
            where,
            RULE_DANGEROUS,
            Severity.CRITICAL,
            f"pickle imports dangerous global(s) {_call_text(report, dangerous)}: loading "
            "this file runs code chosen by whoever wrote it",
            anchor=",".join(names),
            globals=names,
            calls={n: calls[n] for n in names},
        )
    if unknown:
        names = _names(unknown)
        scan.add(
            where,
            RULE_UNKNOWN,
            Severity.MEDIUM,
            f"cannot be proven safe: pickle imports global(s) not on the allowlist: "
            f"{_call_text(report, unknown)}; loading imports and may call them. If this is "
            f"your own code, allow it in .mlgate.yml: models: allow_globals: "
            f"{json.dumps(_allow_hint(unknown))}",
            anchor=",".join(names),
            globals=names,
            calls={n: calls[n] for n in names},
        )
    _report_pickle_rest(scan, where, report)


def _allow_hint(refs: Sequence[GlobalRef]) -> list[str]:
    """What to add to allow_globals: the module's glob (`mypkg.models.*`), or the exact name
    for a script's `__main__` and names outside any package."""
    hints = []
    for ref in refs:
        if ref.module.startswith("<"):
            continue
        exact = ref.module == "__main__" or "." not in ref.module
        hints.append(ref.dotted if exact else f"{ref.module}.*")
    return sorted(set(hints))[:5]


def _report_pickle_rest(scan: FileScan, where: _Where, report: PickleReport) -> None:
    if report.indirect_calls:
        scan.add(
            where,
            RULE_INDIRECT,
            Severity.HIGH,
            "pickle calls or modifies objects in ways plain data never needs "
            f"({'; '.join(report.indirect_calls[:3])}): a known way to hide a payload",
            anchor="indirect",
            calls=report.indirect_calls,
        )
    if report.unprovable is not None:
        swept = _names(report.swept)
        found = f"; the byte search of the rest found {', '.join(swept)}" if swept else ""
        scan.add(
            where,
            RULE_UNPROVABLE,
            Severity.MEDIUM,
            f"cannot be proven safe: {report.unprovable}; the rest of the stream was only "
            f"searched byte by byte for imports{found}",
            anchor="unprovable",
            swept=swept,
        )
    if report.error is not None:
        severity = Severity.MEDIUM if where.strict else Severity.LOW
        scan.add(
            where,
            RULE_UNPARSEABLE,
            severity,
            f"could not be fully parsed: {report.error} (a damaged file, or one crafted "
            "to confuse scanners; whatever loads it may still run what precedes the damage)",
            anchor="unparseable",
        )
    for text in report.notes:
        scan.note(where, text)


def scan_pickle_stream(
    scan: FileScan, where: _Where, source: ByteSource, max_pickles: int | None = None
) -> PickleReport:
    report = PickleReport()
    try:
        scan_pickles(source, scan.settings.deadline, max_pickles, report)
    finally:  # what was found before a limit, a timeout or a read error is still reported
        report_pickle(scan, where, report)
    return report


# --- NumPy ----------------------------------------------------------------------------------


def _read_exact(source: ByteSource, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = source.read(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


_NPY_VERSIONS = {1: (2, "latin-1"), 2: (4, "latin-1"), 3: (4, "utf-8")}
_NPY_KEYS = {"descr", "fortran_order", "shape"}


def npy_header(source: ByteSource) -> dict[str, Any] | str:
    """The header dict of a .npy stream, read as numpy.lib.format reads it (versions 1.0,
    2.0 and 3.0, ast.literal_eval of the dict, exactly its three keys), or why numpy would
    refuse it."""
    start = _read_exact(source, 8)
    if len(start) < 8 or not start.startswith(b"\x93NUMPY"):
        return "not a .npy file (bad magic)"
    major, minor = start[6], start[7]
    if major not in _NPY_VERSIONS or minor != 0:
        return f"unsupported format version {major}.{minor}"
    width, encoding = _NPY_VERSIONS[major]
    size = int.from_bytes(_read_exact(source, width), "little")
    if size > MAX_NPY_HEADER:
        return f"header of {size} bytes is larger than {MAX_NPY_HEADER}"
    try:
        header = _literal(_read_exact(source, size).decode(encoding), major)
    except (ValueError, SyntaxError, RecursionError, UnicodeDecodeError, MemoryError) as exc:
        return f"unreadable header: {type(exc).__name__}"
    if not isinstance(header, dict) or set(header) != _NPY_KEYS:
        return "header is not a dict of descr, fortran_order and shape"
    return header


def _literal(text: str, major: int) -> Any:
    """numpy's safe_eval, retried without Python 2 long suffixes for versions 1 and 2."""
    try:
        return ast.literal_eval(text)
    except SyntaxError:
        if major > 2:
            raise
        return ast.literal_eval(re.sub(r"(\d)L\b", r"\1", text))


def descr_has_object(descr: object) -> bool:
    """Whether numpy.lib.format.descr_to_dtype(descr).hasobject: a type string in any
    spelling numpy accepts (`O`, `|O`, `object`, `O8`, `(2,)O`, `i4,O`...), a subarray
    tuple (descr, shape), or a list of fields (name, descr[, shape]) at any depth. A type
    string the scanner cannot interpret counts as holding objects (the data is then scanned
    as the pickle np.load would read)."""
    if isinstance(descr, str):
        base = base_dtype(descr)
        return True if base is None else base[2]
    if isinstance(descr, tuple) and descr:
        return descr_has_object(descr[0])
    if isinstance(descr, list):
        return any(
            descr_has_object(item[1])
            for item in descr
            if isinstance(item, (list, tuple)) and len(item) >= 2
        )
    return False


def scan_npy(scan: FileScan, where: _Where, source: ByteSource) -> None:
    header = npy_header(source)
    if isinstance(header, str):
        scan.add(where, RULE_UNPARSEABLE, Severity.LOW, f"not a valid .npy file: {header}", "npy")
        return
    if not descr_has_object(header.get("descr")):
        return
    scan.add(
        where,
        RULE_NUMPY_OBJECT,
        Severity.LOW,
        "NumPy object array: its data is a pickle (np.load needs allow_pickle=True); "
        "the pickle was scanned",
        anchor="object-array",
    )
    scan_pickle_stream(scan, where, source, max_pickles=1)


# --- Keras ----------------------------------------------------------------------------------

_KERAS_MODULES = ("keras", "tf_keras", "tensorflow.keras", "tensorflow.python.keras")
_LAMBDA_TOKENS = tuple(
    bytes(t, "ascii")
    for t in [
        *("system", "popen", "exec", "eval", "__import__", "subprocess", "getattr"),
        *("compile", "open", "socket", "builtins", "__builtins__", "spawn", "check_output"),
        "os",
    ]
)


@dataclass
class KerasIssues:
    lambdas: list[tuple[str, list[str]]] = field(default_factory=list)  # (layer, tokens)
    custom: list[str] = field(default_factory=list)
    files: list[tuple[str, str, str, str]] = field(default_factory=list)  # class, layer, key, path


def keras_issues(config: Any) -> KerasIssues:
    """Lambda layers and objects from outside Keras in a model config (walked iteratively)."""
    issues = KerasIssues()
    stack: list[Any] = [config]
    visited = 0
    while stack and visited < 1_000_000:
        node = stack.pop()
        visited += 1
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        _keras_node(node, issues)
        stack.extend(node.values())
    return issues


# Layers that open a file or URL named in their config while the model is deserialized,
# even with safe_mode=True: the lookup layers read a vocabulary given as a path
# (CVE-2025-12058), TFSMLayer loads a whole TensorFlow SavedModel (CVE-2026-1462), and
# keras-hub tokenizers read vocabularies, merges and SentencePiece protos by path.
_KERAS_PATH_KEYS = frozenset(
    _words_of("""vocabulary vocabulary_file vocab_file merges proto spm_model_file filepath
    file_path path model_path saved_model_path idf_weights""")
)
KERAS_SAVEDMODEL_LAYERS = frozenset({"TFSMLayer"})


def _keras_files(cls: str, conf: Mapping[str, Any], issues: KerasIssues) -> None:
    layer = str(conf.get("name", "?"))
    for key in sorted(_KERAS_PATH_KEYS & set(conf)):
        value = conf[key]
        if isinstance(value, str) and value.strip():
            issues.files.append((cls, layer, key, value[:300]))


def _keras_node(node: Mapping[str, Any], issues: KerasIssues) -> None:
    cls = node.get("class_name")
    conf_any = node.get("config")
    if isinstance(cls, str) and isinstance(conf_any, dict):
        _keras_files(cls, conf_any, issues)
    if cls == "Lambda":
        conf = node.get("config")
        conf = conf if isinstance(conf, dict) else {}
        issues.lambdas.append((str(conf.get("name", "?")), _lambda_tokens(conf.get("function"))))
    module = node.get("module")
    if not isinstance(module, str) or _is_keras_module(module):
        return
    if isinstance(cls, str):
        target = node.get("config") if cls == "function" else cls
        issues.custom.append(f"{module}.{target}")
    elif isinstance(node.get("function"), str):
        issues.custom.append(f"{module}.{node['function']}")


def _is_keras_module(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in _KERAS_MODULES)


def _lambda_tokens(function: Any) -> list[str]:
    """Dangerous names in a Lambda's serialized bytecode (base64 marshal), found as strings;
    the bytecode is never unmarshalled."""
    code: Any = function
    if isinstance(function, dict):
        inner = function.get("config")
        code = inner.get("code") if isinstance(inner, dict) else inner
    elif isinstance(function, list) and function:
        code = function[0]
    if not isinstance(code, str) or len(code) > 4 * MB:
        return []
    try:
        raw = base64.b64decode(code, validate=False)
    except ValueError:
        return []
    return sorted({t.decode() for t in _LAMBDA_TOKENS if _marshal_name(raw, t)})


def _marshal_name(raw: bytes, token: bytes) -> bool:
    """Whether `token` appears in marshal data as a short ASCII string (type z/Z/a/A)."""
    short = re.compile(rb"[\x5a\x7a\xda\xfa]" + bytes([len(token)]) + re.escape(token))
    long = re.compile(rb"[\x41\x61\xc1\xe1]" + len(token).to_bytes(4, "little") + re.escape(token))
    return bool(short.search(raw) or long.search(raw))


def report_keras(scan: FileScan, where: _Where, config: Any) -> None:
    issues = keras_issues(config)
    for layer, tokens in issues.lambdas:
        critical = bool(tokens)
        detail = f" (its bytecode names {', '.join(tokens)})" if tokens else ""
        scan.add(
            where,
            RULE_LAMBDA,
            Severity.CRITICAL if critical else Severity.HIGH,
            f"Keras Lambda layer {layer!r} holds serialized Python bytecode{detail}: "
            "loading the model with safe_mode off runs it",
            anchor=f"lambda:{layer}",
            layer=layer,
            tokens=tokens,
        )
    for name in sorted(set(issues.custom)):
        _report_custom(scan, where, name)
    for cls, layer, key, path in issues.files:
        savedmodel = cls in KERAS_SAVEDMODEL_LAYERS
        scan.add(
            where,
            RULE_KERAS_FILE,
            Severity.CRITICAL if savedmodel else Severity.HIGH,
            f"Keras layer {layer!r} ({cls}) has {key}={path!r}: "
            + (
                "it loads that TensorFlow SavedModel, whose graph runs, even with safe_mode=True"
                if savedmodel
                else "loading the model opens that file or URL, even with safe_mode=True"
            ),
            anchor=f"file:{layer}:{key}",
            layer=layer,
            key=key,
            target=path,
        )


def _report_custom(scan: FileScan, where: _Where, name: str) -> None:
    module, _, attr = name.rpartition(".")
    verdict = scan.settings.allow.classify(GlobalRef(module, attr))
    if verdict is Verdict.SAFE:
        return
    dangerous = verdict is Verdict.DANGEROUS
    scan.add(
        where,
        RULE_CUSTOM,
        Severity.CRITICAL if dangerous else Severity.MEDIUM,
        f"Keras config refers to {name}, outside Keras: loading imports "
        + ("a dangerous callable" if dangerous else "that code (custom object)"),
        anchor=name,
        globals=[name],
    )


class _JsonSpan:
    """Finds where a JSON object that starts at a `{` ends, fed chunk by chunk."""

    _TOKENS = re.compile(rb'[{}"\\]')

    def __init__(self) -> None:
        self.depth = 0
        self.in_string = False
        self.escape = False

    def feed(self, chunk: bytes) -> int | None:
        """The end offset (exclusive) within this chunk, or None if the object goes on."""
        pos = 0
        if self.escape:
            pos, self.escape = 1, False
        while True:
            match = self._TOKENS.search(chunk, pos)
            if match is None:
                return None
            char, pos = chunk[match.start()], match.end()
            if self.in_string:
                if char == 0x5C:
                    self.escape = pos >= len(chunk)
                    pos += 1
                elif char == 0x22:
                    self.in_string = False
            elif char == 0x22:
                self.in_string = True
            elif char == 0x7B:
                self.depth += 1
            elif char == 0x7D:
                self.depth -= 1
                if self.depth == 0:
                    return pos


def _json_at(fh: IO[bytes], start: int) -> tuple[Any, int] | None:
    """The JSON object starting at byte `start`, and where it ends; None when it is not one."""
    fh.seek(start)
    span = _JsonSpan()
    parts: list[bytes] = []
    size = 0
    while size < MAX_JSON_BYTES:
        chunk = fh.read(CHUNK)
        if not chunk:
            return None
        end = span.feed(chunk)
        if end is not None:
            parts.append(chunk[:end])
            try:
                return json.loads(b"".join(parts)), start + size + end
            except ValueError:
                return None
        parts.append(chunk)
        size += len(chunk)
    return None


_H5_JSON_STARTS = (b'{"class_name"', b'{"module"')


def h5_configs(fh: IO[bytes], deadline: float | None) -> Iterator[Any]:
    """Model configs stored as JSON attributes in an HDF5 file, found by a byte search."""
    found = 0
    offset = 0
    carry = b""
    while found < MAX_H5_CONFIGS:
        _check_deadline(deadline)
        fh.seek(offset)
        chunk = fh.read(CHUNK)
        if not chunk:
            return
        data = carry + chunk
        base = offset - len(carry)
        hits = sorted(i for s in _H5_JSON_STARTS if (i := data.find(s)) >= 0)
        if not hits:
            carry = data[-16:]
            offset += len(chunk)
            continue
        parsed = _json_at(fh, base + hits[0])
        if parsed is not None:
            found += 1
            yield parsed[0]
        offset = parsed[1] if parsed is not None else base + hits[0] + 1
        carry = b""


def _h5py_configs(path: Path) -> list[Any] | None:
    """model_config/training_config read with h5py (attributes only), when it is installed."""
    if importlib.util.find_spec("h5py") is None:
        return None
    h5py = importlib.import_module("h5py")
    configs: list[Any] = []
    try:
        with h5py.File(path, "r") as handle:
            for key in ("model_config", "training_config"):
                raw = handle.attrs.get(key)
                if raw is not None:
                    text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
                    configs.append(json.loads(text))
    except (OSError, ValueError):  # not readable by h5py: the byte search still runs
        return None
    return configs


def scan_h5(scan: FileScan, where: _Where, fh: IO[bytes], path: Path | None) -> None:
    scan.format("keras-h5")
    configs = _h5py_configs(path) if path is not None else None
    if configs is None:
        configs = list(h5_configs(fh, scan.settings.deadline))
    for config in configs:
        report_keras(scan, where, config)


# --- GGUF, ONNX, TensorFlow SavedModel ----------------------------------------------------------

TF_PROTOBUFS = frozenset({"saved_model.pb", "keras_metadata.pb"})
RULE_GGUF_TEMPLATE = "gguf-chat-template-injection"
RULE_ONNX_EXTERNAL = "onnx-external-data-escape"
RULE_TF_OP = "tf-savedmodel-risky-op"
CWE_SSTI = "CWE-1336"
CWE_PATH = "CWE-22"


def _size(fh: IO[bytes]) -> int:
    size = fh.seek(0, io.SEEK_END)
    fh.seek(0)
    return size


def _unreadable(scan: FileScan, where: _Where, what: str, exc: Exception) -> None:
    scan.add(where, RULE_UNPARSEABLE, Severity.LOW, f"not a valid {what}: {exc}", what)


def scan_gguf(scan: FileScan, where: _Where, fh: IO[bytes]) -> None:
    """A chat template able to reach Python objects is critical: llama-cpp-python (before
    0.2.72) rendered it unsandboxed when the model was loaded (CVE-2024-34359)."""
    try:
        info = read_gguf(fh, _size(fh), scan.settings.deadline)
    except TimeoutError as exc:
        raise ScanTimeout(str(exc)) from exc
    except (FormatError, OSError) as exc:
        _unreadable(scan, where, "GGUF file", exc)
        return
    for key, template in sorted(info.templates.items()):
        issues = template_issues(template)
        if issues:
            scan.add(
                where,
                RULE_GGUF_TEMPLATE,
                Severity.CRITICAL,
                f"GGUF metadata {key} is a Jinja template that reaches Python objects "
                f"({'; '.join(issues)}): rendering it outside a sandbox runs code "
                "(CVE-2024-34359)",
                anchor=f"template:{key}",
                cwe=CWE_SSTI,
                key=key,
                constructs=issues,
            )
    for key in info.too_large:
        scan.add(
            where,
            RULE_UNPROVABLE,
            Severity.MEDIUM,
            f"cannot be proven safe: GGUF chat template {key} is larger than "
            f"{MAX_TEMPLATE} bytes and was not checked",
            anchor=f"template-size:{key}",
        )


def scan_onnx(scan: FileScan, where: _Where, fh: IO[bytes]) -> None:
    """External data outside the model's directory: onnx.load reads (and some tools write)
    any file the location names (CVE-2024-27318)."""
    size = _size(fh)
    try:
        external = onnx_external_data(Wire(fh, size, scan.settings.deadline), size)
    except TimeoutError as exc:
        raise ScanTimeout(str(exc)) from exc
    except (FormatError, OSError) as exc:
        _unreadable(scan, where, "ONNX protobuf", exc)
        return
    bad = [item for item in external if escapes(item.location)]
    if bad:
        shown = ", ".join(f"{b.tensor or '?'} -> {b.location!r}" for b in bad[:5])
        scan.add(
            where,
            RULE_ONNX_EXTERNAL,
            Severity.HIGH,
            f"ONNX tensor external data outside the model's directory ({shown}): loading "
            "the model reads that file (path traversal, CVE-2024-27318)",
            anchor="external:" + ",".join(sorted({b.location for b in bad})),
            cwe=CWE_PATH,
            locations=sorted({b.location for b in bad}),
        )


def scan_tf_protobuf(scan: FileScan, where: _Where, fh: IO[bytes], base: str) -> None:
    size = _size(fh)
    wire = Wire(fh, size, scan.settings.deadline)
    try:
        if base == "keras_metadata.pb":
            for text in keras_metadata_json(wire, size):
                with contextlib.suppress(ValueError):
                    report_keras(scan, where, json.loads(text))
            return
        ops = savedmodel_ops(wire, size)
    except TimeoutError as exc:
        raise ScanTimeout(str(exc)) from exc
    except (FormatError, OSError) as exc:
        _unreadable(scan, where, "TensorFlow protobuf", exc)
        return
    risky = sorted(ops & (TF_CALLS_PYTHON | TF_TOUCHES_FILES))
    if risky:
        scan.add(
            where,
            RULE_TF_OP,
            Severity.HIGH,
            f"TensorFlow graph uses op(s) {', '.join(risky)} that call Python or read or "
            "write files when the model runs",
            anchor="ops:" + ",".join(risky),
            ops=risky,
        )


# --- safetensors ----------------------------------------------------------------------------


def safetensors_problem(fh: IO[bytes], size: int) -> str | None:
    """Why a .safetensors file's header is not valid JSON describing in-bounds tensors."""
    start = fh.read(8)
    if len(start) < 8:
        return "shorter than its 8-byte header length"
    length = int.from_bytes(start, "little")
    if length > min(size - 8, MAX_SAFETENSORS_HEADER):
        return f"header length {length} is beyond the file"
    try:
        header = json.loads(fh.read(length))
    except ValueError:
        return "header is not JSON"
    if not isinstance(header, dict):
        return "header is not a JSON object"
    data_size = size - 8 - length
    for name, entry in header.items():
        if name != "__metadata__" and not _tensor_entry_ok(entry, data_size):
            return f"tensor {name!r} has an invalid entry"
    return None


def _tensor_entry_ok(entry: Any, data_size: int) -> bool:
    if not isinstance(entry, dict) or not isinstance(entry.get("dtype"), str):
        return False
    offsets = entry.get("data_offsets")
    if not isinstance(offsets, list) or len(offsets) != 2:
        return False
    begin, end = offsets
    ints = isinstance(begin, int) and isinstance(end, int)
    return ints and 0 <= begin <= end <= data_size and isinstance(entry.get("shape"), list)


# --- archives -------------------------------------------------------------------------------


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


def _member_kind(name: str, keras: bool) -> str | None:
    """How a zip member is scanned, by name: pickle, npy, nested, keras-config, or not."""
    ext = _suffix(name)
    if keras and name == "config.json":
        return "keras-config"
    if ext in PICKLE_EXTS:
        return "pickle"
    if ext == ".npy":
        return "npy"
    if ext in (TORCH_EXTS | ARCHIVE_EXTS | {".npz", ".keras"}):
        return "nested"
    return None


class ArchiveScanner:
    """Scans one top-level file, descending into archives within the budget."""

    def __init__(self, scan: FileScan, budget: _Budget) -> None:
        self.scan = scan
        self.budget = budget
        self.settings = scan.settings

    # -- dispatch by content, then extension

    def scan_stream(self, fh: IO[bytes], where: _Where, name: str, path: Path | None) -> None:
        head = fh.read(SNIFF)
        size = fh.seek(0, io.SEEK_END)
        fh.seek(0)
        kind = sniff(head, size)
        ext = _suffix(name)
        if kind == "zip":
            self.scan_zip(fh, where, ext)
        elif kind == "npy":
            self.scan.format("numpy")
            scan_npy(self.scan, where, fh)
        elif kind == "hdf5":
            scan_h5(self.scan, where, fh, path)
        elif kind == "pickle":
            self._scan_pickle(fh, where, ext, path)
        elif kind == "tar":
            self.scan_tar(fh, where)
        elif kind == "zfile" or (
            kind in _COMPRESSOR_NAMES
            and (compressed_pickle(kind, head) or ext in PICKLE_FAMILY | NUMPY_EXTS)
        ):
            self.scan_compressed(fh, where, kind)
        else:
            self._by_extension(fh, where, ext, path, kind)

    def _by_extension(
        self, fh: IO[bytes], where: _Where, ext: str, path: Path | None, kind: str | None
    ) -> None:
        base = PurePosixPath(where.member or where.path).name
        if ext == ".safetensors":
            self.scan.format("safetensors")
            self._check_safetensors(fh, where)
        elif kind == "gguf" or ext == ".gguf":
            self.scan.format("gguf")
            scan_gguf(self.scan, where, fh)
        elif ext == ".onnx":
            self.scan.format("onnx")
            scan_onnx(self.scan, where, fh)
        elif base in TF_PROTOBUFS:
            self.scan.format("tf-savedmodel" if base == "saved_model.pb" else "keras-metadata")
            scan_tf_protobuf(self.scan, where, fh, base)
        elif ext in SAFE_EXTS:
            self.scan.format(ext.lstrip("."))
        elif ext in PICKLE_FAMILY | NUMPY_EXTS:
            # np.load unpickles whatever is neither zip nor npy; torch.load and joblib.load
            # read these names as pickles: a file that does not parse cannot be proven safe.
            self._scan_pickle(fh, where, ext, path)
        else:
            self.scan.note(where, "not a pickle, zip, tar or HDF5 file: skipped (raw weights?)")

    def _scan_pickle(self, fh: IO[bytes], where: _Where, ext: str, path: Path | None) -> None:
        self.scan.format("pytorch-legacy" if ext in TORCH_EXTS else "pickle")
        source: ByteSource = fh
        if path is not None and path.stat().st_size <= self.settings.max_file_bytes:
            source = io.BytesIO(fh.read())
        report = scan_pickle_stream(self.scan, where, source)
        if report.pickles > 1:
            self.scan.note(where, f"{report.pickles} consecutive pickles scanned")

    def _check_safetensors(self, fh: IO[bytes], where: _Where) -> None:
        fh.seek(0, io.SEEK_END)
        size = fh.tell()
        fh.seek(0)
        problem = safetensors_problem(fh, size)
        if problem is not None:
            message = f"not a valid safetensors file: {problem}"
            self.scan.add(where, RULE_UNPARSEABLE, Severity.LOW, message, "safetensors")

    # -- compressed pickles (joblib)

    def scan_compressed(self, fh: IO[bytes], where: _Where, kind: str) -> None:
        """joblib's compressed pickles, whatever their name; bounded in output and ratio."""
        self.scan.format("joblib-compressed")
        if kind == "lz4" and importlib.util.find_spec("lz4") is None:
            self.scan.pickle_based = True
            message = (
                "lz4-compressed (joblib compress='lz4') and the lz4 package is not installed: "
                "the pickle inside cannot be proven safe"
            )
            self.scan.add(where, RULE_UNPARSEABLE, Severity.MEDIUM, message, "lz4")
            return
        counted = _Counting(fh)
        stream = _decompressing(kind, counted)
        limited = _Limited(stream, self.budget, f"{kind} stream", counted)
        scan_pickle_stream(self.scan, where, limited)

    # -- zip

    def scan_zip(self, fh: IO[bytes], where: _Where, ext: str) -> None:
        count = zip_entry_count(fh)
        fh.seek(0)
        if count is not None and count > self.budget.members_left:
            self.limit(where, f"it has {count} members, more than max_archive_members allows")
            return
        with zipfile.ZipFile(fh) as archive:
            infos = archive.infolist()
            names = [i.filename for i in infos]
            self.scan.format(_zip_format(ext, names))
            keras = ext == ".keras" or ("config.json" in names and "metadata.json" in names)
            for info in infos:
                self._zip_member(archive, fh, info, where, keras)

    def _zip_member(
        self,
        archive: zipfile.ZipFile,
        fh: IO[bytes],
        info: zipfile.ZipInfo,
        where: _Where,
        keras: bool,
    ) -> None:
        self.budget.spend_member(self.settings.max_archive_members)
        if info.is_dir():
            return
        inner = where.inside(info.filename)
        try:
            self._scan_member(archive, fh, info, inner, _member_kind(info.filename, keras))
        except _LimitReached as exc:
            self.limit(inner, str(exc))
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError) as exc:
            message = f"could not be read: {type(exc).__name__}: {exc}"
            self.scan.add(inner, RULE_UNPARSEABLE, Severity.MEDIUM, message, "unreadable")

    def _scan_member(
        self,
        archive: zipfile.ZipFile,
        fh: IO[bytes],
        info: zipfile.ZipInfo,
        where: _Where,
        named: str | None,
    ) -> None:
        """A member by content first (np.load reads any npz member that starts with the npy
        magic as an array, whatever its name), then by name, then any other member whose
        bytes parse as a pickle or a model container (reported as found by content)."""
        with contextlib.ExitStack() as stack:
            raw = self._open_member(archive, fh, info, where, stack)
            stream = _Limited(raw, self.budget, "the archive")
            head = _read_exact(stream, SNIFF)
            kind = "npy" if head.startswith(b"\x93NUMPY") else named
            if kind is None:
                kind = _content_member_kind(head, info.file_size)
                where = where.by_content()
            data = _Prefixed(head, stream)
            if kind == "pickle":
                scan_pickle_stream(self.scan, where, data)
            elif kind == "npy":
                scan_npy(self.scan, where, data)
            elif kind == "keras-config":
                self._keras_config(data, where)
            elif kind == "nested":
                self._nested(data, where, info.filename)

    def _open_member(
        self,
        archive: zipfile.ZipFile,
        fh: IO[bytes],
        info: zipfile.ZipInfo,
        where: _Where,
        stack: contextlib.ExitStack,
    ) -> ByteSource:
        """The member's bytes as PyTorch's reader gets them: its CRC is not checked (a bad
        CRC would stop zipfile at the last read, before the payload is seen); when zipfile
        refuses the local header (a name that differs from the central directory's, an
        encryption flag), the bytes are located through the central directory."""
        try:
            member = stack.enter_context(archive.open(info))
            member._expected_crc = None  # type: ignore[attr-defined]  # CPython: no CRC check
            return member
        except (zipfile.BadZipFile, RuntimeError) as exc:
            message = (
                f"zip headers disagree ({exc}): a known way to hide a member from scanners; "
                "it was read the way PyTorch reads it"
            )
            self.scan.add(where, RULE_UNPARSEABLE, Severity.MEDIUM, message, "zip-header")
            return raw_member(fh, info)

    def _keras_config(self, stream: ByteSource, where: _Where) -> None:
        data = _read_exact(stream, MAX_JSON_BYTES)
        try:
            config = json.loads(data)
        except ValueError:
            self.scan.add(where, RULE_UNPARSEABLE, Severity.LOW, "config.json is not JSON", "json")
            return
        report_keras(self.scan, where, config)

    def _nested(self, stream: ByteSource, where: _Where, name: str) -> None:
        with tempfile.SpooledTemporaryFile(max_size=16 * MB) as spool:
            while chunk := stream.read(CHUNK):
                spool.write(chunk)
            spool.seek(0)
            head = spool.read(SNIFF)
            size = spool.tell() if len(head) < SNIFF else spool.seek(0, io.SEEK_END)
            spool.seek(0)
            kind = sniff(head, size)
            if kind == "zip" and where.depth >= MAX_NESTING:
                self.limit(where, f"archives nested deeper than {MAX_NESTING} levels")
            elif (
                kind in _CONTENT_KINDS
                or kind in _COMPRESSOR_NAMES
                or _suffix(name) in PICKLE_FAMILY
            ):
                self.scan_stream(spool, where, name, None)

    # -- tar (PyTorch's oldest format)

    def scan_tar(self, fh: IO[bytes], where: _Where) -> None:
        self.scan.format("pytorch-tar")
        with tarfile.open(fileobj=fh, mode="r:") as archive:
            for member in archive:
                self.budget.spend_member(self.settings.max_archive_members)
                wanted = member.name in ("sys_info", "pickle", "storages", "tensors")
                if not member.isfile() or not (wanted or _suffix(member.name) in PICKLE_EXTS):
                    continue
                extracted = archive.extractfile(member)
                if extracted is not None:
                    stream = _Limited(extracted, self.budget, "the archive")
                    scan_pickle_stream(self.scan, where.inside(member.name), stream)

    def limit(self, where: _Where, reason: str) -> None:
        if not where.strict:
            self.scan.note(where, f"not scanned: {reason}")
            return
        message = f"not fully scanned: {reason} (a zip bomb, or raise the models limits)"
        self.scan.add(where, RULE_LIMIT, Severity.MEDIUM, message, "limit")


def _content_member_kind(head: bytes, size: int) -> str | None:
    kind = sniff(head, size)
    if kind in ("zip", "tar", "zfile") or (
        kind in _COMPRESSOR_NAMES and compressed_pickle(kind, head)
    ):
        return "nested"
    return "pickle" if kind == "pickle" else None


def _zip_format(ext: str, names: Sequence[str]) -> str:
    if ext == ".keras":
        return "keras"
    if ext == ".npz":
        return "numpy-npz"
    return "pytorch-zip" if _is_torch_zip(names) else "zip"


_COMPRESSOR_NAMES = frozenset(kind for _magic, kind in _COMPRESSED)


def _decompressing(kind: str, fh: Any) -> ByteSource:
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
    if kind == "zfile":
        header = _read_exact(fh, ZFILE_HEADER + 1)
        inner = _Prefixed(header[ZFILE_HEADER:].lstrip(b" "), fh)
        return _ZlibStream(inner)
    return _ZlibStream(fh)


class _Prefixed:
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


def _check_deadline(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise ScanTimeout("scan timed out")


# --- one file -------------------------------------------------------------------------------


def scan_file(root: Path, rel: str, settings: Settings) -> FileScan:
    """Scan one repo file. Never raises for the file's content (only ScanTimeout)."""
    scan = FileScan(rel, settings)
    path = root / rel
    ext = _suffix(rel)
    where = _Where(rel, strict=ext in MODEL_EXTS - ARCHIVE_EXTS)
    budget = _Budget(settings.max_archive_bytes, settings.max_archive_members)
    try:
        if path.stat().st_size == 0:
            scan.note(where, "empty file: skipped")
            return scan
        with path.open("rb") as fh:
            ArchiveScanner(scan, budget).scan_stream(fh, where, rel, path)
    except ScanTimeout:
        raise
    except _LimitReached as exc:
        ArchiveScanner(scan, budget).limit(where, str(exc))
    except Exception as exc:  # a file's content must never crash the gate
        message = f"could not be scanned: {type(exc).__name__}: {exc}"
        severity = Severity.MEDIUM if where.strict else Severity.LOW
        scan.add(where, RULE_UNPARSEABLE, severity, message, "unreadable")
    if ext in PICKLE_FAMILY and not scan.formats:
        scan.pickle_based = True
    _require_safe(scan, where)
    return scan


RULE_PICKLE_FORMAT = "pickle-format"


def _require_safe(scan: FileScan, where: _Where) -> None:
    if not scan.pickle_based:
        return
    kind = scan.formats[0] if scan.formats else "pickle"
    if not scan.settings.require_safe_formats:
        if not any(f.finding.severity.at_least(Severity.LOW) for f in scan.found):
            scan.add(
                where,
                RULE_PICKLE_FORMAT,
                Severity.INFO,
                f"pickle-based format ({kind}): every global it imports is on the allowlist, "
                "but loading still runs the pickle machine; prefer skops or safetensors",
                anchor="pickle-format",
            )
        return
    scan.add(
        where,
        RULE_UNSAFE_FORMAT,
        Severity.HIGH,
        f"model stored in a pickle-based format ({kind}); this environment requires "
        "safe formats: convert it to safetensors, ONNX or GGUF",
        anchor="unsafe-format",
    )


# --- the gate -------------------------------------------------------------------------------


_CONTENT_KINDS = frozenset({"pickle", "zfile", "npy", "zip", "hdf5", "gguf", "tar"})


def select_files(repo: Repo) -> list[str]:
    """Files with a model extension or a TensorFlow SavedModel name, and any other file whose
    content is one a model loader reads: a pickle stream (any protocol, any first opcode), a
    joblib-compressed pickle, a NumPy array, a zip, tar or HDF5 container, a GGUF model."""
    return [
        rel
        for rel in repo.files
        if _suffix(rel) in MODEL_EXTS
        or PurePosixPath(rel).name in TF_PROTOBUFS
        or _is_model(repo.root / rel)
    ]


def _is_model(path: Path) -> bool:
    try:
        if not path.is_file() or path.is_symlink():
            return False
        with path.open("rb") as fh:
            head = fh.read(SNIFF)
            size = fh.seek(0, io.SEEK_END)
    except OSError:
        return False
    kind = sniff(head, size)
    if kind in _COMPRESSOR_NAMES:
        return compressed_pickle(kind, head)
    return kind in _CONTENT_KINDS


class ModelsGate:
    name = NAME
    summary = "static scan of model files (pickle, joblib, PyTorch, NumPy, Keras); never loads them"
    cache_scope = "file"  # a file's findings depend only on its bytes and the options
    options_schema: Mapping[str, Any] = {
        "allow_globals": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "pattern": r"^[^\s]+$"},
        },
        "require_safe_formats": {"type": "boolean"},
        "max_file_mb": {"type": "number", "exclusiveMinimum": 0},
        "max_archive_mb": {"type": "number", "exclusiveMinimum": 0},
        "max_archive_members": {"type": "integer", "minimum": 1},
    }

    def inputs(self, repo: Repo, options: Mapping[str, Any]) -> GateInputs:
        return GateInputs(files=tuple(select_files(repo)), options=dict(options))

    def tool_versions(self) -> Mapping[str, str | None]:
        return {TOOL: __version__}

    def cache_salt(self, ctx: GateContext) -> str:
        """The scanner's own rules: a change to the module invalidates cached results."""
        digest = hashlib.sha256()
        for module in ("mlgate.pickles", "mlgate.modelformats", __name__):
            spec = importlib.util.find_spec(module)
            if spec is not None and spec.origin:
                digest.update(Path(spec.origin).read_bytes())
        digest.update(json.dumps(inventory_versions(), sort_keys=True).encode())
        return digest.hexdigest()[:16]

    def run(self, ctx: GateContext) -> GateResult:
        started = time.monotonic()
        files = ctx.inputs.files
        if not files:
            return GateResult(NAME, skipped="no model files found", tools=self.tool_versions())
        settings = Settings.from_options(ctx.inputs.options, started + ctx.timeout)
        scans, errors = _scan_all(ctx.root, files, settings)
        findings = _fingerprinted([f for s in scans for f in s.found])
        formats = Counter(s.formats[0] for s in scans if s.formats)
        return GateResult(
            NAME,
            findings=tuple(findings),
            errors=tuple(errors),
            tools=self.tool_versions(),
            seconds=time.monotonic() - started,
            files_scanned=len(scans),
            notes=tuple(_capped_notes([n for s in scans for n in s.notes])),
            properties={
                "formats": dict(sorted(formats.items())),
                "pickle_streams": sum(s.pickle_streams for s in scans),
            },
        )


def _scan_all(
    root: Path, files: Sequence[str], settings: Settings
) -> tuple[list[FileScan], list[str]]:
    scans: list[FileScan] = []
    for index, rel in enumerate(files):
        try:
            scans.append(scan_file(root, rel, settings))
        except ScanTimeout:
            left = len(files) - index
            return scans, [f"timed out while scanning {rel}: {left} file(s) not fully scanned"]
    return scans, []


def _fingerprinted(found: Sequence[_Found]) -> list[Finding]:
    anchors = {i: item.anchor for i, item in enumerate(found)}
    return assign_fingerprints([item.finding for item in found], anchors)


def _capped_notes(notes: Sequence[str], limit: int = 50) -> list[str]:
    if len(notes) <= limit:
        return list(notes)
    return [*notes[:limit], f"... and {len(notes) - limit} more note(s)"]
