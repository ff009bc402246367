"""ONNX: every tensor's external-data location, from the model's graphs (at any depth, in
node attributes and subgraphs) and its functions, read with the protobuf wire reader.
A location outside the model's directory is high: onnx.load reads (and some tools write)
any file the location names (CVE-2024-27318).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import IO, ClassVar

from mlgate.findings import Severity
from mlgate.modelfiles.errors import FormatError
from mlgate.modelfiles.formats.base import Engine, ModelFormat, Sniffed, unreadable
from mlgate.modelfiles.protobuf import MAX_DEPTH, Field, Wire
from mlgate.modelfiles.records import CWE_PATH, RULE_ONNX_EXTERNAL, Scan, Where
from mlgate.modelfiles.streams import size_of

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


def scan_onnx(scan: Scan, where: Where, fh: IO[bytes]) -> None:
    size = size_of(fh)
    try:
        external = onnx_external_data(Wire(fh, size, scan.settings.deadline), size)
    except (FormatError, OSError) as exc:
        unreadable(scan, where, "ONNX protobuf", exc)
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


class OnnxFormat(ModelFormat):
    name = "onnx"
    extensions: ClassVar[frozenset[str]] = frozenset({".onnx"})
    by_name = True

    def scan(
        self, engine: Engine, fh: IO[bytes], where: Where, file: Sniffed, path: Path | None
    ) -> None:
        engine.scan.format("onnx")
        scan_onnx(engine.scan, where, fh)
