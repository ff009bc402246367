"""The models gate: model files are scanned as bytes and never loaded.

Every fixture is generated here from crafted bytes. Creating a malicious pickle is fine;
nothing in this file (or in the gate) ever unpickles one, and `test_no_payload_ran` checks
that the marker the payloads would create never appears.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import marshal
import os
import pickle
import struct
import tarfile
import time
import tracemalloc
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest

from mlgate.findings import Finding, Severity
from mlgate.gates import GATES, GateContext
from mlgate.gates.modelfiles import ModelFilesGate, Settings, scan_file
from mlgate.modelfiles import Allowlist, GlobalRef, Verdict, scan_pickles
from mlgate.policy import load_policy
from mlgate.repo import open_repo

from ..conftest import run_cli

BIG_MB = 50


# --- crafting bytes (never loading them) ----------------------------------------------------


class _Payload:
    """Pickles as a call of os.system: what a malicious model file does."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (self.command,))


class Ops:
    """A hand-built opcode stream (protocol 2 unless told)."""

    def __init__(self, protocol: int = 2) -> None:
        self.out = bytearray(b"\x80" + bytes([protocol]))

    def raw(self, data: bytes) -> Ops:
        self.out += data
        return self

    def glob(self, module: str, name: str) -> Ops:
        return self.raw(f"c{module}\n{name}\n".encode())

    def text(self, value: str) -> Ops:
        data = value.encode()
        return self.raw(b"X" + struct.pack("<I", len(data)) + data)

    def short(self, value: str) -> Ops:  # SHORT_BINUNICODE (protocol 4)
        data = value.encode()
        return self.raw(b"\x8c" + bytes([len(data)]) + data)

    def int(self, value: int) -> Ops:
        return self.raw(b"J" + struct.pack("<i", value))

    def end(self) -> bytes:
        return bytes(self.out + b".")


def padded(marker: Path) -> bytes:
    """The payload after 3 MB of zeros: inflating it takes several reads."""
    return pickle.dumps([bytes(3_000_000), _Payload(f"touch {marker}")], protocol=4)


def malicious(marker: Path, protocol: int = 4) -> bytes:
    return pickle.dumps(_Payload(f"touch {marker}"), protocol=protocol)


def numpy_array(ops: Ops, count: int) -> Ops:
    """numpy's own layout: _reconstruct(ndarray, (0,), b'b') then BUILD with the raw data."""
    ops.glob("numpy.core.multiarray", "_reconstruct").glob("numpy", "ndarray")
    ops.raw(b"K\x00\x85C\x01b\x87R(K\x01").int(count).raw(b"\x85")
    numpy_dtype(ops, "f8").raw(b"\x89C" + bytes([8 * count]) + b"\x00" * (8 * count))
    return ops.raw(b"tb")


def numpy_dtype(ops: Ops, code: str) -> Ops:
    ops.glob("numpy", "dtype").text(code).raw(b"\x89\x88\x87R(K\x03").text("<")
    return ops.raw(b"NNN").int(-1).int(-1).int(0).raw(b"tb")


def sklearn_model() -> bytes:
    """A real scikit-learn pickle when it is installed, else one crafted with its globals."""
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        ops = Ops().glob("sklearn.linear_model._logistic", "LogisticRegression").raw(b")\x81}(")
        ops.text("C").raw(b"G" + struct.pack(">d", 1.0)).text("coef_")
        numpy_array(ops, 3).text("classes_")
        numpy_array(ops, 2).text("_sklearn_version").text("1.5.0")
        return ops.raw(b"ub").end()
    import numpy as np

    model = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1])
    return pickle.dumps(model)


def torch_state_dict(extra: bytes = b"") -> bytes:
    """A state_dict as torch.save writes archive/data.pkl: OrderedDict, _rebuild_tensor_v2,
    and the storage as a persistent id ('storage', torch.FloatStorage, '0', 'cpu', 4)."""
    ops = Ops().glob("collections", "OrderedDict").raw(b")Rq\x00(").text("fc.weight")
    ops.glob("torch._utils", "_rebuild_tensor_v2").raw(b"((").text("storage")
    ops.glob("torch", "FloatStorage").text("0").text("cpu").raw(b"K\x04tQ")
    ops.raw(b"K\x00K\x02K\x02\x86K\x02K\x01\x86\x89")
    ops.glob("collections", "OrderedDict").raw(b")RtRu")
    return ops.raw(extra).end()


def torch_zip(data_pkl: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        archive.writestr("archive/data/0", b"\x80\x02" + b"\x00" * 14)  # raw floats, not a pickle
        archive.writestr("archive/version", "3\n")
        archive.writestr("archive/byteorder", "little")
    return buffer.getvalue()


def tampered_zip(data_pkl: bytes, how: str) -> bytes:
    """A deflated torch zip whose local header disagrees with the central directory: zipfile
    refuses the member (renamed, or flagged encrypted) while PyTorch's reader loads it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", data_pkl)
    data = bytearray(buffer.getvalue())
    if how == "name":
        at = data.find(b"archive/data.pkl")
        data[at : at + 7] = b"ARCHIVE"
    else:
        data[6] |= 1
        data[data.find(b"PK\x01\x02") + 8] |= 1
    return bytes(data)


def torch_legacy(main: bytes) -> bytes:
    """PyTorch's pre-zip format: magic, protocol, sys_info, the object, storage keys, raw data.
    The raw data starts with bytes that look like a pickle (count 640 = 80 02 ..)."""
    magic = Ops().raw(b"\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")).end()
    protocol = Ops().raw(b"M\xe9\x03").end()
    sys_info = Ops().raw(b"}(").text("little_endian").raw(b"\x88u").end()
    keys = Ops().raw(b"]").text("0").raw(b"a").end()
    raw = struct.pack("<q", 640) + b"\xff" * (640 * 4)
    return magic + protocol + sys_info + main + keys + raw


def torch_tar(main: bytes) -> bytes:
    """PyTorch's oldest format: a tar with sys_info, pickle, storages and tensors members."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in (
            ("sys_info", Ops().raw(b"}").end()),
            ("pickle", main),
            ("storages", Ops().raw(b"K\x00").end()),
            ("tensors", Ops().raw(b"K\x00").end()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def npz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def joblib_array_then(tail: bytes) -> bytes:
    """joblib's layout: a NumpyArrayWrapper whose raw array bytes follow its BUILD opcode
    (here 0xff bytes: invalid opcodes, so a scanner that does not skip them fails), then
    the rest of the pickle."""
    ops = Ops().raw(b"]").glob("joblib.numpy_pickle", "NumpyArrayWrapper").raw(b")\x81}(")
    ops.text("subclass").glob("numpy", "ndarray").text("shape").raw(b"K\x03\x85")
    ops.text("order").text("C").text("dtype")
    numpy_dtype(ops, "f8").text("allow_mmap").raw(b"\x89").text("numpy_array_alignment_bytes")
    ops.raw(b"K\x10ub")
    ops.raw(b"\x04" + b"\xff" * 4 + b"\xff" * 24)  # padding length, padding, 3 float64
    return bytes(ops.raw(b"a" + tail).end())


def os_system_call() -> bytes:
    return bytes(Ops().glob("posix", "system").text("id").raw(b"\x85R").out[2:])


def safetensors() -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    return struct.pack("<Q", len(header)) + header + b"\x00" * 8


def npy(descr: str, payload: bytes) -> bytes:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': (1,), }}"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload


def keras_zip(layers: list[dict[str, Any]]) -> bytes:
    config = {"module": "keras", "class_name": "Sequential", "config": {"layers": layers}}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.5.0"}))
        archive.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)
    return buffer.getvalue()


def lambda_layer(name: str, source: str) -> dict[str, Any]:
    """Keras 3's Lambda config: the function is base64 of marshalled bytecode (made, not run)."""
    code = base64.b64encode(marshal.dumps(compile(source, "<lambda>", "eval"))).decode()
    function = {"class_name": "__lambda__", "config": {"code": code, "defaults": None}}
    return {
        "module": "keras.layers",
        "class_name": "Lambda",
        "config": {"name": name, "function": function},
    }


def nested_zip(member: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, data)
    return buffer.getvalue()


def write_big_pickle(path: Path, megabytes: int) -> None:
    """A list of 1000-byte bytes objects, as pickle.dump writes it (batched APPENDS), streamed
    to disk so the test itself never holds it in memory."""
    item = b"B" + struct.pack("<I", 1000) + b"\xab" * 1000 + b"\x94"
    batch = b"(" + item * 1000 + b"e"
    with path.open("wb") as out:
        out.write(b"\x80\x04]\x94")
        for _ in range(megabytes):
            out.write(batch)
        out.write(b".")


def obfuscated(marker: Path) -> bytes:
    """STACK_GLOBAL whose operands come from the memo after being popped off the stack."""
    ops = Ops(4).short("posix").raw(b"\x94").short("system").raw(b"\x94")
    ops.raw(b"00h\x00h\x01\x93").short(f"touch {marker}")
    return ops.raw(b"\x85R").end()


def attribute_walk() -> bytes:
    return Ops(4).short("collections").short("OrderedDict.__init__.__globals__").raw(b"\x93").end()


def fake_h5(config: dict[str, Any]) -> bytes:
    """HDF5's signature, then the model_config JSON attribute among other bytes."""
    return b"\x89HDF\r\n\x1a\n" + b"\x00" * 300 + json.dumps(config).encode() + b"\x00" * 300


def plain_data() -> bytes:
    data = {"weights": [1.0, 2.5], "tags": ("a", "b"), "blob": b"\x00" * 300}
    return pickle.dumps({**data, "ids": {1, 2}, "order": OrderedDict(a=1)}, protocol=2)


def build_fixtures(marker: Path) -> dict[str, bytes]:
    evil = malicious(marker)
    h5_config = {
        "class_name": "Sequential",
        "config": {"layers": [lambda_layer("l", "lambda x: x * 2")]},
    }
    return {
        "evil/payload.pkl": evil,
        "evil/payload_p0.pickle": malicious(marker, protocol=0),
        "evil/obfuscated.pkl": obfuscated(marker),
        "evil/inst.pkl": f"(S'touch {marker}'\nios\nsystem\n.".encode(),
        "evil/model.pt": torch_zip(evil),
        "evil/weights.bin": evil,
        "evil/legacy.pt": torch_legacy(Ops().raw(os_system_call()).end()),
        "evil/truncated.pkl": evil[:-8],
        "evil/disguised.dat": evil,
        "evil/object.npy": npy("|O", evil),
        "evil/arrays.npz": npz({"a.npy": npy("<f8", b"\x00" * 8), "b.npy": npy("|O", evil)}),
        "evil/legacy_tar.pt": torch_tar(evil),
        "evil/model.joblib": gzip.compress(joblib_array_then(os_system_call() + b"0")),
        "evil/getattr.pkl": Ops().glob("builtins", "getattr").raw(b")R").end(),
        "evil/walk.pkl": attribute_walk(),
        "evil/nested.zip": nested_zip("inner/model.pt", torch_zip(evil)),
        "evil/renamed_header.pt": tampered_zip(padded(marker), "name"),
        "evil/encrypted_flag.pt": tampered_zip(evil, "flag"),
        "evil/model.keras": keras_zip(
            [
                lambda_layer("pwn", "lambda x: __import__('os').system('id')"),
                {"module": "os", "class_name": "function", "config": "system"},
            ]
        ),
        "evil/model.h5": fake_h5(h5_config),
        "odd/unknown.pkl": Ops().glob("mylib.evil", "Thing").raw(b")R").end(),
        "odd/indirect.pkl": Ops().glob("collections", "OrderedDict").raw(b")R)R").end(),
        "odd/build_global.pkl": Ops().glob("collections", "OrderedDict").raw(b"}b").end(),
        "odd/junk.pkl": bytes(range(256)) * 4,
        "odd/junk.bin": b"\x00\x01\x02\x03" * 64,
        "odd/custom.keras": keras_zip([{"module": "my_project.layers", "class_name": "Custom"}]),
        "good/data.pkl": plain_data(),
        "good/data_p5.pkl": pickle.dumps({"k": [1, 2, 3], "s": frozenset({"x"})}, protocol=5),
        "good/sklearn.pkl": sklearn_model(),
        "good/state_dict.pt": torch_zip(torch_state_dict()),
        "good/legacy.pt": torch_legacy(torch_state_dict()),
        "good/array.joblib": joblib_array_then(b""),
        "good/model.safetensors": safetensors(),
        "good/model.onnx": b"\x08\x07\x12\x04onnx",
        "good/plain.npy": npy("<f8", b"\x00" * 8),
        "good/text.npy": npy("|O", pickle.dumps(["a", "b"], protocol=2)),
        "good/model.keras": keras_zip(
            [{"module": "keras.layers", "class_name": "Dense", "config": {}}]
        ),
        "good/notes.txt": b"(not a pickle)\n",
    }


# --- running the gate -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def marker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("marker") / "PAYLOAD_RAN"


@pytest.fixture(scope="module")
def repo_root(tmp_path_factory: pytest.TempPathFactory, marker: Path) -> Path:
    root = tmp_path_factory.mktemp("models-repo")
    for rel, data in build_fixtures(marker).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def run_gate(root: Path, **options: Any) -> dict[str, list[Finding]]:
    repo = open_repo(root)
    gate = GATES["models"]
    result = gate.run(GateContext(repo, gate.inputs(repo, options), timeout=120))
    assert not result.errors, result.errors
    by_path: dict[str, list[Finding]] = {}
    for item in result.findings:
        by_path.setdefault(item.path or "", []).append(item)
    return by_path


@pytest.fixture(scope="module")
def findings(repo_root: Path) -> dict[str, list[Finding]]:
    return run_gate(repo_root)


def rules(items: list[Finding]) -> dict[str, Severity]:
    return {f.rule_id: f.severity for f in items}


def critical_globals(items: list[Finding]) -> set[str]:
    return {
        g for f in items if f.severity is Severity.CRITICAL for g in f.properties.get("globals", [])
    }


# --- malicious files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "evil/payload.pkl",
        "evil/payload_p0.pickle",
        "evil/obfuscated.pkl",
        "evil/weights.bin",
        "evil/legacy.pt",
        "evil/truncated.pkl",
        "evil/disguised.dat",
        "evil/object.npy",
        "evil/model.joblib",
    ],
)
def test_os_system_payload_is_critical(findings: dict[str, list[Finding]], path: str) -> None:
    items = findings[path]
    assert critical_globals(items) == {"posix.system"}, items
    dangerous = next(f for f in items if f.rule_id == "pickle-dangerous-global")
    assert "posix.system" in dangerous.message and dangerous.cwe == "CWE-502"


def test_inst_opcode_payload_names_the_call(findings: dict[str, list[Finding]]) -> None:
    (item,) = [f for f in findings["evil/inst.pkl"] if f.rule_id == "pickle-dangerous-global"]
    assert item.severity is Severity.CRITICAL
    assert item.properties["globals"] == ["os.system"]
    assert item.properties["calls"] == {"os.system": ["INST"]}


def test_torch_zip_finding_names_the_member(findings: dict[str, list[Finding]]) -> None:
    (item,) = findings["evil/model.pt"]
    assert item.severity is Severity.CRITICAL
    assert item.properties["member"] == "archive/data.pkl"
    assert item.properties["format"] == "pytorch-zip"
    assert "archive/data.pkl" in item.message and "posix.system" in item.message
    assert item.properties["calls"] == {"posix.system": ["REDUCE"]}


@pytest.mark.parametrize("path", ["evil/renamed_header.pt", "evil/encrypted_flag.pt"])
def test_zip_header_tricks_do_not_hide_a_member(
    findings: dict[str, list[Finding]], path: str
) -> None:
    items = findings[path]
    assert critical_globals(items) == {"posix.system"}
    header = next(f for f in items if f.rule_id == "unparseable-model")
    assert header.severity is Severity.MEDIUM and "zip headers disagree" in header.message


@pytest.mark.parametrize(
    ("path", "member", "format_"),
    [
        ("evil/arrays.npz", "b.npy", "numpy-npz"),
        ("evil/legacy_tar.pt", "pickle", "pytorch-tar"),
    ],
)
def test_members_of_npz_and_legacy_tar(
    findings: dict[str, list[Finding]], path: str, member: str, format_: str
) -> None:
    (item,) = [f for f in findings[path] if f.severity is Severity.CRITICAL]
    assert item.properties["member"] == member and item.properties["format"] == format_
    assert item.properties["globals"] == ["posix.system"]


def test_nested_archive_is_scanned(findings: dict[str, list[Finding]]) -> None:
    (item,) = findings["evil/nested.zip"]
    assert item.severity is Severity.CRITICAL
    assert item.properties["member"] == "inner/model.pt!/archive/data.pkl"


def test_truncated_pickle_reports_what_precedes_the_damage(
    findings: dict[str, list[Finding]],
) -> None:
    found = rules(findings["evil/truncated.pkl"])
    assert found == {
        "pickle-dangerous-global": Severity.CRITICAL,
        "unparseable-model": Severity.MEDIUM,
    }
    unparseable = next(
        f for f in findings["evil/truncated.pkl"] if f.rule_id == "unparseable-model"
    )
    assert unparseable.message.startswith("could not be fully parsed: ")


def test_getattr_and_attribute_walks_are_critical(findings: dict[str, list[Finding]]) -> None:
    assert critical_globals(findings["evil/getattr.pkl"]) == {"builtins.getattr"}
    assert critical_globals(findings["evil/walk.pkl"]) == {
        "collections.OrderedDict.__init__.__globals__"
    }


def test_keras_lambda_and_dangerous_module(findings: dict[str, list[Finding]]) -> None:
    items = {f.rule_id: f for f in findings["evil/model.keras"]}
    lam = items["keras-lambda-layer"]
    assert lam.severity is Severity.CRITICAL  # its bytecode names __import__, os, system
    assert {"os", "system", "__import__"} <= set(lam.properties["tokens"])
    assert lam.properties["member"] == "config.json"
    custom = items["keras-custom-object"]
    assert custom.severity is Severity.CRITICAL and custom.properties["globals"] == ["os.system"]


def test_keras_h5_lambda_found_without_h5py(findings: dict[str, list[Finding]]) -> None:
    (item,) = findings["evil/model.h5"]
    assert (item.rule_id, item.severity) == ("keras-lambda-layer", Severity.HIGH)
    assert item.properties["layer"] == "l"


def test_no_payload_ran(findings: dict[str, list[Finding]], marker: Path) -> None:
    assert findings
    assert not marker.exists()


# --- unknown, odd and benign files ----------------------------------------------------------


def test_unknown_global_is_medium_with_its_name(findings: dict[str, list[Finding]]) -> None:
    (item,) = findings["odd/unknown.pkl"]
    assert (item.rule_id, item.severity) == ("pickle-unknown-global", Severity.MEDIUM)
    assert item.properties["globals"] == ["mylib.evil.Thing"]
    assert "mylib.evil.Thing" in item.message


def test_calling_a_built_object_or_building_a_global_is_high(
    findings: dict[str, list[Finding]],
) -> None:
    assert rules(findings["odd/indirect.pkl"]) == {"pickle-indirect-call": Severity.HIGH}
    assert rules(findings["odd/build_global.pkl"]) == {"pickle-indirect-call": Severity.HIGH}


def test_junk_with_a_model_extension_is_a_finding_not_a_crash(
    findings: dict[str, list[Finding]],
) -> None:
    assert rules(findings["odd/junk.pkl"]) == {"unparseable-model": Severity.MEDIUM}
    assert "odd/junk.bin" not in findings  # .bin that is no pickle, zip or tar: skipped


def test_custom_keras_object_is_medium(findings: dict[str, list[Finding]]) -> None:
    (item,) = findings["odd/custom.keras"]
    assert (item.rule_id, item.severity) == ("keras-custom-object", Severity.MEDIUM)
    assert item.properties["globals"] == ["my_project.layers.Custom"]


def test_benign_files_have_nothing_at_medium_or_above(findings: dict[str, list[Finding]]) -> None:
    for path, items in findings.items():
        if path.startswith("good/"):
            assert all(not f.severity.at_least(Severity.MEDIUM) for f in items), items
    assert rules(findings["good/text.npy"]) == {"numpy-object-array": Severity.LOW}
    for path in ("good/state_dict.pt", "good/legacy.pt", "good/sklearn.pkl", "good/data.pkl"):
        (item,) = findings[path]  # pickle-based, every global allowlisted: info only
        assert (item.rule_id, item.severity) == ("pickle-format", Severity.INFO)
        assert "prefer skops or safetensors" in item.message
    assert "good/model.safetensors" not in findings


def test_every_file_is_selected_and_text_is_not(repo_root: Path) -> None:
    repo = open_repo(repo_root)
    files = set(ModelFilesGate().inputs(repo, {}).files)
    assert "evil/disguised.dat" in files  # a pickle by its first bytes
    assert "good/notes.txt" not in files


def test_fingerprints_are_stable_and_anchor_on_member_and_globals(repo_root: Path) -> None:
    first = run_gate(repo_root)["evil/model.pt"][0]
    again = run_gate(repo_root)["evil/model.pt"][0]
    assert first.fingerprint and first.fingerprint == again.fingerprint


# --- options --------------------------------------------------------------------------------


def test_require_safe_formats_blocks_pickles_but_passes_safetensors(repo_root: Path) -> None:
    strict = run_gate(repo_root, require_safe_formats=True)
    assert rules(strict["good/data.pkl"]) == {"unsafe-format": Severity.HIGH}
    assert rules(strict["good/state_dict.pt"]) == {"unsafe-format": Severity.HIGH}
    assert "good/model.safetensors" not in strict
    assert "good/model.onnx" not in strict
    assert "good/plain.npy" not in strict
    assert "good/model.keras" not in strict


def test_strict_pack_requires_safe_formats_and_default_production_does_not() -> None:
    assert (
        not load_policy("default", "production").settings("models").options["require_safe_formats"]
    )
    assert not load_policy("default").settings("models").options["require_safe_formats"]
    for env in (None, "production"):
        assert load_policy("strict", env).settings("models").options["require_safe_formats"]


def test_allow_globals_extends_the_allowlist_but_a_glob_never_allows_danger(
    repo_root: Path,
) -> None:
    allowed = run_gate(repo_root, allow_globals=["mylib.*", "posix.*", "builtins.*"])
    assert rules(allowed["odd/unknown.pkl"]) == {"pickle-format": Severity.INFO}
    assert critical_globals(allowed["evil/payload.pkl"]) == {"posix.system"}
    assert critical_globals(allowed["evil/getattr.pkl"]) == {"builtins.getattr"}
    exact = Allowlist(("posix.system",))
    assert exact.classify(GlobalRef("posix", "system")) is Verdict.SAFE  # named exactly


def test_zip_bomb_is_bounded(tmp_path: Path) -> None:
    bomb = zipfile.ZipFile(tmp_path / "bomb.pt", "w", zipfile.ZIP_DEFLATED)
    with bomb, bomb.open("archive/data.pkl", "w") as member:
        member.write(Ops().glob("posix", "system").end()[:-1])
        for _ in range(4):
            member.write(b"N0" * (1 << 19))  # NONE, POP: a valid pickle that goes on and on
    with zipfile.ZipFile(tmp_path / "many.pt", "w") as archive:
        for index in range(200):
            archive.writestr(f"archive/{index}.pkl", Ops().raw(b"N").end())
    found = run_gate(tmp_path, max_archive_mb=1, max_archive_members=100)
    in_bomb = rules(found["bomb.pt"])
    assert in_bomb["scan-limit-exceeded"] is Severity.MEDIUM
    assert in_bomb["pickle-dangerous-global"] is Severity.CRITICAL  # found before the limit
    assert rules(found["many.pt"]) == {"scan-limit-exceeded": Severity.MEDIUM}


def test_nesting_deeper_than_two_levels_is_refused(tmp_path: Path, marker: Path) -> None:
    level3 = nested_zip("c.zip", nested_zip("b.zip", nested_zip("a.pkl", malicious(marker))))
    (tmp_path / "deep.zip").write_bytes(level3)
    (tmp_path / "deep.pt").write_bytes(level3)
    found = run_gate(tmp_path)
    assert "deep.zip" not in found  # a plain .zip: a note, not a finding
    assert rules(found["deep.pt"]) == {"scan-limit-exceeded": Severity.MEDIUM}


def test_big_pickle_is_streamed_with_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.pkl"
    write_big_pickle(path, BIG_MB)
    size = path.stat().st_size
    assert size > BIG_MB * 1_000_000
    settings = Settings.from_options({"max_file_mb": 1}, deadline=None)
    started = time.monotonic()
    tracemalloc.start()
    try:
        scan = scan_file(tmp_path, "big.pkl", settings)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    seconds = time.monotonic() - started
    assert [f.finding.rule_id for f in scan.found] == ["pickle-format"]
    assert peak < size / 20, f"peak {peak} bytes for a {size}-byte file"
    assert seconds < 60


def test_scanner_keeps_memoized_strings_for_stack_global() -> None:
    stream = Ops(4).short("o" + "s").raw(b"\x94").short("sys" + "tem").raw(b"q\x07")
    stream.raw(b"0h\x00h\x07\x93)R")
    report = scan_pickles(io.BytesIO(stream.end()))
    assert [g.dotted for g in report.globals] == ["os.system"]
    assert report.calls[GlobalRef("os", "system")] == {"REDUCE"}
    assert report.error is None


def test_big_mark_frames_keep_the_stack_exact() -> None:
    """Frames larger than what the scanner tracks are dropped in one go: the operands around
    them must still line up (APPENDS of 100 items, then OBJ with 100 arguments)."""
    stream = Ops(4).short("posix").raw(b"](" + b"K\x01" * 100 + b"e0")
    stream.short("system").raw(b"\x93(").glob("sklearn.svm._classes", "SVC")
    stream.raw(b"K\x01" * 100 + b"o0")
    report = scan_pickles(io.BytesIO(stream.end()))
    assert [g.dotted for g in report.globals] == ["posix.system", "sklearn.svm._classes.SVC"]
    assert report.calls[GlobalRef("sklearn.svm._classes", "SVC")] == {"OBJ"}
    assert report.error is None


def test_legacy_torch_file_is_read_as_its_five_pickles() -> None:
    """The raw tensor data after them starts with 80 02 (like a pickle) and is not read."""
    report = scan_pickles(io.BytesIO(torch_legacy(torch_state_dict())))
    assert (report.pickles, report.error, report.notes) == (5, None, [])
    assert report.persistent_ids == 1


def test_extension_registry_opcode_is_unknown() -> None:
    report = scan_pickles(io.BytesIO(Ops().raw(b"\x82\x05)R").end()))
    (ref,) = report.globals
    assert Allowlist().classify(ref) is Verdict.UNKNOWN


# --- the CLI --------------------------------------------------------------------------------


def test_cli_exit_codes(tmp_path: Path, marker: Path) -> None:
    good = tmp_path / "good"
    bad = tmp_path / "bad"
    for root, rel, data in (
        (good, "model.pt", torch_zip(torch_state_dict())),
        (good, "model.safetensors", safetensors()),
        (good, "extra.pkl", Ops().glob("mylib.layers", "Block").raw(b")R").end()),
        (good, ".mlgate.yml", b"models:\n  allow_globals: [mylib.layers.*]\n"),
        (bad, "models/model.pt", torch_zip(malicious(marker))),
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    passed = run_cli(["run", str(good), "models", "--no-cache", "--format", "json"])
    assert passed.returncode == 0, passed.stdout + passed.stderr
    severities = {(f["path"], f["severity"]) for f in json.loads(passed.stdout)["findings"]}
    # .mlgate.yml allowed mylib.layers.*: both pickles are only "prefer a safe format"
    assert severities == {("model.pt", "info"), ("extra.pkl", "info")}
    blocked = run_cli(["run", str(bad), "models", "--no-cache", "--format", "json"])
    assert blocked.returncode == 1, blocked.stderr
    report = json.loads(blocked.stdout)
    (item,) = report["findings"]
    assert (item["severity"], item["path"]) == ("critical", "models/model.pt")
    assert item["properties"]["member"] == "archive/data.pkl"
    production = run_cli(["run", str(good), "models", "--no-cache", "--env", "production"])
    assert production.returncode == 0, production.stdout  # allowlisted pickles deploy
    (good / ".mlgate").mkdir()
    (good / ".mlgate" / "policy.yml").write_text("extends: strict\n")
    strict = run_cli(["run", str(good), "models", "--no-cache", "--env", "production"])
    assert strict.returncode == 1, strict.stdout  # the strict pack requires safe formats
    assert "unsafe-format" in strict.stdout or "safe formats" in strict.stdout
    assert not marker.exists()
