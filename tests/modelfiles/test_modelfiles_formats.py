"""The model-file engine's format registry and its records: which format recognises which
bytes, which reads which file (content first, name second), which names select a file,
and the neutral records the engine returns before the gate makes findings of them.
Nothing here unpickles: the pickles are written, and read back only by the scanner."""

from __future__ import annotations

import dataclasses
import gzip
import io
import pickle
import tarfile
from pathlib import Path, PurePosixPath
from typing import IO, ClassVar

import pytest

from mlgate.findings import Severity
from mlgate.gates import GATES
from mlgate.gates.modelfiles import Settings, scan_file
from mlgate.modelfiles import FORMATS, FileReport, Where, engine, sniff
from mlgate.modelfiles.formats import index, reader_of
from mlgate.modelfiles.formats.base import Engine, ModelFormat, Sniffed, basename, suffix
from mlgate.repo import open_repo

# A pickle that would call os.system('true') if it were loaded (protocol 0, by hand).
PAYLOAD = b"cos\nsystem\n(S'true'\ntR."


def _tar_head() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("pickle")
        data = pickle.dumps({}, protocol=2)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


HEADS = {
    "zip": b"PK\x03\x04" + bytes(60),
    "npy": b"\x93NUMPY\x01\x00" + bytes(60),
    "hdf5": b"\x89HDF\r\n\x1a\n" + bytes(60),
    "gguf": b"GGUF\x03\x00\x00\x00" + bytes(60),
    "zfile": b"ZF0x" + b"0" * 17 + b"x",
    "gzip": gzip.compress(pickle.dumps([1, 2], protocol=4), mtime=0),
    "tar": _tar_head(),
    "pickle": pickle.dumps({"a": 1}, protocol=4),
}


@pytest.mark.parametrize(("kind", "head"), sorted(HEADS.items()), ids=sorted(HEADS))
def test_each_kind_is_recognised_first_by_its_format(kind: str, head: bytes) -> None:
    """Registry order is recognition order: a tar header also parses as the start of a
    pickle (`p` is PUT), so tar is asked first."""
    recognised = [f.name for f in FORMATS.values() if f.recognise(head, len(head), True)]
    assert recognised[0] == index().by_kind[kind].name
    assert sniff(head, len(head)) == kind


def test_the_registry_is_one_format_per_kind_and_name() -> None:
    kinds = [kind for f in FORMATS.values() for kind in f.kinds]
    assert len(kinds) == len(set(kinds))
    assert all(isinstance(f, ModelFormat) and FORMATS[f.name] is f for f in FORMATS.values())
    assert sniff(b"just some text\n" * 20) is None


def test_names_that_select_a_model_file() -> None:
    assert {
        *(".pkl", ".pickle", ".joblib", ".pt", ".pth", ".bin", ".ckpt", ".npy", ".npz"),
        *(".h5", ".hdf5", ".keras", ".safetensors", ".onnx", ".gguf", ".zip"),
    } == index().extensions
    assert {
        ".zip"
    } == index().extensions - index().strict_extensions  # a plain zip need not hold a model


def _reader(kind: str | None, ext: str, base: str = "") -> str | None:
    head = HEADS.get(kind or "", b"")
    found = reader_of(Sniffed(kind, head, ext, base or f"model{ext}"))
    return None if found is None else found.name


@pytest.mark.parametrize(
    ("kind", "ext", "base", "reader"),
    [
        ("pickle", ".onnx", "", "pickle"),  # content first: a pickle named .onnx
        (None, ".npy", "", "pickle"),  # np.load unpickles what is neither zip nor npy
        (None, ".pt", "", "pickle"),
        (None, ".bin", "", None),  # raw weights: only a .bin that parses is a pickle
        (None, ".h5", "", None),  # not HDF5: nothing reads it as Keras
        (None, ".zip", "", None),
        ("gguf", ".safetensors", "", "safetensors"),  # the name decides for safetensors
        ("gguf", ".pkl", "", "gguf"),
        ("gzip", ".txt", "", "joblib-compressed"),  # it inflates to a pickle
        ("zip", ".npy", "", "zip"),
        ("tar", ".pt", "", "pytorch-tar"),
        (None, ".pb", "saved_model.pb", "tf-savedmodel"),
        (None, ".pb", "keras_metadata.pb", "tf-savedmodel"),
        (None, ".pb", "other.pb", None),
    ],
)
def test_content_first_then_name(kind: str | None, ext: str, base: str, reader: str) -> None:
    assert _reader(kind, ext, base) == reader


def test_a_compressed_file_that_is_not_a_pickle_is_read_only_by_a_pickle_name() -> None:
    text = gzip.compress(b"plain text, not a pickle\n" * 10)
    assert sniff(text) == "gzip"
    assert reader_of(Sniffed("gzip", text, ".txt", "notes.txt")) is None
    assert reader_of(Sniffed("gzip", text, ".joblib", "m.joblib")) is index().by_kind["gzip"]


def test_the_engine_returns_records_and_the_gate_makes_the_findings(tmp_path: Path) -> None:
    (tmp_path / "model.pkl").write_bytes(PAYLOAD)
    settings = Settings.from_options({}, deadline=None)
    report = engine.scan_file(tmp_path, "model.pkl", settings)
    assert isinstance(report, FileReport)
    assert report.formats == ("pickle",)
    assert report.pickle_based
    (issue,) = report.issues
    assert (issue.rule, issue.severity, issue.member) == (
        "pickle-dangerous-global",
        Severity.CRITICAL,
        None,
    )
    assert dict(issue.evidence) == {"globals": ["os.system"], "calls": {"os.system": ["REDUCE"]}}
    with pytest.raises(dataclasses.FrozenInstanceError):
        issue.rule = "x"  # type: ignore[misc]

    (found,) = scan_file(tmp_path, "model.pkl", settings).found
    finding = found.finding
    assert (finding.gate, finding.rule_id, finding.message) == ("models", issue.rule, issue.message)
    assert finding.cwe == "CWE-502"
    assert finding.properties == {
        "member": None,
        "globals": ["os.system"],
        "calls": {"os.system": ["REDUCE"]},
        "format": "pickle",
    }
    assert found.anchor == "|os.system"


def test_the_gate_adds_the_format_policy(tmp_path: Path) -> None:
    (tmp_path / "clean.pkl").write_bytes(pickle.dumps({"weights": [1.0, 2.0]}, protocol=4))
    info = scan_file(tmp_path, "clean.pkl", Settings.from_options({}, None))
    strict = scan_file(
        tmp_path, "clean.pkl", Settings.from_options({"require_safe_formats": True}, None)
    )
    assert engine.scan_file(tmp_path, "clean.pkl", Settings.from_options({}, None)).issues == ()
    assert [(f.finding.rule_id, f.finding.severity) for f in info.found] == [
        ("pickle-format", Severity.INFO)
    ]
    assert [(f.finding.rule_id, f.finding.severity) for f in strict.found] == [
        ("unsafe-format", Severity.HIGH)
    ]


def test_the_cache_salt_covers_every_engine_file_and_the_allowlist_data() -> None:
    from mlgate.gates import modelfiles as gate

    names = {
        p.relative_to(Path(gate.__file__).parents[1]).as_posix() for p in gate.engine_sources()
    }
    assert {
        "gates/modelfiles.py",
        "modelfiles/allowlist.py",
        "modelfiles/model_globals.json",
        "modelfiles/pickle_vm.py",
        *(f"modelfiles/formats/{f}.py" for f in ("zip", "pickle", "gguf", "onnx", "keras")),
    } <= names


# --- adding a format is one module --------------------------------------------------------


class ToyFormat(ModelFormat):
    """A format defined here, as a new module of mlgate.modelfiles.formats would define it:
    `TOYM` magic, `.toy` files; it reports any file whose header byte says `x`."""

    name = "toy"
    kinds: ClassVar[frozenset[str]] = frozenset({"toy"})
    extensions: ClassVar[frozenset[str]] = frozenset({".toy"})

    def recognise(self, head: bytes, size: int | None, fast: bool) -> str | None:
        return "toy" if head.startswith(b"TOYM") else None

    def scan(
        self, engine: Engine, fh: IO[bytes], where: Where, file: Sniffed, path: Path | None
    ) -> None:
        engine.scan.format("toy")
        if fh.read(5)[4:] == b"x":
            engine.scan.add(where, "toy-executes", Severity.HIGH, "toy model runs code", "x")


def test_a_format_registered_in_one_place_is_selected_sniffed_and_scanned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.toy").write_bytes(b"TOYMx")
    (tmp_path / "renamed.dat").write_bytes(b"TOYMx")  # selected by its content alone
    (tmp_path / "b.toy").write_bytes(b"TOYM-")
    (tmp_path / "notes.txt").write_text("hello\n")
    repo = open_repo(tmp_path)
    gate = GATES["models"]
    assert list(gate.inputs(repo, {}).files) == []  # unknown before it is registered

    monkeypatch.setitem(FORMATS, "toy", ToyFormat())
    assert sorted(gate.inputs(repo, {}).files) == ["a.toy", "b.toy", "renamed.dat"]
    assert sniff(b"TOYM-") == "toy"
    assert ".toy" in index().strict_extensions
    settings = Settings.from_options({}, None)
    found = {rel: scan_file(tmp_path, rel, settings) for rel in ("a.toy", "b.toy", "renamed.dat")}
    assert [(f.finding.rule_id, f.finding.path) for f in found["a.toy"].found] == [
        ("toy-executes", "a.toy")
    ]
    assert found["a.toy"].found[0].finding.properties["format"] == "toy"
    assert found["b.toy"].found == ()
    assert [f.finding.rule_id for f in found["renamed.dat"].found] == ["toy-executes"]


# --- the engine never loads what it reads ---------------------------------------------------

# Modules whose loaders run what they read; the engine reads bytes and must import none.
LOADERS = frozenset(
    [
        "pickle",
        "_pickle",
        "cPickle",
        "marshal",
        "dill",
        "cloudpickle",
        "shelve",
        "joblib",
        "torch",
        "numpy",
        "tensorflow",
        "keras",
        "tf_keras",
        "onnx",
        "onnxruntime",
        "yaml",
        "jinja2",
        "safetensors",
        "gguf",
        "xgboost",
        "lightgbm",
    ]
)
RUNS_CODE = frozenset({"eval", "exec", "compile", "__import__"})
# The only modules imported by name at run time: decompressors and HDF5's attribute reader.
IMPORTED_BY_NAME = frozenset({"lz4.frame", "h5py"})
ENGINE = Path(__file__).parents[2] / "src" / "mlgate" / "modelfiles"
# Reviewed: numpy, when installed, interprets a dtype *string* (`numpy.dtype("<f8")`), which
# parses it and runs nothing from the file.
REVIEWED = frozenset({("pickle_vm.py", "import numpy")})


def _loading_calls(path: Path) -> list[str]:
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            found += [f"{node.lineno}: import {n}" for n in names if n.split(".")[0] in LOADERS]
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if isinstance(func, ast.Name) and name in RUNS_CODE:  # the builtins, not re.compile
            found.append(f"{node.lineno}: {name}()")
        if name == "import_module":
            arg = node.args[0] if node.args else None
            literal = arg.value if isinstance(arg, ast.Constant) else None
            if literal not in IMPORTED_BY_NAME:
                found.append(f"{node.lineno}: import_module({ast.unparse(arg) if arg else ''})")
    return found


def test_the_engine_imports_no_loader_and_runs_no_code() -> None:
    sources = sorted(ENGINE.rglob("*.py"))
    assert len(sources) >= 20, "the engine package was not found"
    offenders = [
        f"{rel}:{call}"
        for path in sources
        for rel in [path.relative_to(ENGINE).as_posix()]
        for call in _loading_calls(path)
        if (rel, call.split(": ", 1)[1]) not in REVIEWED
    ]
    assert offenders == []


def test_the_loader_guard_catches_a_load(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import pickle\nfrom torch import load\nimport importlib\n"
        "pickle.loads(b'')\neval('1')\nimportlib.import_module(name)\n",
        encoding="utf-8",
    )
    assert _loading_calls(bad) == [
        "1: import pickle",
        "2: import torch",
        "5: eval()",
        "6: import_module(name)",
    ]


@pytest.mark.parametrize(
    "name",
    [
        "m.pkl",
        "a/b/M.PKL",
        ".pkl",
        "..pkl",
        "a/..pt",
        "a.",
        "a/b/",
        "x.tar.gz",
        "dir.d/file",
        "..",
        ".",
        "a/.",
        "a/b/.",
        "a/.bashrc",
        "a/b.c/",
        "noext",
        "a//b.Joblib",
        "a/./c.npy",
        "über.Safetensors",
    ],
)
def test_suffix_and_basename_agree_with_pathlib(name: str) -> None:
    assert suffix(name) == PurePosixPath(name).suffix.lower()
    assert basename(name) == PurePosixPath(name).name
