"""`mlgate doctor`'s checks: the pinned scanners, the other tools each gate calls, the network
and the deps gate's vulnerability data. Returns what it found; `cli/doctor.py` prints it."""

from __future__ import annotations

import json
import socket
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from mlgate import toolenv
from mlgate.deps.advisorydb import AdvisoryDB
from mlgate.deps.dbupdate import cached_db
from mlgate.errors import ConfigError, MlgateError
from mlgate.gates import GATES
from mlgate.toollock import TOOLS

SERVICES = (("pypi.org", 443), ("api.osv.dev", 443))
# A release with known advisories: the deps gate's data source must report them.
PROBE_PACKAGE = ("pyyaml", "5.3.1")


@dataclass(frozen=True)
class DoctorOptions:
    """`advisory_db`: the operator's offline database (else the cached one, else PyPI's API).
    `tools_problem`: why the pinned scanners could not be configured, if they could not."""

    advisory_db: Path | None = None
    tools_problem: str | None = None
    services: tuple[tuple[str, int], ...] = SERVICES


@dataclass(frozen=True)
class ToolCheck:
    """A pinned scanner: its version, source and environment, intact or why not."""

    name: str
    version: str = ""
    source: str = ""
    state: str = ""  # "intact", or the reason it is not
    where: str = ""
    ok: bool = False
    error: str | None = None  # its plan could not be made (a bad pin)


@dataclass(frozen=True)
class GateToolCheck:
    """Another tool a gate calls (the repository's pytest, a library): its version, if found."""

    gate: str
    tool: str
    version: str | None


@dataclass(frozen=True)
class ServiceCheck:
    host: str
    port: int
    reachable: bool


@dataclass(frozen=True)
class DataCheck:
    """Whether the deps gate has vulnerability data, and what answered."""

    ok: bool
    state: str


@dataclass(frozen=True)
class Doctor:
    tools: tuple[ToolCheck, ...]
    tools_problem: str | None
    tools_dir: Path | None
    gate_tools: tuple[GateToolCheck, ...]
    services: tuple[ServiceCheck, ...]
    advisory_db: Path | None
    deps: DataCheck

    @property
    def missing(self) -> int:
        """Tools missing or broken (every pinned scanner when they could not be configured)."""
        pinned = len(TOOLS) if self.tools_problem else sum(not t.ok for t in self.tools)
        return pinned + sum(g.version is None for g in self.gate_tools)

    @property
    def healthy(self) -> bool:
        return self.missing == 0 and self.deps.ok


def check(options: DoctorOptions) -> Doctor:
    """Every check `mlgate doctor` shows (the tools must be configured first, unless
    `options.tools_problem` says why they could not be)."""
    configured = options.tools_problem is None
    database = options.advisory_db or cached_db()
    return Doctor(
        tools=tuple(_tool_check(name) for name in TOOLS) if configured else (),
        tools_problem=options.tools_problem,
        tools_dir=toolenv.tools_dir() if configured else None,
        gate_tools=_gate_tools(),
        services=tuple(ServiceCheck(h, p, _reachable(h, p)) for h, p in options.services),
        advisory_db=database,
        deps=deps_data(database),
    )


def _tool_check(name: str) -> ToolCheck:
    try:
        plan = toolenv.plan(name)
    except ConfigError as exc:
        return ToolCheck(name, error=exc.message)
    state = toolenv.status(plan, deep=True)
    version = plan.version or toolenv.version(name) or "?"
    shown = "intact" if state.intact else state.reason
    return ToolCheck(name, version, plan.source, shown, str(toolenv.where(plan)), state.intact)


def _gate_tools() -> tuple[GateToolCheck, ...]:
    return tuple(
        GateToolCheck(name, tool, version)
        for name, gate in GATES.items()
        for tool, version in gate.tool_versions().items()
        if not toolenv.is_managed(tool)
    )


def deps_data(db: Path | None) -> DataCheck:
    """Whether the deps gate has vulnerability data: the offline database loads and knows
    the probe's advisories, or (no database) PyPI's vulnerability API returns them."""
    name, version = PROBE_PACKAGE
    if db is not None:
        try:
            found = len(AdvisoryDB.load(db).match(name, version))
        except MlgateError as exc:
            return DataCheck(False, f"offline database does not load: {exc.message}")
        return DataCheck(
            found > 0, f"offline database loads: {name} {version} has {found} advisory(ies)"
        )
    url = f"https://pypi.org/pypi/{name}/{version}/json"
    try:
        # A constant https:// host with the name and version in the path.
        with urllib.request.urlopen(url, timeout=10) as answer:  # nosemgrep
            found = len(json.loads(answer.read()).get("vulnerabilities") or [])
    except (OSError, ValueError) as exc:
        return DataCheck(False, f"no vulnerability data: {url}: {exc} (run `mlgate db update`)")
    return DataCheck(
        found > 0, f"PyPI vulnerability API answers: {name} {version} has {found} advisory(ies)"
    )


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False
