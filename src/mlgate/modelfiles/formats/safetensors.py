"""safetensors: the format itself runs no code; its header is sanity-checked (an 8-byte
length, a JSON object, every tensor's dtype, shape and in-bounds data offsets)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any, ClassVar

from mlgate.findings import Severity
from mlgate.modelfiles.formats.base import Engine, ModelFormat, Sniffed
from mlgate.modelfiles.records import MB, RULE_UNPARSEABLE, Where
from mlgate.modelfiles.streams import size_of

MAX_SAFETENSORS_HEADER = 100 * MB


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


class SafetensorsFormat(ModelFormat):
    name = "safetensors"
    extensions: ClassVar[frozenset[str]] = frozenset({".safetensors"})
    by_name = True

    def scan(
        self, engine: Engine, fh: IO[bytes], where: Where, file: Sniffed, path: Path | None
    ) -> None:
        engine.scan.format("safetensors")
        problem = safetensors_problem(fh, size_of(fh))
        if problem is not None:
            message = f"not a valid safetensors file: {problem}"
            engine.scan.add(where, RULE_UNPARSEABLE, Severity.LOW, message, "safetensors")
