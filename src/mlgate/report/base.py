"""The data every report renders, and the report-format interface."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from mlgate import __version__
from mlgate.gates import GateResult
from mlgate.policy import Decision, Policy
from mlgate.runner import RunResult

REPORT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Report:
    """One run (or merge) as reports see it: results, decision, and where they came from."""

    run: RunResult
    policy: Policy
    decision: Decision
    mode: Mapping[str, Any]

    def result(self, gate: str) -> GateResult | None:
        return next((r for r in self.run.results if r.gate == gate), None)

    def to_dict(self) -> dict[str, Any]:
        """The json report: everything, in a stable shape (see README, "json report")."""
        repo = self.run.repo
        decision = self.decision
        return {
            "schema_version": REPORT_SCHEMA_VERSION,
            "mlgate_version": __version__,
            "root": str(repo.root),
            "commit": repo.commit,
            "git": repo.is_git,
            "env": decision.env,
            "policy": {"source": self.policy.source, "digest": self.policy.digest},
            "mode": dict(self.mode),
            "started_at": self.run.started_at,
            "seconds": round(self.run.seconds, 3),
            "decision": {
                "passed": decision.passed,
                "exit_code": decision.exit_code,
                "violations": list(decision.violations),
                "warnings": list(decision.warnings),
                "expired_waivers": list(decision.expired_waivers),
            },
            "gates": [self._gate_dict(r) for r in self.run.results],
            "findings": [f.to_dict() for f in decision.findings],
            "notes": list(repo.notes),
        }

    def _gate_dict(self, result: GateResult) -> dict[str, Any]:
        verdict = self.decision.verdicts.get(result.gate)
        return {
            "name": result.gate,
            "status": verdict.status.value if verdict else "skipped",
            "required": verdict.required if verdict else False,
            "reasons": list(verdict.reasons) if verdict else ["not in the policy's scope"],
            "tools": dict(result.tools),
            "seconds": round(result.seconds, 3),
            "files_scanned": result.files_scanned,
            "findings": len(result.findings),
            "errors": list(result.errors),
            "skipped": result.skipped,
            "notes": list(result.notes),
            "properties": dict(result.properties),
        }


class ReportFormat(Protocol):
    """One module per format; `report.FORMATS` is the registry."""

    name: str
    filename: str

    def render(self, report: Report, color: bool = False) -> str: ...
