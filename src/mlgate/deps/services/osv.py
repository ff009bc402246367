"""The offline OSV advisory database as a vulnerability service: no network, one finding per
vulnerable package (every advisory, and the one upgrade that fixes them all)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlgate.deps.advisorydb import Advisory, AdvisoryDB
from mlgate.deps.services.interface import (
    ServiceAudit,
    ServiceError,
    VulnerabilityService,
    Vulnerable,
)
from mlgate.deps.sources import Requirement
from mlgate.errors import AdvisoryDBError

TOOL = "osv-database"


class OsvDatabaseService(VulnerabilityService):
    kind = "osv-offline"
    tool = TOOL

    def __init__(self, path: Path) -> None:
        self.path = path

    def source(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": str(self.path)}

    def tool_versions(self) -> Mapping[str, str | None]:
        return {}

    def query(self, requirements: Sequence[Requirement]) -> ServiceAudit:
        try:
            db = AdvisoryDB.load(self.path)
            matches = [
                (req, adv)
                for req in requirements
                if req.version is not None
                for adv in db.match(req.name, req.version)
            ]
        except AdvisoryDBError as exc:
            raise ServiceError(f"advisory database: {exc.message}") from exc
        grouped: dict[tuple[str, int, str, str | None], list[Advisory]] = {}
        owners: dict[tuple[str, int, str, str | None], Requirement] = {}
        for req, adv in matches:
            key = (req.path, req.line, req.name, req.version)
            grouped.setdefault(key, []).append(adv)
            owners[key] = req
        return ServiceAudit(
            tool=TOOL,
            vulnerable=tuple(Vulnerable(owners[k], tuple(advs)) for k, advs in grouped.items()),
            unaudited=(),
            given=sum(1 for r in requirements if r.version is not None),
            grouped=True,
            source={
                "kind": self.kind,
                "path": str(db.path),
                "revision": db.revision,
                "records": db.record_count,
            },
            tools={TOOL: db.revision},
        )
