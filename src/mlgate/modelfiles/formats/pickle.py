"""Pickles: any protocol, any first opcode (a file is a pickle when its opcodes parse as
CPython would run them), and the files loaders read as pickles by name (joblib, PyTorch's
legacy format, a `.npy` that is not an array). The stream is walked by `pickle_vm`, never
unpickled; a file small enough is read into memory first, a larger one streamed."""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO, ClassVar

from mlgate.modelfiles.formats.base import Engine, ModelFormat, Sniffed
from mlgate.modelfiles.formats.numpy import NUMPY_EXTS
from mlgate.modelfiles.pickle_streams import scan_pickle_stream
from mlgate.modelfiles.pickle_vm import ByteSource, parses_as_pickle
from mlgate.modelfiles.records import Where

PICKLE_EXTS = frozenset({".pkl", ".pickle", ".joblib"})
TORCH_EXTS = frozenset({".pt", ".pth", ".bin", ".ckpt"})
# Extensions whose files are read as a pickle even when their first bytes do not say so.
PICKLE_FAMILY = PICKLE_EXTS | (TORCH_EXTS - {".bin"})
SNIFF_PARSE = 2048  # bytes run through the opcode parser to decide "is a pickle"


class PickleFormat(ModelFormat):
    name = "pickle"
    kinds: ClassVar[frozenset[str]] = frozenset({"pickle"})
    extensions: ClassVar[frozenset[str]] = PICKLE_EXTS

    def recognise(self, head: bytes, size: int | None, fast: bool) -> str | None:
        """`fast`: a PROTO 2-5 opening is a pickle without parsing further (not for bytes
        that were never meant as one, such as tensor data in a zip)."""
        if fast and len(head) >= 3 and head[0] == 0x80 and 2 <= head[1] <= 5:
            return "pickle"  # what pickle.dump writes (a damaged one is reported)
        if parses_as_pickle(head[:SNIFF_PARSE], len(head) + 1 if size is None else size):
            return "pickle"
        return None

    def reads_name(self, file: Sniffed) -> bool:
        # np.load unpickles whatever is neither zip nor npy; torch.load and joblib.load read
        # these names as pickles: a file that does not parse cannot be proven safe.
        return file.ext in PICKLE_FAMILY | NUMPY_EXTS

    def scan(
        self, engine: Engine, fh: IO[bytes], where: Where, file: Sniffed, path: Path | None
    ) -> None:
        engine.scan.format("pytorch-legacy" if file.ext in TORCH_EXTS else "pickle")
        source: ByteSource = fh
        if path is not None and path.stat().st_size <= engine.settings.max_file_bytes:
            source = io.BytesIO(fh.read())
        report = scan_pickle_stream(engine.scan, where, source)
        if report.pickles > 1:
            engine.scan.note(where, f"{report.pickles} consecutive pickles scanned")
