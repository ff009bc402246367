"""What the model-file engine reports: neutral, frozen records (what was found, where, the
evidence), which the `models` gate turns into findings, and the scan's settings.

`Scan` is the accumulator one file's scanners write into; `Scan.report()` freezes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlgate.findings import Severity

if TYPE_CHECKING:
    from mlgate.modelfiles.allowlist import Allowlist

MB = 1 << 20

# The engine's rule ids (the gate's catalogue gives each a title, severity and CWE).
RULE_DANGEROUS = "pickle-dangerous-global"
RULE_UNKNOWN = "pickle-unknown-global"
RULE_INDIRECT = "pickle-indirect-call"
RULE_UNPARSEABLE = "unparseable-model"
RULE_UNPROVABLE = "pickle-unprovable"
RULE_LIMIT = "scan-limit-exceeded"
RULE_NUMPY_OBJECT = "numpy-object-array"
RULE_LAMBDA = "keras-lambda-layer"
RULE_CUSTOM = "keras-custom-object"
RULE_KERAS_FILE = "keras-file-reference"
RULE_GGUF_TEMPLATE = "gguf-chat-template-injection"
RULE_ONNX_EXTERNAL = "onnx-external-data-escape"
RULE_TF_OP = "tf-savedmodel-risky-op"
CWE_SSTI = "CWE-1336"
CWE_PATH = "CWE-22"


@dataclass(frozen=True)
class ScanSettings:
    """What the engine needs to know: the allowlist, the limits and the deadline."""

    allow: Allowlist
    max_file_bytes: int
    max_archive_bytes: int
    max_archive_members: int
    deadline: float | None


@dataclass(frozen=True)
class Where:
    """A place in a scanned file: the file, and the archive member inside it, if any."""

    path: str
    member: str | None = None
    depth: int = 0  # archive nesting: 0 for the file itself
    strict: bool = True  # selected by a model extension (else by content or as a plain .zip)

    def inside(self, member: str) -> Where:
        inner = f"{self.member}!/{member}" if self.member else member
        return Where(self.path, inner, self.depth + 1, self.strict)

    def by_content(self) -> Where:
        """The same place, chosen by its content alone (a parse error there is only low)."""
        return Where(self.path, self.member, self.depth, strict=False)

    def label(self) -> str:
        return f"member {self.member}: " if self.member else ""


@dataclass(frozen=True)
class Issue:
    """One thing found: the rule, how severe, where, and the evidence."""

    rule: str
    severity: Severity
    message: str  # starts with the member's label when inside an archive
    path: str
    member: str | None
    anchor: str  # what identifies it within the file across edits ("member|what")
    cwe: str | None = None  # None: the rule's default
    format: str | None = None  # the file's format when this was found
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FileReport:
    """Everything the engine found in one file, and what the file turned out to be."""

    path: str
    issues: tuple[Issue, ...]
    notes: tuple[str, ...]
    formats: tuple[str, ...]
    pickle_based: bool
    pickle_streams: int


@dataclass
class Scan:
    """The accumulator one file's scanners write into."""

    path: str
    settings: ScanSettings
    issues: list[Issue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)
    pickle_based: bool = False
    pickle_streams: int = 0

    def add(
        self,
        where: Where,
        rule: str,
        severity: Severity,
        message: str,
        anchor: str = "",
        cwe: str | None = None,
        **evidence: Any,
    ) -> None:
        self.issues.append(
            Issue(
                rule=rule,
                severity=severity,
                message=f"{where.label()}{message}",
                path=self.path,
                member=where.member,
                anchor=f"{where.member or ''}|{anchor}",
                cwe=cwe,
                format=self.formats[0] if self.formats else None,
                evidence=evidence,
            )
        )

    def note(self, where: Where, text: str) -> None:
        inner = f" [{where.member}]" if where.member else ""
        self.notes.append(f"{self.path}{inner}: {text}")

    def format(self, name: str) -> None:
        if name not in self.formats:
            self.formats.append(name)

    def report(self) -> FileReport:
        return FileReport(
            self.path,
            tuple(self.issues),
            tuple(self.notes),
            tuple(self.formats),
            self.pickle_based,
            self.pickle_streams,
        )
