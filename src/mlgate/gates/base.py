"""The gate interface: explicit inputs in, findings and errors out."""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mlgate.findings import Finding, Severity, assign_fingerprints
from mlgate.repo import Repo


class GateStatus(str, enum.Enum):
    PASS = "pass"  # noqa: S105  # nosec B105 (a status, not a password)
    FAIL = "fail"
    ERROR = "error"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class GateInputs:
    """Everything a gate's result depends on, so a cache or a changed-only run can key on it."""

    files: tuple[str, ...]
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GateContext:
    repo: Repo
    inputs: GateInputs
    timeout: float

    @property
    def root(self) -> Path:
        return self.repo.root

    def option(self, key: str, default: Any = None) -> Any:
        return self.inputs.options.get(key, default)


@dataclass(frozen=True)
class GateResult:
    """What a gate produced. The policy, not the gate, turns this into pass or fail."""

    gate: str
    findings: tuple[Finding, ...] = ()
    errors: tuple[str, ...] = ()
    skipped: str | None = None
    tools: Mapping[str, str | None] = field(default_factory=dict)
    seconds: float = 0.0
    files_scanned: int = 0
    notes: tuple[str, ...] = ()
    properties: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ran(self) -> bool:
        return self.skipped is None and not self.errors


@dataclass
class Collector:
    """What a gate has found so far, with each finding's fingerprint anchor."""

    findings: list[Finding] = field(default_factory=list)
    anchors: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)

    def add(self, finding: Finding, anchor: str) -> None:
        self.findings.append(finding)
        self.anchors.append(anchor)

    def fingerprinted(self) -> tuple[Finding, ...]:
        return tuple(assign_fingerprints(self.findings, dict(enumerate(self.anchors))))

    def result(
        self, gate: str, tools: Mapping[str, str | None], files_scanned: int = 0
    ) -> GateResult:
        """The gate's result: fingerprinted findings, errors, notes and properties."""
        return GateResult(
            gate,
            findings=self.fingerprinted(),
            errors=tuple(self.errors),
            tools=tools,
            files_scanned=files_scanned,
            notes=tuple(self.notes),
            properties=self.properties,
        )


UNREADABLE_RULE = "unreadable-path"


def split_readable(root: Path, files: Sequence[str]) -> tuple[list[str], list[str]]:
    """(files mlgate may read, files it may not): permissions, not content."""
    readable: list[str] = []
    unreadable: list[str] = []
    for rel in files:
        (readable if os.access(root / rel, os.R_OK) else unreadable).append(rel)
    return readable, unreadable


def unreadable_findings(gate: str, paths: Sequence[str]) -> list[Finding]:
    """One `unreadable-path` finding per file or directory (`dir/`) that could not be read:
    what was not scanned is reported, never silently skipped."""
    return [
        Finding(
            gate=gate,
            tool="mlgate",
            rule_id=UNREADABLE_RULE,
            severity=Severity.HIGH,
            confidence="high",
            message=(
                f"{'directory' if rel.endswith('/') else 'file'} could not be read "
                "(permission denied), so it was not scanned: make it readable to the user "
                "running mlgate, or exclude it"
            ),
            path=rel,
        )
        for rel in paths
    ]


class Gate(Protocol):
    """One module per gate implements this; `gates.GATES` is the registry."""

    name: str
    summary: str
    # JSON Schema (a `properties` mapping) of the gate's own tool options in the policy.
    options_schema: Mapping[str, Any]

    def inputs(self, repo: Repo, options: Mapping[str, Any]) -> GateInputs:
        """Select the files this gate reads and the options its result depends on."""

    def run(self, ctx: GateContext) -> GateResult:
        """Run the gate's tools over ctx.inputs; never raise for a tool's failure."""

    def tool_versions(self) -> Mapping[str, str | None]:
        """Name -> version of each external tool this gate calls (None: not installed)."""
