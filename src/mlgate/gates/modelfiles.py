"""The `models` gate (model files): a static scan of model files, never loaded.

The scanning is the engine's (`mlgate.modelfiles`: the format registry, the pickle VM, the
allowlist); it returns neutral records, and this module turns them into findings: the rule
catalogue, fingerprints, the policy's `require_safe_formats` (a pickle-based file is info,
"prefer skops or safetensors", or high when safe formats are required) and
`require_model_card`. A dangerous global (os.system, eval, subprocess, ...) is critical;
one that is neither known-safe nor known-dangerous is medium ("cannot be proven safe"),
with its name and the allow_globals line that would allow it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from mlgate import __version__
from mlgate.findings import Finding, Severity, assign_fingerprints
from mlgate.gates.base import (
    UNREADABLE_RULE_INFO,
    Gate,
    GateContext,
    GateInputs,
    GateResult,
    OptionKinds,
    PipelineTraits,
    RuleInfo,
    option,
    options_schema_of,
    parse_options,
)
from mlgate.modelcards import find_cards
from mlgate.modelfiles.errors import ScanTimeout
from mlgate.modelfiles.records import (
    MB,
    RULE_CUSTOM,
    RULE_DANGEROUS,
    RULE_GGUF_TEMPLATE,
    RULE_INDIRECT,
    RULE_KERAS_FILE,
    RULE_LAMBDA,
    RULE_LIMIT,
    RULE_NUMPY_OBJECT,
    RULE_ONNX_EXTERNAL,
    RULE_TF_OP,
    RULE_UNKNOWN,
    RULE_UNPARSEABLE,
    RULE_UNPROVABLE,
    FileReport,
    Issue,
    ScanSettings,
)
from mlgate.repo import Repo

# The engine (the formats, the pickle VM, the allowlist) is imported when a file is sniffed
# or scanned: a warm run that reuses every cached result never loads it (issue 16).
# ruff: noqa: PLC0415

NAME = "models"
TOOL = "mlgate"
DEFAULT_MAX_FILE_MB = 16.0
DEFAULT_MAX_ARCHIVE_MB = 2048.0
DEFAULT_MAX_ARCHIVE_MEMBERS = 50_000

# The gate's own rules (policy on what the engine found).
RULE_UNSAFE_FORMAT = "unsafe-format"
RULE_PICKLE_FORMAT = "pickle-format"
RULE_NO_CARD = "model-file-without-card"
CWE_DESERIALIZATION = "CWE-502"
HELP_PICKLE = "https://docs.python.org/3/library/pickle.html#restricting-globals"


@dataclass(frozen=True)
class ModelFilesOptions:
    """The models gate's options, typed, with their defaults and schema in one place."""

    allow_globals: tuple[str, ...] = option(
        (), {"type": "array", "items": {"type": "string", "minLength": 1, "pattern": r"^[^\s]+$"}}
    )
    require_safe_formats: bool = option(False, {"type": "boolean"})
    max_file_mb: float = option(DEFAULT_MAX_FILE_MB, {"type": "number", "exclusiveMinimum": 0})
    max_archive_mb: float = option(
        DEFAULT_MAX_ARCHIVE_MB, {"type": "number", "exclusiveMinimum": 0}
    )
    max_archive_members: int = option(
        DEFAULT_MAX_ARCHIVE_MEMBERS, {"type": "integer", "minimum": 1}
    )
    # Files that are models whatever their format (e.g. JSON weights): scanned, and listed
    # in the ML-BOM.
    model_files: tuple[str, ...] = option(
        (), {"type": "array", "items": {"type": "string", "minLength": 1}}
    )
    # Each model file must be named by a model card (mlgate.modelcards), else a finding.
    require_model_card: bool = option(False, {"type": "boolean"})

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> ModelFilesOptions:
        return parse_options(cls, options)


@dataclass(frozen=True)
class Settings(ScanSettings):
    """The engine's settings plus the gate's policy switch."""

    require_safe_formats: bool = False

    @classmethod
    def from_options(cls, options: Mapping[str, Any], deadline: float | None) -> Settings:
        from mlgate.modelfiles.allowlist import Allowlist

        typed = ModelFilesOptions.of(options)
        return cls(
            allow=Allowlist(typed.allow_globals),
            require_safe_formats=typed.require_safe_formats,
            max_file_bytes=int(float(typed.max_file_mb) * MB),
            max_archive_bytes=int(float(typed.max_archive_mb) * MB),
            max_archive_members=int(typed.max_archive_members),
            deadline=deadline,
        )


# --- from the engine's records to findings --------------------------------------------------


@dataclass(frozen=True)
class _Found:
    finding: Finding
    anchor: str


@dataclass(frozen=True)
class FileScan:
    """One file's findings (before fingerprinting) and notes, and what it turned out to be."""

    path: str
    found: tuple[_Found, ...]
    notes: tuple[str, ...]
    formats: tuple[str, ...]
    pickle_streams: int


def scan_file(root: Path, rel: str, settings: Settings) -> FileScan:
    """Scan one repository file and judge it. Never raises for its content (only
    ScanTimeout)."""
    from mlgate.modelfiles import engine

    report = engine.scan_file(root, rel, settings)
    issues = [*report.issues, *_format_issues(report, settings)]
    return FileScan(
        path=rel,
        found=tuple(_Found(_finding(issue), issue.anchor) for issue in issues),
        notes=report.notes,
        formats=report.formats,
        pickle_streams=report.pickle_streams,
    )


def _finding(issue: Issue) -> Finding:
    properties = {"member": issue.member, **issue.evidence}
    if issue.format is not None:
        properties.setdefault("format", issue.format)
    default_cwe = None if issue.rule == RULE_LIMIT else CWE_DESERIALIZATION
    return Finding(
        gate=NAME,
        tool=TOOL,
        rule_id=issue.rule,
        severity=issue.severity,
        confidence="high",
        message=issue.message,
        path=issue.path,
        cwe=issue.cwe if issue.cwe is not None else default_cwe,
        help_uri=HELP_PICKLE if issue.rule.startswith("pickle") else None,
        properties=properties,
    )


def _format_issues(report: FileReport, settings: Settings) -> list[Issue]:
    """A pickle-based file: high when the policy requires safe formats, else info when
    nothing else was found in it."""
    if not report.pickle_based:
        return []
    kind = report.formats[0] if report.formats else "pickle"
    if settings.require_safe_formats:
        rule, severity = RULE_UNSAFE_FORMAT, Severity.HIGH
        message = (
            f"model stored in a pickle-based format ({kind}); this environment requires "
            "safe formats: convert it to safetensors, ONNX or GGUF"
        )
    elif not any(issue.severity.at_least(Severity.LOW) for issue in report.issues):
        rule, severity = RULE_PICKLE_FORMAT, Severity.INFO
        message = (
            f"pickle-based format ({kind}): every global it imports is on the allowlist, "
            "but loading still runs the pickle machine; prefer skops or safetensors"
        )
    else:
        return []
    first = report.formats[0] if report.formats else None
    return [Issue(rule, severity, message, report.path, None, f"|{rule}", format=first)]


def select_files(repo: Repo) -> list[str]:
    """Files with a model extension or file name, and any other file whose content is one
    a model loader reads (`mlgate.modelfiles.engine.is_model_file`)."""
    from mlgate.modelfiles.engine import is_model_file

    return [rel for rel in repo.files if is_model_file(repo.root, rel)]


class ModelFilesGate(Gate):
    name = NAME
    summary = "static scan of model files (pickle, joblib, PyTorch, NumPy, Keras); never loads them"
    rules = (
        UNREADABLE_RULE_INFO,
        RuleInfo(
            RULE_DANGEROUS,
            "A pickle imports a global that can run code when loaded",
            Severity.CRITICAL,
            CWE_DESERIALIZATION,
            HELP_PICKLE,
        ),
        RuleInfo(
            RULE_UNKNOWN,
            "A pickle imports a global that is not on the allowlist",
            Severity.HIGH,
            CWE_DESERIALIZATION,
            HELP_PICKLE,
        ),
        RuleInfo(
            RULE_INDIRECT,
            "A pickle calls an object it built indirectly",
            Severity.HIGH,
            CWE_DESERIALIZATION,
            HELP_PICKLE,
        ),
        RuleInfo(
            RULE_UNPROVABLE, "A pickle could not be proven safe", Severity.HIGH, CWE_DESERIALIZATION
        ),
        RuleInfo(RULE_UNPARSEABLE, "A model file could not be parsed", Severity.MEDIUM),
        RuleInfo(
            RULE_UNSAFE_FORMAT,
            "A model is stored in a format that can run code",
            Severity.MEDIUM,
            CWE_DESERIALIZATION,
        ),
        RuleInfo(
            RULE_PICKLE_FORMAT, "A model file is a pickle", Severity.MEDIUM, CWE_DESERIALIZATION
        ),
        RuleInfo(RULE_NO_CARD, "A model file is named by no model card", Severity.MEDIUM),
        RuleInfo(
            RULE_LIMIT,
            "A model file exceeds a scan limit and was not fully scanned",
            Severity.MEDIUM,
        ),
        RuleInfo(
            RULE_NUMPY_OBJECT,
            "A NumPy array holds pickled objects",
            Severity.HIGH,
            CWE_DESERIALIZATION,
        ),
        RuleInfo(
            RULE_LAMBDA, "A Keras model contains a Lambda layer (code)", Severity.HIGH, "CWE-94"
        ),
        RuleInfo(RULE_CUSTOM, "A Keras model names a custom object", Severity.MEDIUM),
        RuleInfo(RULE_KERAS_FILE, "A Keras model references a file", Severity.MEDIUM),
        RuleInfo(
            RULE_GGUF_TEMPLATE, "A GGUF chat template can inject code", Severity.HIGH, "CWE-94"
        ),
        RuleInfo(
            RULE_ONNX_EXTERNAL,
            "An ONNX model's external data escapes its directory",
            Severity.HIGH,
            "CWE-22",
        ),
        RuleInfo(RULE_TF_OP, "A TensorFlow SavedModel uses a risky operation", Severity.HIGH),
    )
    # continuous training scans the model it just trained
    pipeline = PipelineTraits(extras="", in_training=True)
    gitlab_report = "sast"
    option_kinds = OptionKinds(growing_lists=("allow_globals",), switches=("require_safe_formats",))
    cache_scope = "file"  # a file's findings depend only on its bytes and the options
    options_schema: ClassVar[Mapping[str, Any]] = options_schema_of(ModelFilesOptions)

    def inputs(self, repo: Repo, options: Mapping[str, Any]) -> GateInputs:
        declared = repo.matching(ModelFilesOptions.of(options).model_files)
        files = dict.fromkeys([*select_files(repo), *declared])
        return GateInputs(files=tuple(files), options=dict(options))

    def tool_versions(self) -> Mapping[str, str | None]:
        return {TOOL: __version__}

    def cache_salt(self, ctx: GateContext) -> str:
        """The scanner's own rules: a change to the engine or its data invalidates cached
        results."""
        digest = hashlib.sha256()
        for source in engine_sources():
            digest.update(source.read_bytes())
        from mlgate.modelfiles.allowlist import inventory_versions

        digest.update(json.dumps(inventory_versions(), sort_keys=True).encode())
        if ModelFilesOptions.of(ctx.inputs.options).require_model_card:  # cards' text counts
            for card in find_cards(ctx.repo):
                digest.update(card.path.encode() + b"\0" + card.text.encode())
        return digest.hexdigest()[:16]

    def run(self, ctx: GateContext) -> GateResult:
        started = time.monotonic()
        files = ctx.inputs.files
        if not files:
            return GateResult(NAME, skipped="no model files found", tools=self.tool_versions())
        settings = Settings.from_options(ctx.inputs.options, started + ctx.timeout)
        scans, errors = _scan_all(ctx.root, files, settings)
        findings = _fingerprinted([f for s in scans for f in s.found])
        if ModelFilesOptions.of(ctx.inputs.options).require_model_card:
            findings += card_findings(ctx.repo, files)
        formats = Counter(s.formats[0] for s in scans if s.formats)
        return GateResult(
            NAME,
            findings=tuple(findings),
            errors=tuple(errors),
            tools=self.tool_versions(),
            seconds=time.monotonic() - started,
            files_scanned=len(scans),
            notes=tuple(_capped_notes([n for s in scans for n in s.notes])),
            properties={
                "formats": dict(sorted(formats.items())),
                "pickle_streams": sum(s.pickle_streams for s in scans),
            },
        )


def engine_sources() -> list[Path]:
    """This module and every file of the engine package (code and the allowlist data)."""
    files = [Path(__file__)]
    spec = importlib.util.find_spec("mlgate.modelfiles")
    if spec is not None and spec.origin:
        package = Path(spec.origin).parent
        files += sorted(p for p in package.rglob("*") if p.suffix in (".py", ".json"))
    return files


def card_findings(repo: Repo, files: Sequence[str]) -> list[Finding]:
    """A finding for each model file that no model card names."""
    cards = find_cards(repo)
    where = ", ".join(c.path for c in cards) or "no model card in the repository"
    found = [
        Finding(
            gate=NAME,
            tool=TOOL,
            rule_id=RULE_NO_CARD,
            severity=Severity.MEDIUM,
            confidence="high",
            message=f"{rel}: no model card names this model file ({where}); the policy "
            "requires one (intended use, training data, metrics, limitations)",
            path=rel,
            fix=f"name {rel} in MODEL_CARD.md",
            properties={"cards": [c.path for c in cards]},
        )
        for rel in files
        if not any(card.names(rel) for card in cards)
    ]
    return assign_fingerprints(found, {i: f"model-card|{f.path}" for i, f in enumerate(found)})


def _scan_all(
    root: Path, files: Sequence[str], settings: Settings
) -> tuple[list[FileScan], list[str]]:
    scans: list[FileScan] = []
    for index, rel in enumerate(files):
        try:
            scans.append(scan_file(root, rel, settings))
        except ScanTimeout:
            left = len(files) - index
            return scans, [f"timed out while scanning {rel}: {left} file(s) not fully scanned"]
    return scans, []


def _fingerprinted(found: Sequence[_Found]) -> list[Finding]:
    anchors = {i: item.anchor for i, item in enumerate(found)}
    return assign_fingerprints([item.finding for item in found], anchors)


def _capped_notes(notes: Sequence[str], limit: int = 50) -> list[str]:
    if len(notes) <= limit:
        return list(notes)
    return [*notes[:limit], f"... and {len(notes) - limit} more note(s)"]
