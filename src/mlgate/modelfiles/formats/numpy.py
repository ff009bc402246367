"""NumPy: `.npy` headers read as numpy.lib.format reads them (versions 1.0, 2.0 and 3.0,
ast.literal_eval of the header dict, never eval); an object array's data is the pickle
np.load(allow_pickle=True) would read, and is scanned as one. `.npz` files are zips
(`formats.zip`), whose members with the npy magic are arrays whatever their names.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import IO, Any, ClassVar

from mlgate.findings import Severity
from mlgate.modelfiles.formats.base import Engine, ModelFormat, Sniffed
from mlgate.modelfiles.pickle_streams import scan_pickle_stream
from mlgate.modelfiles.pickle_vm import ByteSource, base_dtype
from mlgate.modelfiles.records import RULE_NUMPY_OBJECT, RULE_UNPARSEABLE, Scan, Where
from mlgate.modelfiles.streams import read_exact

NPY_MAGIC = b"\x93NUMPY"
NUMPY_EXTS = frozenset({".npy", ".npz"})
MAX_NPY_HEADER = 1 << 16

_NPY_VERSIONS = {1: (2, "latin-1"), 2: (4, "latin-1"), 3: (4, "utf-8")}
_NPY_KEYS = {"descr", "fortran_order", "shape"}


def npy_header(source: ByteSource) -> dict[str, Any] | str:
    """The header dict of a .npy stream, read as numpy.lib.format reads it (versions 1.0,
    2.0 and 3.0, ast.literal_eval of the dict, exactly its three keys), or why numpy would
    refuse it."""
    start = read_exact(source, 8)
    if len(start) < 8 or not start.startswith(NPY_MAGIC):
        return "not a .npy file (bad magic)"
    major, minor = start[6], start[7]
    if major not in _NPY_VERSIONS or minor != 0:
        return f"unsupported format version {major}.{minor}"
    width, encoding = _NPY_VERSIONS[major]
    size = int.from_bytes(read_exact(source, width), "little")
    if size > MAX_NPY_HEADER:
        return f"header of {size} bytes is larger than {MAX_NPY_HEADER}"
    try:
        header = _literal(read_exact(source, size).decode(encoding), major)
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


def scan_npy(scan: Scan, where: Where, source: ByteSource) -> None:
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


class NumpyFormat(ModelFormat):
    name = "numpy"
    kinds: ClassVar[frozenset[str]] = frozenset({"npy"})
    extensions: ClassVar[frozenset[str]] = NUMPY_EXTS

    def recognise(self, head: bytes, size: int | None, fast: bool) -> str | None:
        return "npy" if head.startswith(NPY_MAGIC) else None

    def scan(
        self, engine: Engine, fh: IO[bytes], where: Where, file: Sniffed, path: Path | None
    ) -> None:
        engine.scan.format("numpy")
        scan_npy(engine.scan, where, fh)
