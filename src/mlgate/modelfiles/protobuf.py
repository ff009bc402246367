"""A minimal protobuf wire-format reader (varint, 64-bit, length-delimited, 32-bit fields),
enough to walk ONNX's ModelProto/GraphProto/TensorProto and TensorFlow's
SavedModel/GraphDef/FunctionDef without the onnx or tensorflow packages. It reads bytes
only, by offset, seeks over what it does not need and keeps nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from mlgate.modelfiles.errors import FormatError, check_deadline

MAX_FIELDS = 5_000_000  # protobuf fields visited in one file
MAX_DEPTH = 32  # nested messages

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
                check_deadline(self.deadline)
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
