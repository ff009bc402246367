"""Readers for the non-pickle model formats the models gate checks: GGUF metadata, ONNX and
TensorFlow SavedModel protobufs. Each reads bytes only (nothing is imported, loaded or
rendered), seeks over what it does not need, and is bounded in what it keeps.

- GGUF: the header and metadata key/values (llama.cpp's gguf format, versions 1-3); the chat
  templates (`tokenizer.chat_template`, `tokenizer.chat_template.<name>`) are kept, up to
  MAX_TEMPLATE bytes, and checked for Jinja constructs that reach Python objects.
- Protobuf: a minimal wire-format reader (varint, 64-bit, length-delimited, 32-bit fields),
  enough to walk ONNX's ModelProto/GraphProto/TensorProto and TensorFlow's
  SavedModel/GraphDef/FunctionDef without the onnx or tensorflow packages.
"""

from __future__ import annotations

import re
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath, PureWindowsPath
from typing import IO

MAX_TEMPLATE = 1 << 20  # bytes of one chat template that are checked
MAX_KV = 1 << 20  # GGUF metadata entries
MAX_FIELDS = 5_000_000  # protobuf fields visited in one file
MAX_DEPTH = 32  # nested messages / GGUF arrays


class FormatError(Exception):
    """The bytes are not what the format says (truncated, out of bounds, too deep)."""


def _check_deadline(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise TimeoutError("scan timed out")


# --- GGUF -----------------------------------------------------------------------------------

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
                    _check_deadline(self.deadline)
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


# --- protobuf wire format ---------------------------------------------------------------------

VARINT, I64, LEN, I32 = 0, 1, 2, 5


@dataclass(frozen=True)
class Field:
    number: int
    wire: int
    value: int  # the varint / fixed value, or the payload offset of a LEN field
    length: int = 0  # the payload length of a LEN field


class Wire:
    """Reads protobuf fields from a seekable file, by offset, keeping nothing."""

    def __init__(self, fh: IO[bytes], size: int, deadline: float | None = None) -> None:
        self.fh = fh
        self.size = size
        self.deadline = deadline
        self.visited = 0

    def _varint(self) -> int:
        value = shift = 0
        while True:
            byte = self.fh.read(1)
            if not byte:
                raise FormatError("truncated varint")
            value |= (byte[0] & 0x7F) << shift
            if not byte[0] & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise FormatError("varint longer than 10 bytes")

    def fields(self, start: int, end: int) -> Iterator[Field]:
        """The fields of the message stored in bytes [start, end)."""
        pos = start
        while pos < end:
            self.visited += 1
            if self.visited > MAX_FIELDS:
                raise FormatError(f"more than {MAX_FIELDS} protobuf fields")
            if not self.visited & 0xFFFF:
                _check_deadline(self.deadline)
            self.fh.seek(pos)
            key = self._varint()
            number, wire = key >> 3, key & 7
            item, pos = self._field(number, wire)
            if pos > end:
                raise FormatError(f"field {number} goes past its message")
            yield item

    def _field(self, number: int, wire: int) -> tuple[Field, int]:
        if wire == VARINT:
            value = self._varint()
            return Field(number, wire, value), self.fh.tell()
        if wire in (I64, I32):
            width = 8 if wire == I64 else 4
            data = self.fh.read(width)
            if len(data) != width:
                raise FormatError("truncated fixed-width field")
            return Field(number, wire, int.from_bytes(data, "little")), self.fh.tell()
        if wire == LEN:
            length = self._varint()
            offset = self.fh.tell()
            if offset + length > self.size:
                raise FormatError(f"field {number} of {length} bytes goes past the end")
            return Field(number, wire, offset, length), offset + length
        raise FormatError(f"unsupported wire type {wire}")

    def text(self, item: Field, keep: int = 4096) -> str | None:
        if item.wire != LEN or item.length > keep:
            return None
        self.fh.seek(item.value)
        return self.fh.read(item.length).decode("utf-8", "replace")

    def sub(self, item: Field) -> Iterator[Field]:
        if item.wire != LEN:
            return iter(())
        return self.fields(item.value, item.value + item.length)


# --- ONNX ---------------------------------------------------------------------------------------

# ModelProto.graph=7, .functions=25; GraphProto.node=1, .initializer=5,
# .sparse_initializer=15; NodeProto.attribute=5; FunctionProto.node=7; AttributeProto.t=5,
# .g=6, .tensors=10, .graphs=11, .sparse_tensor=22, .sparse_tensors=23;
# SparseTensorProto.values=1, .indices=2; TensorProto.name=8, .external_data=13;
# StringStringEntryProto.key=1, .value=2.


@dataclass
class OnnxExternal:
    tensor: str
    location: str


def onnx_external_data(wire: Wire, size: int) -> list[OnnxExternal]:
    """Every tensor's external_data location, from the model's graphs (at any depth, in
    node attributes and subgraphs) and its functions."""
    found: list[OnnxExternal] = []
    stack: list[tuple[str, Field, int]] = []
    for item in wire.fields(0, size):
        if item.number == 7:
            stack.append(("graph", item, 0))
        elif item.number == 25:
            stack.append(("function", item, 0))
    while stack:
        kind, item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise FormatError("graphs nested too deep")
        if kind == "tensor":
            _tensor_locations(wire, item, found)
            continue
        for child in wire.sub(item):
            stack.extend((k, child, depth + 1) for k in _onnx_children(kind, child.number))
    return found


_ONNX_CHILDREN: dict[str, dict[int, tuple[str, ...]]] = {
    "graph": {1: ("node",), 5: ("tensor",), 15: ("sparse",)},
    "function": {7: ("node",)},
    "node": {5: ("attribute",)},
    "attribute": {
        5: ("tensor",),
        6: ("graph",),
        10: ("tensor",),
        11: ("graph",),
        22: ("sparse",),
        23: ("sparse",),
    },
    "sparse": {1: ("tensor",), 2: ("tensor",)},
}


def _onnx_children(kind: str, number: int) -> tuple[str, ...]:
    return _ONNX_CHILDREN.get(kind, {}).get(number, ())


def _tensor_locations(wire: Wire, tensor: Field, found: list[OnnxExternal]) -> None:
    name = ""
    locations = []
    for item in wire.sub(tensor):
        if item.number == 8:
            name = wire.text(item) or ""
        elif item.number == 13:
            entry = {f.number: f for f in wire.sub(item)}
            key = wire.text(entry[1]) if 1 in entry else None
            if key == "location" and 2 in entry:
                locations.append(wire.text(entry[2], 65536) or "")
    found.extend(OnnxExternal(name, location) for location in locations)


def escapes(location: str) -> bool:
    """Whether an external-data location is absolute or leaves the model's directory."""
    if not location or "\x00" in location:
        return True
    windows = PureWindowsPath(location)
    if location.startswith(("/", "\\")) or windows.drive or windows.root:
        return True
    parts = PurePosixPath(location.replace("\\", "/")).parts
    return ".." in parts or "://" in location


# --- TensorFlow SavedModel ---------------------------------------------------------------------

# SavedModel.meta_graphs=2; MetaGraphDef.graph_def=2; GraphDef.node=1, .library=2;
# FunctionDefLibrary.function=1; FunctionDef.node_def=3; NodeDef.op=2.
TF_CALLS_PYTHON = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})
TF_TOUCHES_FILES = frozenset(
    {
        "ReadFile",
        "WriteFile",
        "MatchingFiles",
        "ImmutableConst",
        "FixedLengthRecordDataset",
        "FixedLengthRecordDatasetV2",
        "TextLineDataset",
        "TextLineDatasetV2",
        "TFRecordDataset",
        "TFRecordDatasetV2",
        "SaveDataset",
        "SaveDatasetV2",
        "DatasetToTFRecord",
        "CreateSummaryFileWriter",
        "DebugIdentityV2",
        "DebugIdentityV3",
        "LoadAndRemapMatrix",
    }
)


def savedmodel_ops(wire: Wire, size: int) -> set[str]:
    """The op names of every node in the SavedModel's graphs and their function library."""
    ops: set[str] = set()
    for meta in (f for f in wire.fields(0, size) if f.number == 2):
        for graph in (f for f in wire.sub(meta) if f.number == 2):
            for item in wire.sub(graph):
                if item.number == 1:
                    _node_op(wire, item, ops)
                elif item.number == 2:
                    _library_ops(wire, item, ops)
    return ops


def _library_ops(wire: Wire, library: Field, ops: set[str]) -> None:
    for function in (f for f in wire.sub(library) if f.number == 1):
        for node in (f for f in wire.sub(function) if f.number == 3):
            _node_op(wire, node, ops)


def _node_op(wire: Wire, node: Field, ops: set[str]) -> None:
    for item in wire.sub(node):
        if item.number == 2:
            op = wire.text(item, 256)
            if op:
                ops.add(op)


def keras_metadata_json(wire: Wire, size: int) -> Iterator[str]:
    """The JSON metadata strings of keras_metadata.pb (SavedMetadata.nodes=1,
    SavedObject.metadata=5)."""
    for node in (f for f in wire.fields(0, size) if f.number == 1):
        for item in wire.sub(node):
            if item.number == 5:
                text = wire.text(item, 64 << 20)
                if text:
                    yield text
