"""GGUF (llama.cpp): the header and metadata key/values (versions 1-3), read byte by byte.
The chat templates (`tokenizer.chat_template`, `tokenizer.chat_template.<name>`) are kept,
up to MAX_TEMPLATE bytes, and checked for Jinja constructs that reach Python objects: a
template able to do so is critical, since llama-cpp-python (before 0.2.72) rendered it
unsandboxed when the model was loaded (CVE-2024-34359). Nothing is rendered here.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, ClassVar

from mlgate.findings import Severity
from mlgate.modelfiles.errors import FormatError, check_deadline
from mlgate.modelfiles.formats.base import Engine, ModelFormat, Sniffed, unreadable
from mlgate.modelfiles.records import (
    CWE_SSTI,
    RULE_GGUF_TEMPLATE,
    RULE_UNPROVABLE,
    Scan,
    Where,
)
from mlgate.modelfiles.streams import size_of

MAX_TEMPLATE = 1 << 20  # bytes of one chat template that are checked
MAX_KV = 1 << 20  # GGUF metadata entries
MAX_DEPTH = 32  # nested GGUF arrays


_GGUF_FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
GGUF_STRING, GGUF_ARRAY = 8, 9


@dataclass
class GgufInfo:
    version: int = 0
    tensors: int = 0
    keys: int = 0
    templates: dict[str, str] = field(default_factory=dict)
    too_large: list[str] = field(default_factory=list)  # templates longer than MAX_TEMPLATE


class _GgufReader:
    def __init__(self, fh: IO[bytes], size: int, deadline: float | None) -> None:
        self.fh = fh
        self.size = size
        self.deadline = deadline
        self.wide = True  # v2+: u64 lengths and counts

    def take(self, count: int) -> bytes:
        data = self.fh.read(count)
        if len(data) != count:
            raise FormatError(f"truncated at byte {self.fh.tell()}")
        return data

    def u32(self) -> int:
        value: int = struct.unpack("<I", self.take(4))[0]
        return value

    def count(self) -> int:
        value: int = struct.unpack("<Q", self.take(8))[0] if self.wide else self.u32()
        return value

    def skip(self, count: int) -> None:
        if self.fh.tell() + count > self.size:
            raise FormatError(f"a length of {count} goes past the end of the file")
        self.fh.seek(count, 1)

    def string(self, keep: int) -> tuple[str | None, int]:
        """(the string, when at most `keep` bytes, else None; its length)."""
        length = self.count()
        if length > keep:
            self.skip(length)
            return None, length
        if self.fh.tell() + length > self.size:
            raise FormatError(f"a string of {length} bytes goes past the end of the file")
        return self.take(length).decode("utf-8", "replace"), length

    def value(self, kind: int, depth: int = 0) -> None:
        if depth > MAX_DEPTH:
            raise FormatError("arrays nested too deep")
        if kind in _GGUF_FIXED:
            self.skip(_GGUF_FIXED[kind])
        elif kind == GGUF_STRING:
            self.skip(self.count())
        elif kind == GGUF_ARRAY:
            item, count = self.u32(), self.count()
            if item in _GGUF_FIXED:
                self.skip(_GGUF_FIXED[item] * count)
                return
            for index in range(count):
                if not index & 0xFFFF:
                    check_deadline(self.deadline)
                self.value(item, depth + 1)
        else:
            raise FormatError(f"unknown metadata value type {kind}")


def read_gguf(fh: IO[bytes], size: int, deadline: float | None = None) -> GgufInfo:
    """The header and chat templates of a GGUF file (raises FormatError)."""
    reader = _GgufReader(fh, size, deadline)
    if reader.take(4) != b"GGUF":
        raise FormatError("no GGUF magic")
    info = GgufInfo(version=reader.u32())
    if info.version not in (1, 2, 3):
        raise FormatError(f"unknown GGUF version {info.version}")
    reader.wide = info.version >= 2
    info.tensors, info.keys = reader.count(), reader.count()
    if info.keys > MAX_KV:
        raise FormatError(f"{info.keys} metadata entries (more than {MAX_KV})")
    for _ in range(info.keys):
        key, _length = reader.string(1024)
        kind = reader.u32()
        name = key or "?"
        if kind == GGUF_STRING and _is_template_key(name):
            text, length = reader.string(MAX_TEMPLATE)
            if text is None:
                info.too_large.append(f"{name} ({length} bytes)")
            else:
                info.templates[name] = text
        else:
            reader.value(kind)
    return info


def _is_template_key(key: str) -> bool:
    return key == "tokenizer.chat_template" or key.startswith("tokenizer.chat_template.")


# Jinja constructs that reach Python objects from a template (server-side template
# injection, CVE-2024-34359 in llama-cpp-python, which rendered the model's template in an
# unsandboxed jinja2 Environment): dunder attributes in any spelling, the attr filter, and
# attribute access on the objects Jinja puts in every template's globals.
_SSTI = (
    (re.compile(r"__\w+__"), "a dunder attribute"),
    (re.compile(r"\|\s*attr\b|\battr\s*\("), "the attr filter"),
    (re.compile(r"\\x5f|\\u005f|\\137|\\U0000005f", re.IGNORECASE), "an escaped underscore"),
    (
        re.compile(r"\b(cycler|joiner|namespace|lipsum|range|dict|self|loop)\s*\.\s*_"),
        "a private attribute of a Jinja global",
    ),
    (re.compile(r"\[\s*['\"]_"), "a private attribute by subscript"),
    (re.compile(r"\b(cycler|joiner|lipsum)\s*\.\s*\w+\s*\.\s*\w+"), "an attribute walk"),
)


def template_issues(template: str) -> list[str]:
    """What in a chat template can reach Python objects (empty for ordinary templates, which
    use only variables, loops, `namespace(...)` and filters such as `trim`)."""
    found = []
    for pattern, what in _SSTI:
        match = pattern.search(template)
        if match is not None:
            found.append(f"{what} ({match.group(0)!r})")
    return found


# --- the format -------------------------------------------------------------------------------


def scan_gguf(scan: Scan, where: Where, fh: IO[bytes]) -> None:
    try:
        info = read_gguf(fh, size_of(fh), scan.settings.deadline)
    except (FormatError, OSError) as exc:
        unreadable(scan, where, "GGUF file", exc)
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


class GgufFormat(ModelFormat):
    name = "gguf"
    kinds: ClassVar[frozenset[str]] = frozenset({"gguf"})
    extensions: ClassVar[frozenset[str]] = frozenset({".gguf"})

    def recognise(self, head: bytes, size: int | None, fast: bool) -> str | None:
        return "gguf" if head.startswith(b"GGUF") else None

    def reads_content(self, file: Sniffed) -> bool:
        return False  # read with the names: a `.safetensors` file stays safetensors

    def reads_name(self, file: Sniffed) -> bool:
        return file.kind == "gguf" or file.ext in self.extensions

    def scan(
        self, engine: Engine, fh: IO[bytes], where: Where, file: Sniffed, path: Path | None
    ) -> None:
        engine.scan.format("gguf")
        scan_gguf(engine.scan, where, fh)
