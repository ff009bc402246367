"""Keras: model configs (`.h5`/`.hdf5` JSON attributes, a `.keras` zip's config.json,
`keras_metadata.pb`) checked for Lambda layers (serialized bytecode, never unmarshalled),
custom objects from outside Keras, and layers that open a path or URL at load (lookup
vocabularies, TFSMLayer). HDF5 files are read with h5py's attribute reader when it is
installed, else by a byte search for the JSON configs.
"""

from __future__ import annotations

import base64
import importlib
import importlib.util
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar

from mlgate.findings import Severity
from mlgate.modelfiles.allowlist import Verdict
from mlgate.modelfiles.errors import check_deadline
from mlgate.modelfiles.formats.base import Engine, ModelFormat, Sniffed
from mlgate.modelfiles.pickle_vm import GlobalRef
from mlgate.modelfiles.records import (
    MB,
    RULE_CUSTOM,
    RULE_KERAS_FILE,
    RULE_LAMBDA,
    Scan,
    Where,
)
from mlgate.modelfiles.streams import CHUNK

MAX_JSON_BYTES = 64 * MB
MAX_H5_CONFIGS = 8
KERAS_EXTS = frozenset({".h5", ".hdf5", ".keras"})


def _words_of(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_KERAS_MODULES = ("keras", "tf_keras", "tensorflow.keras", "tensorflow.python.keras")
_LAMBDA_TOKENS = tuple(
    bytes(t, "ascii")
    for t in [
        *("system", "popen", "exec", "eval", "__import__", "subprocess", "getattr"),
        *("compile", "open", "socket", "builtins", "__builtins__", "spawn", "check_output"),
        "os",
    ]
)


@dataclass
class KerasIssues:
    lambdas: list[tuple[str, list[str]]] = field(default_factory=list)  # (layer, tokens)
    custom: list[str] = field(default_factory=list)
    files: list[tuple[str, str, str, str]] = field(default_factory=list)  # class, layer, key, path


def keras_issues(config: Any) -> KerasIssues:
    """Lambda layers and objects from outside Keras in a model config (walked iteratively)."""
    issues = KerasIssues()
    stack: list[Any] = [config]
    visited = 0
    while stack and visited < 1_000_000:
        node = stack.pop()
        visited += 1
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        _keras_node(node, issues)
        stack.extend(node.values())
    return issues


# Layers that open a file or URL named in their config while the model is deserialized,
# even with safe_mode=True: the lookup layers read a vocabulary given as a path
# (CVE-2025-12058), TFSMLayer loads a whole TensorFlow SavedModel (CVE-2026-1462), and
# keras-hub tokenizers read vocabularies, merges and SentencePiece protos by path.
_KERAS_PATH_KEYS = frozenset(
    _words_of("""vocabulary vocabulary_file vocab_file merges proto spm_model_file filepath
    file_path path model_path saved_model_path idf_weights""")
)
KERAS_SAVEDMODEL_LAYERS = frozenset({"TFSMLayer"})


def _keras_files(cls: str, conf: Mapping[str, Any], issues: KerasIssues) -> None:
    layer = str(conf.get("name", "?"))
    for key in sorted(_KERAS_PATH_KEYS & set(conf)):
        value = conf[key]
        if isinstance(value, str) and value.strip():
            issues.files.append((cls, layer, key, value[:300]))


def _keras_node(node: Mapping[str, Any], issues: KerasIssues) -> None:
    cls = node.get("class_name")
    conf_any = node.get("config")
    if isinstance(cls, str) and isinstance(conf_any, dict):
        _keras_files(cls, conf_any, issues)
    if cls == "Lambda":
        conf = node.get("config")
        conf = conf if isinstance(conf, dict) else {}
        issues.lambdas.append((str(conf.get("name", "?")), _lambda_tokens(conf.get("function"))))
    module = node.get("module")
    if not isinstance(module, str) or _is_keras_module(module):
        return
    if isinstance(cls, str):
        target = node.get("config") if cls == "function" else cls
        issues.custom.append(f"{module}.{target}")
    elif isinstance(node.get("function"), str):
        issues.custom.append(f"{module}.{node['function']}")


def _is_keras_module(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in _KERAS_MODULES)


def _lambda_tokens(function: Any) -> list[str]:
    """Dangerous names in a Lambda's serialized bytecode (base64 marshal), found as strings;
    the bytecode is never unmarshalled."""
    code: Any = function
    if isinstance(function, dict):
        inner = function.get("config")
        code = inner.get("code") if isinstance(inner, dict) else inner
    elif isinstance(function, list) and function:
        code = function[0]
    if not isinstance(code, str) or len(code) > 4 * MB:
        return []
    try:
        raw = base64.b64decode(code, validate=False)
    except ValueError:
        return []
    return sorted({t.decode() for t in _LAMBDA_TOKENS if _marshal_name(raw, t)})


def _marshal_name(raw: bytes, token: bytes) -> bool:
    """Whether `token` appears in marshal data as a short ASCII string (type z/Z/a/A)."""
    short = re.compile(rb"[\x5a\x7a\xda\xfa]" + bytes([len(token)]) + re.escape(token))
    long = re.compile(rb"[\x41\x61\xc1\xe1]" + len(token).to_bytes(4, "little") + re.escape(token))
    return bool(short.search(raw) or long.search(raw))


def report_keras(scan: Scan, where: Where, config: Any) -> None:
    issues = keras_issues(config)
    for layer, tokens in issues.lambdas:
        critical = bool(tokens)
        detail = f" (its bytecode names {', '.join(tokens)})" if tokens else ""
        scan.add(
            where,
            RULE_LAMBDA,
            Severity.CRITICAL if critical else Severity.HIGH,
            f"Keras Lambda layer {layer!r} holds serialized Python bytecode{detail}: "
            "loading the model with safe_mode off runs it",
            anchor=f"lambda:{layer}",
            layer=layer,
            tokens=tokens,
        )
    for name in sorted(set(issues.custom)):
        _report_custom(scan, where, name)
    for cls, layer, key, path in issues.files:
        savedmodel = cls in KERAS_SAVEDMODEL_LAYERS
        scan.add(
            where,
            RULE_KERAS_FILE,
            Severity.CRITICAL if savedmodel else Severity.HIGH,
            f"Keras layer {layer!r} ({cls}) has {key}={path!r}: "
            + (
                "it loads that TensorFlow SavedModel, whose graph runs, even with safe_mode=True"
                if savedmodel
                else "loading the model opens that file or URL, even with safe_mode=True"
            ),
            anchor=f"file:{layer}:{key}",
            layer=layer,
            key=key,
            target=path,
        )


def _report_custom(scan: Scan, where: Where, name: str) -> None:
    module, _, attr = name.rpartition(".")
    verdict = scan.settings.allow.classify(GlobalRef(module, attr))
    if verdict is Verdict.SAFE:
        return
    dangerous = verdict is Verdict.DANGEROUS
    scan.add(
        where,
        RULE_CUSTOM,
        Severity.CRITICAL if dangerous else Severity.MEDIUM,
        f"Keras config refers to {name}, outside Keras: loading imports "
        + ("a dangerous callable" if dangerous else "that code (custom object)"),
        anchor=name,
        globals=[name],
    )


class _JsonSpan:
    """Finds where a JSON object that starts at a `{` ends, fed chunk by chunk."""

    _TOKENS = re.compile(rb'[{}"\\]')

    def __init__(self) -> None:
        self.depth = 0
        self.in_string = False
        self.escape = False

    def feed(self, chunk: bytes) -> int | None:
        """The end offset (exclusive) within this chunk, or None if the object goes on."""
        pos = 0
        if self.escape:
            pos, self.escape = 1, False
        while True:
            match = self._TOKENS.search(chunk, pos)
            if match is None:
                return None
            char, pos = chunk[match.start()], match.end()
            if self.in_string:
                if char == 0x5C:
                    self.escape = pos >= len(chunk)
                    pos += 1
                elif char == 0x22:
                    self.in_string = False
            elif char == 0x22:
                self.in_string = True
            elif char == 0x7B:
                self.depth += 1
            elif char == 0x7D:
                self.depth -= 1
                if self.depth == 0:
                    return pos


def _json_at(fh: IO[bytes], start: int) -> tuple[Any, int] | None:
    """The JSON object starting at byte `start`, and where it ends; None when it is not one."""
    fh.seek(start)
    span = _JsonSpan()
    parts: list[bytes] = []
    size = 0
    while size < MAX_JSON_BYTES:
        chunk = fh.read(CHUNK)
        if not chunk:
            return None
        end = span.feed(chunk)
        if end is not None:
            parts.append(chunk[:end])
            try:
                return json.loads(b"".join(parts)), start + size + end
            except ValueError:
                return None
        parts.append(chunk)
        size += len(chunk)
    return None


_H5_JSON_STARTS = (b'{"class_name"', b'{"module"')


def h5_configs(fh: IO[bytes], deadline: float | None) -> Iterator[Any]:
    """Model configs stored as JSON attributes in an HDF5 file, found by a byte search."""
    found = 0
    offset = 0
    carry = b""
    while found < MAX_H5_CONFIGS:
        check_deadline(deadline)
        fh.seek(offset)
        chunk = fh.read(CHUNK)
        if not chunk:
            return
        data = carry + chunk
        base = offset - len(carry)
        hits = sorted(i for s in _H5_JSON_STARTS if (i := data.find(s)) >= 0)
        if not hits:
            carry = data[-16:]
            offset += len(chunk)
            continue
        parsed = _json_at(fh, base + hits[0])
        if parsed is not None:
            found += 1
            yield parsed[0]
        offset = parsed[1] if parsed is not None else base + hits[0] + 1
        carry = b""


def _h5py_configs(path: Path) -> list[Any] | None:
    """model_config/training_config read with h5py (attributes only), when it is installed."""
    if importlib.util.find_spec("h5py") is None:
        return None
    h5py = importlib.import_module("h5py")
    configs: list[Any] = []
    try:
        with h5py.File(path, "r") as handle:
            for key in ("model_config", "training_config"):
                raw = handle.attrs.get(key)
                if raw is not None:
                    text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
                    configs.append(json.loads(text))
    except (OSError, ValueError):  # not readable by h5py: the byte search still runs
        return None
    return configs


def scan_h5(scan: Scan, where: Where, fh: IO[bytes], path: Path | None) -> None:
    scan.format("keras-h5")
    configs = _h5py_configs(path) if path is not None else None
    if configs is None:
        configs = list(h5_configs(fh, scan.settings.deadline))
    for config in configs:
        report_keras(scan, where, config)


class KerasH5Format(ModelFormat):
    name = "keras-h5"
    kinds: ClassVar[frozenset[str]] = frozenset({"hdf5"})
    extensions: ClassVar[frozenset[str]] = KERAS_EXTS

    def recognise(self, head: bytes, size: int | None, fast: bool) -> str | None:
        return "hdf5" if head.startswith(b"\x89HDF\r\n\x1a\n") else None

    def scan(
        self, engine: Engine, fh: IO[bytes], where: Where, file: Sniffed, path: Path | None
    ) -> None:
        scan_h5(engine.scan, where, fh, path)
