"""The format registry: `FORMATS = {name: format}`, one module per format family.

The order is the order of recognition: `sniff` asks each format in turn to recognise a
file's first bytes (zip, npy, HDF5 and GGUF magic before joblib's compressors, whose
one-byte zlib magic is checked by decompressing, then tar checksums, then the pickle
opcode parser, which accepts the most). A file goes to the format that recognised its
content when that format `reads_content`; otherwise to the first format that `reads_name`
(safetensors before GGUF: a `.safetensors` file is checked as one whatever its bytes).

Adding a format is one module: subclass `ModelFormat` (what it recognises, which names
select it, `scan`), and add an instance here; everything else (`index()`: the format of
each kind, the names that select a model file, which must parse) is derived from it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from mlgate.modelfiles.formats.base import ModelFormat, Sniffed
from mlgate.modelfiles.formats.gguf import GgufFormat
from mlgate.modelfiles.formats.joblib import JoblibFormat
from mlgate.modelfiles.formats.keras import KerasH5Format
from mlgate.modelfiles.formats.numpy import NumpyFormat
from mlgate.modelfiles.formats.onnx import OnnxFormat
from mlgate.modelfiles.formats.pickle import PickleFormat
from mlgate.modelfiles.formats.pytorch import PytorchTarFormat
from mlgate.modelfiles.formats.safetensors import SafetensorsFormat
from mlgate.modelfiles.formats.tensorflow import TensorFlowFormat
from mlgate.modelfiles.formats.zip import ZipFormat

FORMATS: dict[str, ModelFormat] = {
    f.name: f
    for f in (
        ZipFormat(),
        NumpyFormat(),
        KerasH5Format(),
        SafetensorsFormat(),
        GgufFormat(),
        JoblibFormat(),
        PytorchTarFormat(),
        PickleFormat(),
        OnnxFormat(),
        TensorFlowFormat(),
    )
}


@dataclass(frozen=True)
class Index:
    """What the registry's formats declare, gathered: the format of each kind, the names that
    make a file a model file, and the extensions whose files must parse (else medium)."""

    by_kind: Mapping[str, ModelFormat]
    extensions: frozenset[str]
    strict_extensions: frozenset[str]
    filenames: frozenset[str]


@functools.cache
def _index_of(formats: tuple[ModelFormat, ...]) -> Index:
    return Index(
        by_kind={kind: f for f in formats for kind in f.kinds},
        extensions=frozenset(ext for f in formats for ext in f.extensions),
        strict_extensions=frozenset(ext for f in formats if f.strict for ext in f.extensions),
        filenames=frozenset(name for f in formats for name in f.filenames),
    )


def index() -> Index:
    """The registry's index, for the formats registered now."""
    return _index_of(tuple(FORMATS.values()))


def sniff(head: bytes, size: int | None = None, fast: bool = True) -> str | None:
    """The kind a file's first bytes announce (`size`: the file's size, when known).
    `fast`: a PROTO 2-5 opening is a pickle without parsing further (not for bytes that
    were never meant as one, such as tensor data in a zip)."""
    for model_format in FORMATS.values():
        kind = model_format.recognise(head, size, fast)
        if kind is not None:
            return kind
    return None


def selects(kind: str | None, head: bytes) -> bool:
    """Whether content sniffed as `kind` makes a file a model file, whatever its name."""
    model_format = index().by_kind.get(kind) if kind is not None else None
    return model_format is not None and model_format.selects(kind, head)


def reader_of(file: Sniffed) -> ModelFormat | None:
    """The format that reads a file: by content, else by name; None: not a model format."""
    by_content = index().by_kind.get(file.kind) if file.kind is not None else None
    if by_content is not None and by_content.reads_content(file):
        return by_content
    return next((f for f in FORMATS.values() if f.reads_name(file)), None)


__all__ = [
    "FORMATS",
    "Index",
    "ModelFormat",
    "Sniffed",
    "index",
    "reader_of",
    "selects",
    "sniff",
]
