"""The deps engine: read every dependency file, ask a vulnerability service about the pinned
requirements, and sort out the ranges by what the project is. It returns neutral records;
the gate (`gates/deps.py`) turns them into findings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate.deps.project import LIBRARY, LOCKED, project_kind
from mlgate.deps.ranges import VulnerableRange, audit_ranges
from mlgate.deps.services import ServiceAudit, ServiceError, VulnerabilityService
from mlgate.deps.sources import DepFileProblem, Requirement, is_manifest, read_dependency_file

LOCKED_NOTE = (
    "lock file present: its pinned versions are audited; version ranges in "
    "pyproject.toml/setup.cfg/setup.py are not reported as unpinned"
)


@dataclass(frozen=True)
class DepsAudit:
    """Everything the deps engine learnt about a repository's dependency files.

    `service` is the vulnerability service's answer, or None when it could not answer
    (`error` says why); `unpinned` are the ranges reported as such (not a library's, not a
    locked project's manifest ranges); `ranges` a library's ranges that admit vulnerable
    versions.
    """

    requirements: tuple[Requirement, ...]
    problems: tuple[DepFileProblem, ...]
    project: str
    service: ServiceAudit | None
    error: str | None
    source: Mapping[str, Any]
    tools: Mapping[str, str | None]
    unpinned: tuple[Requirement, ...] = ()
    ranges: tuple[VulnerableRange, ...] = ()
    notes: tuple[str, ...] = field(default=())


def read_all(root: Path, files: Sequence[str]) -> tuple[list[Requirement], list[DepFileProblem]]:
    """Every file's requirements (each one once) and problems."""
    requirements: list[Requirement] = []
    problems: list[DepFileProblem] = []
    for rel in files:
        found, issues = read_dependency_file(root, rel)
        requirements += found
        problems += issues
    unique = {(r.name, r.version, r.path, r.line): r for r in requirements}
    return list(unique.values()), problems


def audit(
    root: Path, files: Sequence[str], service: VulnerabilityService, database: Path | None
) -> DepsAudit:
    """Audit `files` with `service`; a library's ranges against `database` when there is one."""
    requirements, problems = read_all(root, files)
    kind = project_kind(root, files)
    answer: ServiceAudit | None = None
    error: str | None = None
    try:
        answer = service.query(requirements)
    except ServiceError as exc:
        error = str(exc)
    ranged = [r for r in requirements if r.version is None]
    unpinned: list[Requirement] = []
    ranges: tuple[VulnerableRange, ...] = ()
    notes: list[str] = []
    if kind == LIBRARY:
        found = audit_ranges(database, ranged)
        ranges, notes = found.ranges, [found.note]
    else:
        covered = kind == LOCKED
        unpinned = [r for r in ranged if not (covered and is_manifest(r.path))]
        notes = [LOCKED_NOTE] if covered else []
    return DepsAudit(
        requirements=tuple(requirements),
        problems=tuple(problems),
        project=kind,
        service=answer,
        error=error,
        source=answer.source if answer else service.source(),
        tools=answer.tools if answer else service.tool_versions(),
        unpinned=tuple(unpinned),
        ranges=ranges,
        notes=tuple(notes),
    )
