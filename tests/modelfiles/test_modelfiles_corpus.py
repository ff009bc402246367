"""The models gate against published bypass classes, each with several variants, and benign
models written by the real libraries.

Every variant is built here (nothing binary is committed) by a `make(payload)` function:
with `EVIL` (os.system) it is the malicious file the gate must flag; with a harmless `print`
it is its twin, which is LOADED ONCE by the loader a victim would use (pickle.load,
joblib.load, np.load(allow_pickle=True), ...) to prove that the variant really runs its
payload. A malicious file is never loaded; `test_no_payload_ran` checks its marker.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import importlib
import io
import lzma
import os
import pickle
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib  # type: ignore[import-untyped]
import numpy as np  # the dev extra: a missing one fails, never skips
import pytest

from mlgate.findings import Finding, Severity
from mlgate.gates import GATES, GateContext
from mlgate.gates.modelfiles import ModelFilesGate
from mlgate.repo import open_repo

MARKER = "MLGATE_CORPUS_PAYLOAD_RAN"


class Call:
    """Pickles as `func(*args)`: os.system for the malicious file, print for its twin."""

    def __init__(self, func: Callable[..., Any], *args: Any) -> None:
        self.func = func
        self.args = args

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.func, self.args)


def evil(root: Path) -> Call:
    return Call(os.system, f"touch {root / MARKER}")


def twin(tag: str) -> Call:
    return Call(print, f"TWIN-RAN:{tag}")


# --- loaders a victim uses ------------------------------------------------------------------


def load_pickle(path: Path) -> None:
    with path.open("rb") as fh:
        pickle.load(fh)  # a harmless twin: its payload is print


def load_joblib(path: Path) -> None:
    with warnings.catch_warnings():  # joblib warns about its oldest format (zfile)
        warnings.simplefilter("ignore")
        joblib.load(path)


def load_numpy(path: Path) -> None:
    loaded = np.load(path, allow_pickle=True)
    if hasattr(loaded, "files"):
        for name in loaded.files:
            loaded[name]


# --- the variants ---------------------------------------------------------------------------


def p(obj: object, protocol: int) -> bytes:
    return pickle.dumps(obj, protocol=protocol)


def no_proto(obj: object) -> bytes:
    """Protocol 2 opcodes without the PROTO opcode CPython writes first."""
    return p(obj, 2)[2:]


def int_pop_first(obj: object) -> bytes:
    """Starts with `I0\\n0` (INT, POP): no scanner magic matches, pickle.load does not care."""
    return b"I0\n0" + p(obj, 0)


def unicode_first(obj: object) -> bytes:
    """Starts with SHORT_BINUNICODE then POP."""
    return b"\x8c\x04junk0" + no_proto(obj)


def joblib_bytes(obj: object, compress: str | None = None) -> bytes:
    """What joblib.dump writes (to a real file, as users call it)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.joblib"
        joblib.dump(obj, path, compress=(compress, 3) if compress else 0)
        return path.read_bytes()


def compressed(data: bytes, kind: str) -> bytes:
    """The bytes joblib writes for `compress=kind` (its compressors are the stdlib's)."""
    if kind == "gzip":
        return gzip.compress(data)
    if kind == "bz2":
        return bz2.compress(data)
    if kind == "xz":
        return lzma.compress(data)
    if kind == "lzma":
        return lzma.compress(data, format=lzma.FORMAT_ALONE)
    if kind == "zlib":
        return zlib.compress(data)
    if kind == "zfile":  # joblib < 0.9.3: "ZF", the length in hex, zlib data
        return b"ZF" + f"0x{len(data):x}".ljust(19).encode() + zlib.compress(data)
    raise ValueError(kind)


def npy_bytes(descr: str, body: bytes, shape: str = "(1,)") -> bytes:
    header = f"{{'descr': {descr}, 'fortran_order': False, 'shape': {shape}, }}"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + body


def npz_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def s4(text: str) -> bytes:
    data = text.encode()
    return b"\x8c" + bytes([len(data)]) + data


def wrapper(
    typestr: str, shape: bytes, state: bytes | None = None, alignment: bytes | None = b"K\x10"
) -> bytes:
    """A hand-built NumpyArrayWrapper (protocol 4) up to and including its BUILD: joblib reads
    the array data right after it. `shape` and `state` are raw opcodes."""
    out = b"\x80\x04](" + s4("joblib.numpy_pickle") + s4("NumpyArrayWrapper") + b"\x93)\x81}("
    out += s4("subclass") + s4("numpy") + s4("ndarray") + b"\x93" + s4("shape") + shape
    out += s4("order") + s4("C") + s4("dtype")
    out += s4("numpy") + s4("dtype") + b"\x93" + s4(typestr) + b"\x89\x88\x87R"
    if state is not None:
        out += state + b"b"
    out += s4("allow_mmap") + b"\x89"
    if alignment is not None:
        out += s4("numpy_array_alignment_bytes") + alignment
    return out + b"ub"


def dtype_state(flags: int, elsize: int = -1) -> bytes:
    """numpy's dtype state (3, '<', None, None, None, elsize, -1, flags)."""
    out = b"(K\x03" + s4("<") + b"NNN" + b"J" + struct.pack("<i", elsize)
    return out + b"J\xff\xff\xff\xffK" + bytes([flags]) + b"t"


def flags_object(obj: object) -> bytes:
    """A float64 dtype whose pickled flags say `hasobject` (numpy trusts them): joblib reads a
    nested pickle where a scanner that sizes by type skips 8 bytes."""
    head = wrapper("f8", b"K\x01\x85", dtype_state(0x3F))
    return head + p(obj, 3) + b"e."


def elsize_unicode(obj: object) -> bytes:
    """'U1' whose pickled elsize says 40 bytes (numpy trusts it): U1 would be 4."""
    head = wrapper("U1", b"K\x01\x85", dtype_state(0x08, 40))
    return head + b"\x00" + b"a\x00\x00\x00" * 10 + p(obj, 3)[2:-1] + b"e."


TRACKED_NOT = b"\x8c\x08builtins\x8c\x05tuple\x93]K\x02a\x85R"  # tuple([2]): a call result


def untracked_shape(obj: object) -> bytes:
    """The shape is the result of a call (tuple([2])): where the data ends is not known
    without running it."""
    return wrapper("i1", TRACKED_NOT) + b"\x00\x01\x02" + p(obj, 3)[2:-1] + b"e."


def alignment_any_type(obj: object) -> bytes:
    """numpy_array_alignment_bytes set to a string: joblib still reads the padding byte."""
    head = wrapper("i1", b"K\x02\x85", alignment=s4("x"))
    return head + b"\x03" + b"\x00" * 3 + b"\x01\x02" + p(obj, 3)[2:-1] + b"e."


def alignment_long_str(obj: object) -> bytes:
    """The alignment is a string longer than the scanner keeps: its value is unknown."""
    long = b"X" + struct.pack("<I", 300) + b"y" * 300
    head = wrapper("i1", b"K\x02\x85", alignment=long)
    return head + b"\x03" + b"\x00" * 3 + b"\x01\x02" + p(obj, 3)[2:-1] + b"e."


# --- PyTorch containers, read the way PyTorch reads them ------------------------------------


def torch_zip(data_pkl: bytes, compress: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compress) as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        archive.writestr("archive/version", "3\n")
    return buffer.getvalue()


def bad_crc(data: bytes) -> bytes:
    """Every CRC-32 in the zip (local headers and central directory) zeroed: zipfile stops
    with 'Bad CRC-32' at the last read; PyTorch's reader does not check CRCs."""
    out = bytearray(data)
    for magic, at in ((b"PK\x03\x04", 14), (b"PK\x01\x02", 16)):
        pos = out.find(magic)
        while pos >= 0:
            out[pos + at : pos + at + 4] = b"\x00\x00\x00\x00"
            pos = out.find(magic, pos + 4)
    return bytes(out)


def torch_crc_stored(obj: object) -> bytes:
    return bad_crc(torch_zip(p(obj, 2)))


def torch_crc_deflated(obj: object) -> bytes:
    return bad_crc(torch_zip(p(obj, 2), zipfile.ZIP_DEFLATED))


def v7_tar(members: dict[str, bytes]) -> bytes:
    """A tar without the `ustar` magic (pre-POSIX headers): tarfile, and so PyTorch's
    legacy loader, only checks the header checksum."""
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    out = bytearray(buffer.getvalue())
    with tarfile.open(fileobj=io.BytesIO(bytes(out)), mode="r:") as archive:
        offsets = [member.offset for member in archive]
    for at in offsets:
        out[at + 257 : at + 265] = bytes(8)
        out[at + 148 : at + 156] = b" " * 8
        out[at + 148 : at + 156] = b"%06o\x00 " % sum(out[at : at + 512])
    return bytes(out)


def torch_v7_tar(obj: object) -> bytes:
    empty = p({}, 2)
    return v7_tar({"sys_info": empty, "pickle": p(obj, 2), "storages": p(0, 2), "tensors": empty})


def load_zip_like_torch(path: Path) -> None:
    """PyTorch's zip reader locates data.pkl through the central directory and checks no
    CRC (torch is not installed here: the same steps, done with mlgate's raw reader)."""
    from mlgate.modelfiles import raw_member

    with path.open("rb") as fh, zipfile.ZipFile(fh) as archive:
        info = archive.getinfo("archive/data.pkl")
        with pytest.raises(zipfile.BadZipFile, match="CRC"):
            archive.read(info)  # what a zipfile-based scanner gets
        stream = raw_member(fh, info)
        pickle.loads(stream.read(info.file_size))  # the twin: its payload is print


def load_tar_like_torch(path: Path) -> None:
    """torch.serialization's legacy_load: tarfile.open(mode='r:'), then the 'pickle' member
    unpickled (torch is not installed here: the same calls)."""
    import tarfile

    with tarfile.open(path, mode="r:", format=tarfile.PAX_FORMAT) as archive:
        member = archive.extractfile("pickle")
        assert member is not None
        pickle.load(member)


@dataclass(frozen=True)
class Variant:
    name: str  # the file name in the corpus
    klass: str  # the bypass class of issue 14
    make: Callable[[Call], bytes]
    load: Callable[[Path], None]


def _variants() -> list[Variant]:
    v = Variant
    out = [
        # 1. selection and sniffing: a pickle is decided by content, not name or magic
        v("sniff/model.sav", "selection", lambda c: p(c, 0), load_pickle),
        v("sniff/weights.data", "selection", no_proto, load_pickle),
        v("sniff/classifier", "selection", lambda c: p(c, 5), load_pickle),
        v("sniff/state.model", "selection", int_pop_first, load_pickle),
        v("sniff/cache.dat", "selection", unicode_first, load_pickle),
        v("sniff/ckpt.bin", "selection", lambda c: p(c, 1), load_pickle),
        # 2. compression: joblib picks the decompressor by magic whatever the name
        *(
            v(f"compress/model.{kind}", "compression", _joblib_compressed(kind), load_joblib)
            for kind in ("gzip", "bz2", "xz", "lzma", "zlib", "lz4", "zfile")
        ),
        v("compress/renamed.pkl", "compression", _joblib_compressed("xz"), load_joblib),
        # 3. numpy: object dtypes in every spelling, npz members by magic, a pickle as .npy
        *(
            v(f"numpy/{label}.npy", "numpy", _npy(descr), load_numpy)
            for label, descr in (
                ("O", "'O'"),
                ("object", "'object'"),
                ("pipe_O", "'|O'"),
                ("O8", "'O8'"),
                ("subarray", "('|O', (1,))"),
                ("nested", "[('a', '<f8'), ('b', [('c', '|O')])]"),
                ("titled", "[(('t', 'a'), '|O', (1,))]"),
                ("comma", "'i4,O'"),
            )
        ),
        v("numpy/member_by_magic.npz", "numpy", _npz_member, load_numpy),
        v("numpy/pickle_as.npy", "numpy", lambda c: p(c, 2), load_numpy),
        # 4. joblib arrays: the raw data skipped with numpy's real item size
        *(
            v(f"joblib/{label}.joblib", "joblib-arrays", _joblib_after(array), load_joblib)
            for label, array in (
                ("unicode", lambda: np.array(["abcd", "ef"])),
                ("bytes", lambda: np.array([b"abc", b"d"])),
                ("datetime", lambda: np.array(["2024-01-01"], dtype="M8[ns]")),
                ("structured", lambda: np.zeros(3, dtype=[("a", "<U3"), ("b", "<f4")])),
                ("void_object", lambda: np.zeros(2, dtype=[("o", "O", (2,)), ("f", "<f8")])),
            )
        ),
        v("joblib/flags_hasobject.joblib", "joblib-arrays", flags_object, load_joblib),
        v("joblib/alignment_str.joblib", "joblib-arrays", alignment_any_type, load_joblib),
        v("joblib/elsize.joblib", "joblib-arrays", elsize_unicode, load_joblib),
        v("joblib/untracked_shape.data", "joblib-arrays", untracked_shape, load_joblib),
        v("joblib/alignment_long.joblib", "joblib-arrays", alignment_long_str, load_joblib),
        # 6. PyTorch containers: no CRC check, no `ustar` magic needed
        v("torch/bad_crc.pt", "torch", torch_crc_stored, load_zip_like_torch),
        v("torch/bad_crc_deflated.pth", "torch", torch_crc_deflated, load_zip_like_torch),
        v("torch/v7_tar.pt", "torch", torch_v7_tar, load_tar_like_torch),
        v("torch/v7_tar_named.data", "torch", torch_v7_tar, load_tar_like_torch),
    ]
    return out


def _joblib_compressed(kind: str) -> Callable[[Call], bytes]:
    if kind == "zfile":  # joblib no longer writes it, but still loads it
        return lambda call: compressed(joblib_bytes([1, call]), kind)
    return lambda call: joblib_bytes([1, call], compress=kind)


def _npy(descr: str) -> Callable[[Call], bytes]:
    return lambda call: npy_bytes(descr, p(call, 2))


def _npz_member(call: Call) -> bytes:
    plain = npy_bytes("'<f8'", b"\x00" * 8)
    return npz_bytes({"a.npy": plain, "weights.bin": npy_bytes("'|O'", p(call, 2))})


def _joblib_after(array: Callable[[], Any]) -> Callable[[Call], bytes]:
    return lambda call: joblib_bytes([array(), call])


VARIANTS = _variants()
BY_NAME = {item.name: item for item in VARIANTS}


def benign_files() -> dict[str, bytes]:
    """Models written by the real libraries (numpy, joblib, scikit-learn when installed)."""
    files: dict[str, bytes] = {}
    buffer = io.BytesIO()
    np.save(buffer, np.arange(6.0).reshape(2, 3))
    files["good/array.npy"] = buffer.getvalue()
    buffer = io.BytesIO()
    np.savez_compressed(buffer, a=np.arange(3), b=np.array(["x", "yz"]))
    files["good/arrays.npz"] = buffer.getvalue()
    arrays = {
        "unicode": np.array(["cat", "dog", "mouse"]),
        "datetime": np.array(["2024-01-01", "2025-02-02"], dtype="M8[s]"),
        "structured": np.zeros(4, dtype=[("name", "<U5"), ("v", "<f8"), ("raw", "V3")]),
        "objects": np.array(["a", 1, 2.5], dtype=object),
        "bytes": np.array([b"a", b"bcd"]),
    }
    for label, array in arrays.items():
        files[f"good/{label}.joblib"] = joblib_bytes({"x": array, "y": np.arange(5)})
    for kind in ("gzip", "bz2", "xz", "zlib"):
        files[f"good/compressed_{kind}.joblib"] = joblib_bytes([arrays["unicode"]], kind)
    for name, model in library_models().items():
        files[f"good/{name}.joblib"] = joblib_bytes(model)
        files[f"good/{name}.pkl"] = p(model, 5)
    return files


def library_models() -> dict[str, Any]:
    """Fitted models of every installed library the issue names (sklearn, pandas and pyarrow
    are in the dev extra; xgboost, lightgbm and catboost are optional)."""
    import warnings

    warnings.simplefilter("ignore")
    pd = importlib.import_module("pandas")
    importlib.import_module("pyarrow")
    sk = _sklearn_models(pd)
    frame = pd.DataFrame({"s": pd.Series(["x", "y"], dtype=object), "n": [1.5, None]})
    arrow = pd.DataFrame(
        {
            "s": pd.array(["x", None], dtype="string[pyarrow]"),
            "i": pd.array([1, None], dtype="int64[pyarrow]"),
            "c": pd.Categorical(["a", "b"]),
            "t": pd.to_datetime(["2024-01-01", "2025-01-01"]).tz_localize("UTC"),
        },
        index=pd.MultiIndex.from_tuples([(1, "a"), (2, "b")]),
    )
    models: dict[str, Any] = {**sk, "pandas_object": frame, "pandas_pyarrow": arrow}
    x, y = _xy()
    factories: tuple[tuple[str, Callable[[Any], Any]], ...] = (
        ("xgboost", lambda m: m.XGBClassifier(n_estimators=3).fit(x, y)),
        ("lightgbm", lambda m: m.LGBMClassifier(n_estimators=3, verbose=-1).fit(x, y)),
        (
            "catboost",
            lambda m: m.CatBoostClassifier(iterations=3, verbose=0, allow_writing_files=False).fit(
                x, y
            ),
        ),
    )
    for module, factory in factories:
        try:
            lib = __import__(module)
        except ImportError:
            continue
        models[module] = factory(lib)
    if "xgboost" in models:
        models["xgboost_booster"] = models["xgboost"].get_booster()
    return models


def _xy() -> tuple[Any, Any]:
    x = np.random.default_rng(0).random((40, 3))
    return x, (x[:, 0] > 0.5).astype(int)


def _sklearn_models(pd: Any) -> dict[str, Any]:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import LabelEncoder, OneHotEncoder, StandardScaler

    x, y = _xy()
    frame = pd.DataFrame({"n": x[:, 0], "c": np.where(y == 1, "u", "v")})
    numeric = Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())])
    columns = ColumnTransformer(
        [("num", numeric, ["n"]), ("cat", OneHotEncoder(handle_unknown="ignore"), ["c"])]
    )
    pipeline = Pipeline([("columns", columns), ("forest", RandomForestClassifier(3))])
    return {
        "sklearn_pipeline": pipeline.fit(frame, y),
        "sklearn_label_encoder": LabelEncoder().fit(["cat", "dog", "mouse"]),
        "sklearn_hgb": HistGradientBoostingClassifier(max_iter=3).fit(x, y),
        "sklearn_knn": KNeighborsClassifier().fit(x, y),
        "sklearn_logistic": LogisticRegression().fit(x, y),
    }


# --- running the gate once ------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    for variant in VARIANTS:
        _write(root / variant.name, variant.make(evil(root)))
    for rel, data in benign_files().items():
        _write(root / rel, data)
    return root


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.fixture(scope="module")
def findings(corpus: Path) -> dict[str, list[Finding]]:
    repo = open_repo(corpus)
    gate = GATES["models"]
    result = gate.run(GateContext(repo, gate.inputs(repo, {}), timeout=300))
    assert not result.errors, result.errors
    by_path: dict[str, list[Finding]] = {}
    for item in result.findings:
        by_path.setdefault(item.path or "", []).append(item)
    return by_path


def critical_globals(items: list[Finding]) -> set[str]:
    return {
        g for f in items if f.severity is Severity.CRITICAL for g in f.properties.get("globals", [])
    }


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_every_variant_is_selected_and_critical(
    corpus: Path, findings: dict[str, list[Finding]], name: str
) -> None:
    assert name in ModelFilesGate().inputs(open_repo(corpus), {}).files
    assert critical_globals(findings.get(name, [])) == {"posix.system"}, findings.get(name)


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_harmless_twin_runs_its_payload_when_loaded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """The variant is real: its loader runs the twin's payload (print, never os.system)."""
    variant = BY_NAME[name]
    path = tmp_path / Path(name).name
    path.write_bytes(variant.make(twin(name)))
    with contextlib.suppress(Exception):  # the payload runs while loading; the rest may fail
        variant.load(path)
    assert f"TWIN-RAN:{name}" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["joblib/untracked_shape.data", "joblib/alignment_long.joblib"])
def test_unprovable_joblib_array_is_medium_and_the_rest_is_searched(
    findings: dict[str, list[Finding]], name: str
) -> None:
    rules = {f.rule_id: f for f in findings[name]}
    unprovable = rules["pickle-unprovable"]
    assert unprovable.severity is Severity.MEDIUM
    assert "cannot be proven safe" in unprovable.message
    assert unprovable.properties["swept"] == ["posix.system"]


def test_benign_library_files_have_nothing_at_medium_or_above(
    findings: dict[str, list[Finding]],
) -> None:
    benign = set(benign_files())
    flagged = {
        path: [f.message for f in items if f.severity.at_least(Severity.MEDIUM)]
        for path, items in findings.items()
        if path in benign
    }
    assert not any(flagged.values()), flagged


def test_no_payload_ran(findings: dict[str, list[Finding]], corpus: Path) -> None:
    assert findings
    assert not (corpus / MARKER).exists()


# --- the allowlist: exact pairs of what a library defines --------------------------------


@pytest.mark.parametrize(
    ("module", "name", "really"),
    [
        ("sklearn.datasets._covtype", "GzipFile", "gzip.GzipFile"),
        ("sklearn.datasets._covtype", "TemporaryDirectory", "tempfile.TemporaryDirectory"),
        ("sklearn.datasets._openml", "Request", "urllib.request.Request"),
        ("sklearn.callback._transport", "Listener", "multiprocessing.connection.Listener"),
        ("sklearn.callback._transport", "Thread", "threading.Thread"),
        (
            "pandas.io.parsers.readers",
            "ThreadPoolExecutor",
            "concurrent.futures.ThreadPoolExecutor",
        ),
    ],
)
def test_a_re_export_is_not_allowlisted(module: str, name: str, really: str) -> None:
    from mlgate.modelfiles import Allowlist, GlobalRef, Verdict, defined_in

    try:
        obj = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        pytest.skip(f"{module}.{name} is not in the installed version")
    owner, _, attr = really.rpartition(".")
    assert obj is getattr(importlib.import_module(owner), attr)  # it really is a re-export
    assert not defined_in(module, name, "classes")
    assert Allowlist().classify(GlobalRef(module, name)) is not Verdict.SAFE


def test_the_inventory_records_versions_and_defined_names() -> None:
    import json
    from importlib import resources

    from mlgate.modelfiles import Allowlist, GlobalRef, Verdict, defined_in

    data = json.loads(
        resources.files("mlgate.modelfiles").joinpath("model_globals.json").read_text()
    )
    assert data["generated_by"] == "scripts/gen_model_allowlist.py"
    assert {"scikit-learn", "pandas", "pyarrow", "xgboost-cpu", "lightgbm", "torch"} <= set(
        data["versions"]
    )
    for module, name, kind in (
        ("sklearn.ensemble._forest", "RandomForestClassifier", "classes"),
        ("torch.nn.modules.linear", "Linear", "classes"),
        ("pyarrow.lib", "_restore_array", "functions"),
        ("xgboost.core", "Booster", "classes"),
        # pandas 3 names them `pandas.X`; pickles of pandas < 3 name the defining module
        ("pandas.core.indexes.base", "Index", "classes"),
        ("pandas.core.indexes.range", "RangeIndex", "classes"),
        ("pandas.core.frame", "DataFrame", "classes"),
        ("pandas", "Index", "classes"),
        # an old location pandas itself maps when unpickling (pandas.compat.pickle_compat)
        ("pandas.core.indexes.numeric", "Int64Index", "classes"),
    ):
        assert defined_in(module, name, kind), (module, name)
        assert Allowlist().classify(GlobalRef(module, name)) is Verdict.SAFE
    # a loader of files by path is defined there, but not an estimator: not allowlisted
    assert Allowlist().classify(GlobalRef("xgboost.core", "DMatrix")) is Verdict.UNKNOWN
    # pandas' readers and writers are recorded where they are defined, and still not safe
    assert defined_in("pandas.io.excel._base", "ExcelFile", "classes")
    assert Allowlist().classify(GlobalRef("pandas.io.excel._base", "ExcelFile")) is not Verdict.SAFE


def test_real_library_models_are_only_info(findings: dict[str, list[Finding]]) -> None:
    names = set(library_models())
    assert {"sklearn_pipeline", "pandas_pyarrow", "sklearn_label_encoder"} <= names
    for name in names:
        for path in (f"good/{name}.joblib", f"good/{name}.pkl"):
            found = {(f.rule_id, f.severity) for f in findings.get(path, [])}
            assert found == {("pickle-format", Severity.INFO)}, (path, findings.get(path))


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_boosting_library_models_are_covered(library: str) -> None:
    """xgboost and lightgbm are in the dev extra: missing, they fail this test. catboost (not
    installed by the test command: a large wheel) is covered by the allowlist, not here."""
    importlib.import_module(library)
    assert library in library_models()


def _repo_class_pickle(module: str) -> bytes:
    """What pickle.dumps writes for an instance of a repository's own class `module.Net`
    (protocol 4: the class by reference, NEWOBJ, its __dict__ by BUILD)."""
    return b"\x80\x04" + s4(module) + s4("Net") + b"\x93)\x81}" + s4("w") + b"K\x01sb."


def test_repository_classes_cannot_be_proven_safe_and_say_how_to_allow_them(
    tmp_path: Path,
) -> None:
    (tmp_path / "script.pkl").write_bytes(_repo_class_pickle("__main__"))
    (tmp_path / "pkg.pkl").write_bytes(_repo_class_pickle("mypkg.models"))
    repo = open_repo(tmp_path)
    gate = GATES["models"]
    found = {f.path: f for f in gate.run(GateContext(repo, gate.inputs(repo, {}), 60)).findings}
    for path, name, hint in (
        ("script.pkl", "__main__.Net", '["__main__.Net"]'),
        ("pkg.pkl", "mypkg.models.Net", '["mypkg.models.*"]'),
    ):
        item = found[path]
        assert (item.rule_id, item.severity) == ("pickle-unknown-global", Severity.MEDIUM)
        assert item.message.startswith("cannot be proven safe")
        assert name in item.message and f"allow_globals: {hint}" in item.message


# --- Keras: layers that open files or load SavedModels at deserialization ----------------


def keras_archive(layers: list[dict[str, Any]]) -> bytes:
    """A Keras 3 `.keras` file: config.json, metadata.json and the weights (placeholder)."""
    import json

    config = {"module": "keras", "class_name": "Sequential", "config": {"layers": layers}}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.10.0"}))
        archive.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + bytes(64))
    return buffer.getvalue()


def layer(cls: str, **config: Any) -> dict[str, Any]:
    return {"module": "keras.layers", "class_name": cls, "config": {"name": cls.lower(), **config}}


KERAS_CASES = {
    "string_lookup.keras": (layer("StringLookup", vocabulary="/etc/passwd"), Severity.HIGH),
    "integer_lookup.keras": (
        layer("IntegerLookup", vocabulary="gs://bucket/vocab.txt"),
        Severity.HIGH,
    ),
    "text_vectorization.keras": (
        layer("TextVectorization", vocabulary="../../secrets/words.txt"),
        Severity.HIGH,
    ),
    "tfsm.keras": (layer("TFSMLayer", filepath="/tmp/attacker_savedmodel"), Severity.CRITICAL),
}


@pytest.mark.parametrize("name", sorted(KERAS_CASES))
def test_keras_layers_that_open_paths_are_flagged(tmp_path: Path, name: str) -> None:
    spec, severity = KERAS_CASES[name]
    benign = layer("StringLookup", vocabulary=["a", "b"])  # inline vocabulary: no file
    (tmp_path / name).write_bytes(keras_archive([benign, spec]))
    (tmp_path / "inline.keras").write_bytes(keras_archive([benign, layer("Dense", units=2)]))
    repo = open_repo(tmp_path)
    gate = GATES["models"]
    found = gate.run(GateContext(repo, gate.inputs(repo, {}), 60)).findings
    assert [f.path for f in found] == [name]
    (item,) = found
    assert (item.rule_id, item.severity) == ("keras-file-reference", severity)
    assert item.properties["target"] in item.message


# --- GGUF chat templates (CVE-2024-34359) ---------------------------------------------------

SSTI_TEMPLATES = {
    "cycler": "{{ cycler.__init__.__globals__.CALL }}",
    "context": "{{ self._TemplateReference__context.joiner.__init__.__globals__.CALL }}",
    "namespace": "{% set g = namespace.__init__.__globals__ %}{{ g.CALL }}",
    "attr_escaped": "{{ (lipsum|attr('\\x5f\\x5fglobals\\x5f\\x5f')).CALL }}",
    "in_loop": (
        "{% for m in messages %}{{ m['content'] }}{% endfor %}"
        "{% if true %}{{ joiner.__init__.__globals__.CALL }}{% endif %}"
    ),
}
EVIL_CALL = "os.system('id')"
BENIGN_TEMPLATES = {
    "chatml": (
        "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
        "message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    ),
    "llama3_namespace": (
        "{% set ns = namespace(system='') %}{% for m in messages %}"
        "{% if m['role'] == 'system' %}{% set ns.system = m['content'] | trim %}{% endif %}"
        "{% endfor %}{{ bos_token }}{{ ns.system }}{% for m in messages %}"
        "{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + m['content'] "
        "| trim + '<|eot_id|>' }}{% endfor %}"
    ),
}


def gguf_file(template: str) -> bytes:
    """A GGUF model written by the `gguf` package (llama.cpp's own writer)."""
    gguf = importlib.import_module("gguf")  # the dev extra
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.gguf"
        writer = gguf.GGUFWriter(str(path), "llama")
        writer.add_chat_template(template)
        writer.add_token_list(["<s>", "</s>", "hello"])
        writer.add_tensor("w", np.zeros((2, 2), dtype=np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        return path.read_bytes()


def _run_gate(root: Path) -> dict[str, list[Finding]]:
    repo = open_repo(root)
    gate = GATES["models"]
    result = gate.run(GateContext(repo, gate.inputs(repo, {}), 60))
    assert not result.errors, result.errors
    by_path: dict[str, list[Finding]] = {}
    for item in result.findings:
        by_path.setdefault(item.path or "", []).append(item)
    return by_path


def test_gguf_chat_templates_reaching_python_are_critical(tmp_path: Path) -> None:
    for name, template in SSTI_TEMPLATES.items():
        (tmp_path / f"{name}.gguf").write_bytes(gguf_file(template.replace("CALL", EVIL_CALL)))
    for name, template in BENIGN_TEMPLATES.items():
        (tmp_path / f"benign_{name}.gguf").write_bytes(gguf_file(template))
    (tmp_path / "huge.gguf").write_bytes(gguf_file("{{ x }}" * 200_000))
    found = _run_gate(tmp_path)
    for name in SSTI_TEMPLATES:
        (item,) = found[f"{name}.gguf"]
        assert (item.rule_id, item.severity) == ("gguf-chat-template-injection", Severity.CRITICAL)
        assert item.cwe == "CWE-1336" and item.properties["key"] == "tokenizer.chat_template"
    assert not [p for p in found if p.startswith("benign_")], found
    (big,) = found["huge.gguf"]
    assert (big.rule_id, big.severity) == ("pickle-unprovable", Severity.MEDIUM)
    assert "larger than" in big.message


@pytest.mark.parametrize("name", sorted(SSTI_TEMPLATES))
def test_ssti_twin_reaches_python_when_rendered_unsandboxed(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """llama-cpp-python before 0.2.72 rendered the template with jinja2.Environment (no
    sandbox): the harmless twin's call (print) runs."""
    import jinja2

    call = f"__builtins__['print']('TWIN-RAN:{name}')"
    environment = jinja2.Environment(autoescape=False)  # the vulnerable renderer
    environment.from_string(SSTI_TEMPLATES[name].replace("CALL", call)).render(
        messages=[{"role": "user", "content": "hi"}]
    )
    assert f"TWIN-RAN:{name}" in capsys.readouterr().out


# --- ONNX external data (CVE-2024-27318) and TensorFlow SavedModel ops ------------------------


def pb_len(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def pb_int(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def onnx_tensor(location: str) -> bytes:
    entry = pb_len(1, b"location") + pb_len(2, location.encode())
    return pb_len(8, b"w") + pb_int(2, 1) + pb_len(13, entry) + pb_int(14, 1)


def onnx_model(graph: bytes) -> bytes:
    """ModelProto{ir_version, opset_import, graph} as onnx writes it."""
    return pb_int(1, 8) + pb_len(8, pb_int(2, 17)) + pb_len(7, graph)


ONNX_CASES = {
    "parent.onnx": onnx_model(pb_len(5, onnx_tensor("../../etc/passwd"))),
    "absolute.onnx": onnx_model(pb_len(5, onnx_tensor("/etc/passwd"))),
    "windows.onnx": onnx_model(pb_len(5, onnx_tensor("C:\\Windows\\win.ini"))),
    "node_attribute.onnx": onnx_model(
        pb_len(
            1,
            pb_len(4, b"Constant")
            + pb_len(5, pb_len(1, b"value") + pb_len(5, onnx_tensor("../k"))),
        )
    ),
    "subgraph.onnx": onnx_model(
        pb_len(
            1, pb_len(4, b"If") + pb_len(5, pb_len(6, pb_len(5, onnx_tensor("/root/.ssh/id_rsa"))))
        )
    ),
}


def test_onnx_external_data_outside_the_model_directory_is_high(tmp_path: Path) -> None:
    for name, data in ONNX_CASES.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "benign.onnx").write_bytes(onnx_model(pb_len(5, onnx_tensor("weights/w.bin"))))
    found = _run_gate(tmp_path)
    assert "benign.onnx" not in found
    for name in ONNX_CASES:
        (item,) = found[name]
        assert (item.rule_id, item.severity) == ("onnx-external-data-escape", Severity.HIGH)
        assert item.cwe == "CWE-22"


def saved_model(ops: list[str], in_library: bool = False) -> bytes:
    nodes = b"".join(
        pb_len(1, pb_len(1, f"n{i}".encode()) + pb_len(2, op.encode())) for i, op in enumerate(ops)
    )
    if in_library:
        function_nodes = b"".join(pb_len(3, pb_len(2, op.encode())) for op in ops)
        graph = pb_len(2, pb_len(1, pb_len(1, pb_len(1, b"f")) + function_nodes))
    else:
        graph = nodes
    return pb_int(1, 1) + pb_len(2, pb_len(2, graph))


def keras_metadata(metadata: dict[str, Any]) -> bytes:
    import json

    node = pb_int(2, 1) + pb_len(3, b"root") + pb_len(4, b"_tf_keras_layer")
    return pb_len(1, node + pb_len(5, json.dumps(metadata).encode()))


def test_savedmodel_ops_that_touch_files_or_python_are_flagged(tmp_path: Path) -> None:
    cases = {
        "read/saved_model.pb": (saved_model(["Const", "ReadFile"]), ["ReadFile"]),
        "write/saved_model.pb": (
            saved_model(["WriteFile", "MatchingFiles"]),
            ["MatchingFiles", "WriteFile"],
        ),
        "pyfunc/saved_model.pb": (saved_model(["EagerPyFunc"], in_library=True), ["EagerPyFunc"]),
        "mmap/saved_model.pb": (saved_model(["ImmutableConst"]), ["ImmutableConst"]),
    }
    for rel, (data, _ops) in cases.items():
        (tmp_path / rel).parent.mkdir(parents=True)
        (tmp_path / rel).write_bytes(data)
    (tmp_path / "benign").mkdir()
    standard = ["Const", "MatMul", "SaveV2", "RestoreV2", "ShardedFilename", "MergeV2Checkpoints"]
    (tmp_path / "benign/saved_model.pb").write_bytes(saved_model(standard))
    lookup = {"class_name": "StringLookup", "config": {"name": "s", "vocabulary": "/etc/hosts"}}
    (tmp_path / "benign/keras_metadata.pb").write_bytes(keras_metadata({"class_name": "Dense"}))
    (tmp_path / "evil_keras").mkdir()
    (tmp_path / "evil_keras/keras_metadata.pb").write_bytes(keras_metadata(lookup))
    found = _run_gate(tmp_path)
    assert not [p for p in found if p.startswith("benign/")], found
    for rel, (_data, ops) in cases.items():
        (item,) = found[rel]
        assert (item.rule_id, item.severity) == ("tf-savedmodel-risky-op", Severity.HIGH)
        assert item.properties["ops"] == ops
    (item,) = found["evil_keras/keras_metadata.pb"]
    assert item.rule_id == "keras-file-reference"


def test_compressed_stream_is_bounded_and_what_precedes_the_limit_is_reported(
    tmp_path: Path,
) -> None:
    payload = p(evil(tmp_path), 2)[2:-1]
    body = b"\x80\x04](" + payload + b"\x8e" + struct.pack("<Q", 3 << 20) + bytes(3 << 20)
    (tmp_path / "bomb.bin").write_bytes(bz2.compress(body + b"e."))
    repo = open_repo(tmp_path)
    gate = GATES["models"]
    result = gate.run(GateContext(repo, gate.inputs(repo, {"max_archive_mb": 1}), 60))
    rules = {f.rule_id: f.severity for f in result.findings}
    assert rules["scan-limit-exceeded"] is Severity.MEDIUM
    assert rules["pickle-dangerous-global"] is Severity.CRITICAL


# --- pandas indexes: an estimator fitted on a DataFrame keeps one --------------------------


@contextlib.contextmanager
def pandas_2_names(pd: Any) -> Any:
    """Pickle pandas classes under the names pandas < 3 wrote: their defining module
    (pandas 3's `set_module` renamed `__module__` to `pandas`, keeping the original in
    `_module_source`)."""
    renamed = {
        cls: cls.__module__
        for cls in vars(pd).values()
        if isinstance(cls, type) and "_module_source" in vars(cls)
    }
    assert pd.Index in renamed, "pandas no longer keeps Index's defining module"
    try:
        for cls in renamed:
            cls.__module__ = vars(cls)["_module_source"]
        yield
    finally:
        for cls, module in renamed.items():
            cls.__module__ = module


def _estimator_on_columns(pd: Any) -> Any:
    """Like dice-ml's sample models: a ColumnTransformer given `frame.columns[:2]` (a
    pandas Index) keeps that Index in the fitted pipeline."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    x, y = _xy()
    frame = pd.DataFrame({"n": x[:, 0], "m": x[:, 1], "c": np.where(y == 1, "u", "v")})
    columns = ColumnTransformer(
        [("num", StandardScaler(), frame.columns[:2]), ("cat", OneHotEncoder(), ["c"])]
    )
    return Pipeline([("columns", columns), ("forest", RandomForestClassifier(3))]).fit(frame, y)


@pytest.fixture(scope="module")
def dataframe_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    pd = importlib.import_module("pandas")
    model = _estimator_on_columns(pd)
    root = tmp_path_factory.mktemp("dataframe_models")
    writers: dict[str, Callable[[Any], bytes]] = {"pkl": lambda m: p(m, 5), "joblib": joblib_bytes}
    for ext, write in writers.items():
        _write(root / f"pandas3.{ext}", write(model))
        with pandas_2_names(pd):
            _write(root / f"pandas2.{ext}", write(model))
    return root, _run_gate(root)


@pytest.mark.parametrize("name", ["pandas3.pkl", "pandas3.joblib", "pandas2.pkl", "pandas2.joblib"])
def test_estimator_fitted_on_a_dataframe_is_only_info(
    dataframe_models: tuple[Path, dict[str, Any]], name: str
) -> None:
    from mlgate.modelfiles import scan_pickles

    root, found = dataframe_models
    data = (root / name).read_bytes()
    index = "pandas.core.indexes.base.Index" if name.startswith("pandas2") else "pandas.Index"
    names = {g.dotted for g in scan_pickles(io.BytesIO(data)).globals}
    assert {index, "pandas.core.indexes.base._new_Index"} <= names, names
    columns = joblib.load(root / name).named_steps["columns"].transformers_[0][2]
    assert list(columns) == ["n", "m"]  # the real loader rebuilds the Index from these names
    assert {(f.rule_id, f.severity) for f in found[name]} == {("pickle-format", Severity.INFO)}


def _new_index() -> Callable[..., Any]:
    import importlib

    new_index: Callable[..., Any] = vars(importlib.import_module("pandas.core.indexes.base"))[
        "_new_Index"
    ]
    return new_index


def test_new_index_really_builds_whatever_class_it_is_given() -> None:
    """Why the scanner constrains `_new_Index`'s class: it calls `cls.__new__(cls, **d)`."""
    import collections

    importlib.import_module("pandas")
    built = pickle.loads(p(Call(_new_index(), collections.OrderedDict, {"name": "x"}), 4))
    assert type(built) is collections.OrderedDict


@pytest.mark.parametrize(
    ("cls", "rules"),
    [
        # a class the allowlist knows, but no index: _new_Index is misused
        ("collections.OrderedDict", {"pickle-indirect-call": Severity.HIGH}),
        ("sklearn.pipeline.Pipeline", {"pickle-indirect-call": Severity.HIGH}),
        # a dangerous callable: the global itself is critical, and the misuse is reported
        (
            "os.system",
            {"pickle-dangerous-global": Severity.CRITICAL, "pickle-indirect-call": Severity.HIGH},
        ),
        (
            "subprocess.Popen",
            {"pickle-dangerous-global": Severity.CRITICAL, "pickle-indirect-call": Severity.HIGH},
        ),
    ],
)
def test_new_index_with_a_class_that_is_no_pandas_index_is_flagged(
    tmp_path: Path, cls: str, rules: dict[str, Severity]
) -> None:
    import importlib

    importlib.import_module("pandas")
    module, _, attr = cls.rpartition(".")
    (tmp_path / "evil.pkl").write_bytes(
        p(Call(_new_index(), getattr(importlib.import_module(module), attr), {"name": "x"}), 4)
    )
    found = _run_gate(tmp_path)["evil.pkl"]
    got = {f.rule_id: f.severity for f in found if f.severity.at_least(Severity.MEDIUM)}
    assert got == rules, found
    (indirect,) = [f for f in found if f.rule_id == "pickle-indirect-call"]
    assert (
        "_new_Index builds" in indirect.message and "not a pandas Index class" in indirect.message
    )


def test_new_index_with_a_class_built_in_the_pickle_is_flagged(tmp_path: Path) -> None:
    """The class argument is a call result (`tuple([2])`), not a global the scanner classified."""
    head = b"\x80\x04" + s4("pandas.core.indexes.base") + s4("_new_Index") + b"\x93"
    (tmp_path / "evil.pkl").write_bytes(head + TRACKED_NOT + b"}\x86R.")
    found = _run_gate(tmp_path)["evil.pkl"]
    (indirect,) = [f for f in found if f.rule_id == "pickle-indirect-call"]
    assert indirect.severity is Severity.HIGH
    assert "builds an object built in the pickle" in indirect.message
