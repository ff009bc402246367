"""pip-audit as a vulnerability service (online: PyPI's or OSV's API).

pip-audit fails open when its service is unreachable (every dependency gets a `skip_reason`
and it still says "No known vulnerabilities found"): each skip comes back as `unaudited`, and
a report that leaves out a dependency it was given is a `ServiceError`, never a pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlgate.deps.advisorydb import Advisory
from mlgate.deps.services.interface import (
    ServiceAudit,
    ServiceError,
    VulnerabilityService,
    Vulnerable,
)
from mlgate.deps.sources import Requirement
from mlgate.lifecycle import temp_dir
from mlgate.tools import run_json_tool, tool_version

TOOL = "pip-audit"
SHAPE: Mapping[str, type] = {"dependencies": list}  # what pip-audit always reports
SUMMARY_CHARS = 200


class PipAuditService(VulnerabilityService):
    kind = "pip-audit"
    tool = TOOL

    def __init__(self, service: str, root: Path, timeout: float) -> None:
        self.service = service  # pip-audit's `-s`: pypi or osv
        self.root = root
        self.timeout = timeout

    def source(self) -> dict[str, Any]:
        return {"kind": self.kind, "service": self.service}

    def tool_versions(self) -> Mapping[str, str | None]:
        return {TOOL: tool_version(TOOL, TOOL)}

    def argv(self, requirements_file: Path) -> list[str]:
        return [
            TOOL,
            "-r",
            str(requirements_file),
            "--no-deps",
            "--disable-pip",
            "--format",
            "json",
            "--progress-spinner",
            "off",
            "-s",
            self.service,
        ]

    def query(self, requirements: Sequence[Requirement]) -> ServiceAudit:
        pinned = [r for r in requirements if r.version is not None]
        if not pinned:
            return self.read_report({"dependencies": []}, pinned)
        with temp_dir("mlgate-deps-") as tmp:
            reqfile = Path(tmp) / "requirements.txt"
            reqfile.write_text(
                "".join(f"{r.name}=={r.version}\n" for r in pinned), encoding="utf-8"
            )
            report = run_json_tool(
                self.argv(reqfile), [], self.timeout, SHAPE, cwd=self.root, ok_codes=(0, 1)
            )
        if not report.ok:
            raise ServiceError(f"pip-audit: {report.problem}")
        missing = _not_reported(report.data["dependencies"], pinned)
        if missing:
            raise ServiceError(
                f"pip-audit: its report leaves out {len(missing)} of the {len(pinned)} pinned "
                f"dependencies it was given, so they were not audited: {', '.join(missing[:5])}"
            )
        return self.read_report(report.data, pinned)

    def read_report(self, data: Mapping[str, Any], pinned: Sequence[Requirement]) -> ServiceAudit:
        """pip-audit's JSON -> one record per advisory, and why each skipped dependency was."""
        where = {(r.name, r.version): r for r in pinned}
        vulnerable: list[Vulnerable] = []
        skipped: list[str] = []
        for dep in data.get("dependencies", []):
            key = (str(dep.get("name", "")).lower().replace("_", "-"), dep.get("version"))
            req = where.get(key) or next((r for r in pinned if r.name == key[0]), None)
            if dep.get("skip_reason"):
                skipped.append(str(dep["skip_reason"]))
                continue
            if req is not None:
                vulnerable += [Vulnerable(req, (_advisory(v),)) for v in dep.get("vulns", [])]
        return ServiceAudit(
            tool=TOOL,
            vulnerable=tuple(vulnerable),
            unaudited=tuple(skipped),
            given=len(pinned),
            grouped=False,
            source=self.source(),
            tools=self.tool_versions(),
        )


def _advisory(vuln: Mapping[str, Any]) -> Advisory:
    vuln_id = str(vuln.get("id"))
    return Advisory(
        id=vuln_id,
        aliases=tuple(vuln.get("aliases") or ()),
        summary=str(vuln.get("description") or "")[:SUMMARY_CHARS],
        fixed=tuple(vuln.get("fix_versions") or ()),
        severity=None,
        cvss=None,
        url=f"https://osv.dev/vulnerability/{vuln.get('id')}",
        modified="",
    )


def _not_reported(dependencies: Sequence[Any], pinned: Sequence[Requirement]) -> list[str]:
    """The pinned requirements pip-audit's report does not mention (by normalised name)."""
    named = {_normalised(d.get("name")) for d in dependencies if isinstance(d, dict)}
    return [r.name for r in pinned if _normalised(r.name) not in named]


def _normalised(name: Any) -> str:
    return re.sub(r"[-_.]+", "-", str(name)).lower()
