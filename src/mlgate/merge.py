"""`mlgate merge`: combine the json reports of sharded CI jobs into one set of gate results.

Merging is order-independent and idempotent: findings are keyed by fingerprint, errors and
notes are sets, and everything is sorted before the policy decides again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate import __version__
from mlgate.errors import ReportError
from mlgate.findings import Finding, sort_key
from mlgate.gates import GateResult
from mlgate.repo import Repo
from mlgate.report.base import REPORT_SCHEMA_VERSION
from mlgate.runner import RunResult

REQUIRED_KEYS = ("schema_version", "mlgate_version", "commit", "gates", "findings", "started_at")


@dataclass(frozen=True)
class LoadedReport:
    path: Path
    data: Mapping[str, Any]


def load_reports(paths: Sequence[Path]) -> list[LoadedReport]:
    """Read and check json reports; anything unusable is a ReportError (exit 2)."""
    if not paths:
        raise ReportError("merge needs at least one json report")
    reports = [_load(path) for path in paths]
    _same(reports, "commit", "reports come from different commits")
    majors = {str(r.data["mlgate_version"]).split(".")[0] for r in reports}
    if len(majors) > 1 or majors != {__version__.split(".")[0]}:
        raise ReportError(
            f"reports come from different mlgate major versions ({', '.join(sorted(majors))}; "
            f"this is {__version__})"
        )
    return reports


def _load(path: Path) -> LoadedReport:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: no such report") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ReportError(
            f"{path}:{exc.lineno}: not a json report (truncated?): {exc.msg}"
        ) from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: not an mlgate json report (the top level is not an object)")
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise ReportError(f"{path}: not an mlgate json report: missing {', '.join(missing)}")
    if data["schema_version"] != REPORT_SCHEMA_VERSION:
        raise ReportError(
            f"{path}: report schema_version {data['schema_version']} is not supported"
        )
    return LoadedReport(path, data)


def _same(reports: Sequence[LoadedReport], key: str, what: str) -> None:
    values = {str(r.data.get(key)) for r in reports}
    if len(values) > 1:
        listing = ", ".join(f"{r.path}: {r.data.get(key)}" for r in reports)
        raise ReportError(f"{what} ({listing})")


def merge_results(reports: Sequence[LoadedReport]) -> RunResult:
    """One RunResult holding every gate that any input ran."""
    by_gate: dict[str, list[tuple[Mapping[str, Any], list[Finding]]]] = {}
    seen: set[str] = set()
    for report in reports:
        findings = [_finding(report.path, f) for f in report.data["findings"]]
        for gate in report.data["gates"]:
            key = json.dumps(gate, sort_keys=True)
            if key in seen:  # the same job's report given twice
                continue
            seen.add(key)
            name = str(gate.get("name"))
            mine = [f for f in findings if f.gate == name]
            by_gate.setdefault(name, []).append((gate, mine))
    results = tuple(_merge_gate(name, parts) for name, parts in sorted(by_gate.items()))
    first = min(reports, key=lambda r: str(r.data.get("root", "")))
    repo = Repo(
        root=Path(str(first.data.get("root", "."))),
        files=(),
        is_git=bool(first.data.get("git")),
        commit=first.data.get("commit"),
        notes=tuple(sorted({n for r in reports for n in r.data.get("notes", [])})),
    )
    started = min(str(r.data["started_at"]) for r in reports)
    seconds = max(float(r.data.get("seconds", 0.0)) for r in reports)
    return RunResult(repo, results, started, seconds)


def _finding(path: Path, data: Mapping[str, Any]) -> Finding:
    try:
        return Finding.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ReportError(f"{path}: a finding is malformed: {exc}") from None


def _merge_gate(name: str, parts: Sequence[tuple[Mapping[str, Any], list[Finding]]]) -> GateResult:
    findings = {f.fingerprint: f for _, found in parts for f in found}
    tools: dict[str, str | None] = {}
    for gate, _ in parts:
        tools.update(gate.get("tools") or {})
    skipped = [g.get("skipped") for g, _ in parts]
    properties: dict[str, Any] = {}
    for gate, _ in sorted(parts, key=lambda p: json.dumps(p[0].get("properties"), sort_keys=True)):
        properties.update(gate.get("properties") or {})
    return GateResult(
        gate=name,
        findings=tuple(sorted(findings.values(), key=lambda f: (*sort_key(f), f.fingerprint))),
        errors=tuple(sorted({e for g, _ in parts for e in g.get("errors") or []})),
        skipped=str(skipped[0]) if all(skipped) else None,
        tools=dict(sorted(tools.items())),
        seconds=max(float(g.get("seconds", 0.0)) for g, _ in parts),
        files_scanned=sum(int(g.get("files_scanned", 0)) for g, _ in parts),
        notes=tuple(sorted({n for g, _ in parts for n in g.get("notes") or []})),
        properties=properties,
    )
