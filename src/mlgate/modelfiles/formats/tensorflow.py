"""TensorFlow SavedModel (`saved_model.pb`): the op of every node in its graphs and their
function library, read with the protobuf wire reader; ops that call Python or read or
write files are high. `keras_metadata.pb`: its JSON metadata, checked as a Keras config.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, ClassVar

from mlgate.findings import Severity
from mlgate.modelfiles.errors import FormatError
from mlgate.modelfiles.formats.base import Engine, ModelFormat, Sniffed, unreadable
from mlgate.modelfiles.formats.keras import report_keras
from mlgate.modelfiles.protobuf import Field, Wire
from mlgate.modelfiles.records import RULE_TF_OP, Scan, Where
from mlgate.modelfiles.streams import size_of

SAVED_MODEL = "saved_model.pb"
KERAS_METADATA = "keras_metadata.pb"
TF_PROTOBUFS = frozenset({SAVED_MODEL, KERAS_METADATA})

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


def scan_tf_protobuf(scan: Scan, where: Where, fh: IO[bytes], base: str) -> None:
    size = size_of(fh)
    wire = Wire(fh, size, scan.settings.deadline)
    try:
        if base == KERAS_METADATA:
            for text in keras_metadata_json(wire, size):
                with contextlib.suppress(ValueError):
                    report_keras(scan, where, json.loads(text))
            return
        ops = savedmodel_ops(wire, size)
    except (FormatError, OSError) as exc:
        unreadable(scan, where, "TensorFlow protobuf", exc)
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


class TensorFlowFormat(ModelFormat):
    name = "tf-savedmodel"
    filenames: ClassVar[frozenset[str]] = TF_PROTOBUFS
    by_name = True

    def scan(
        self, engine: Engine, fh: IO[bytes], where: Where, file: Sniffed, path: Path | None
    ) -> None:
        engine.scan.format("tf-savedmodel" if file.base == SAVED_MODEL else "keras-metadata")
        scan_tf_protobuf(engine.scan, where, fh, file.base)
