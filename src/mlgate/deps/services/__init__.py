"""Vulnerability services behind `VulnerabilityService`: the offline OSV database (`osv.py`)
and pip-audit (`pip_audit.py`). A service that cannot answer raises `ServiceError`."""

from __future__ import annotations

from mlgate.deps.services.interface import (
    ServiceAudit,
    ServiceError,
    VulnerabilityService,
    Vulnerable,
)

__all__ = ["ServiceAudit", "ServiceError", "VulnerabilityService", "Vulnerable"]
