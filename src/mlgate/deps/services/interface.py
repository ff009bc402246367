"""What every vulnerability service is: given pinned requirements, the advisories that affect
them, or a `ServiceError` when it could not answer (the gate is then `error`: fail closed)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from mlgate.deps.advisorydb import Advisory
from mlgate.deps.sources import Requirement


class ServiceError(Exception):
    """A vulnerability service could not answer; the message names the service."""


@dataclass(frozen=True)
class Vulnerable:
    """Advisories a service found for one requirement."""

    requirement: Requirement
    advisories: tuple[Advisory, ...]


@dataclass(frozen=True)
class ServiceAudit:
    """A service's answer for the pinned requirements it was given.

    `grouped`: each record holds every advisory of its package (the offline database, which
    knows every advisory's fixed versions); else one record per advisory, as the service
    reported it (pip-audit). `tool` names the service in findings; `unaudited` says why each
    dependency it could not audit was skipped; `given` counts the pinned ones it was asked.
    """

    tool: str
    vulnerable: tuple[Vulnerable, ...]
    unaudited: tuple[str, ...]
    given: int
    grouped: bool
    source: Mapping[str, Any]
    tools: Mapping[str, str | None]


class VulnerabilityService(ABC):
    """One way to learn which advisories affect pinned requirements."""

    kind: ClassVar[str]  # `source.kind` in the gate's properties
    tool: ClassVar[str]  # the tool its findings name

    @abstractmethod
    def source(self) -> dict[str, Any]:
        """What the service is, before it runs (kept in the gate's properties on an error)."""

    @abstractmethod
    def tool_versions(self) -> Mapping[str, str | None]:
        """The versions known before it runs (the offline database's comes with its answer)."""

    @abstractmethod
    def query(self, requirements: Sequence[Requirement]) -> ServiceAudit:
        """The advisories for the pinned ones of `requirements`; ServiceError when it cannot."""
