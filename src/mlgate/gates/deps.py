"""deps gate: known vulnerabilities in every dependency file the repo has.

The engine is `mlgate.deps` (sources, services, the range audit); this module turns its
neutral records into findings. Two services: offline, a local OSV advisory database
(`--advisory-db`, `MLGATE_ADVISORY_DB`, `deps.advisory_db` in .mlgate.yml, or the one
`mlgate db update` cached); online, pip-audit. Any dependency that could not be audited is a
gate error or a finding, never a pass.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from packaging.version import InvalidVersion, Version

from mlgate.cache import make_key
from mlgate.deps.sources import DepFileProblem, Requirement, is_dependency_file
from mlgate.deps.sources.named import named_dependency_files
from mlgate.findings import Finding, Severity, assign_fingerprints
from mlgate.gates.base import (
    UNREADABLE_RULE_INFO,
    Gate,
    GateContext,
    GateInputs,
    GateResult,
    OptionKinds,
    RuleInfo,
    ToolInfo,
    option,
    options_schema_of,
    parse_options,
)
from mlgate.repo import Repo
from mlgate.tools import tool_version

if TYPE_CHECKING:
    from mlgate.deps.advisorydb import Advisory
    from mlgate.deps.audit import DepsAudit
    from mlgate.deps.ranges import VulnerableRange
    from mlgate.deps.services import ServiceAudit, VulnerabilityService, Vulnerable

# The engine (the audit, the database, the services) is imported when the gate runs: a warm
# run that reuses the cached result never loads it (issue 16).
# ruff: noqa: PLC0415

NAME = "deps"
ENV_DB = "MLGATE_ADVISORY_DB"


_SEVERITY_SCHEMA: Mapping[str, Any] = {"enum": ["critical", "high", "medium", "low", "info"]}


@dataclass(frozen=True)
class DepsOptions:
    """The deps gate's options, typed, with their defaults and schema in one place."""

    # globs of the dependency files to audit (default: every file the sources recognise)
    files: tuple[str, ...] | None = option(None, {"type": "array", "items": {"type": "string"}})
    # the offline OSV database (the operator's --advisory-db / MLGATE_ADVISORY_DB wins)
    advisory_db: str | None = option(None, {"type": "string"})
    # for advisories that carry no CVSS severity
    default_severity: str = option("high", _SEVERITY_SCHEMA)
    unpinned_severity: str = option("medium", _SEVERITY_SCHEMA)
    # a dependency that could not be audited is a gate error, never a pass (or a finding)
    unaudited: str = option("error", {"enum": ["error", "finding"]})
    vulnerability_service: str = option("pypi", {"enum": ["pypi", "osv"]})

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> DepsOptions:
        return parse_options(cls, options)


class DepsGate(Gate):
    name = NAME
    summary = "known vulnerabilities in dependency files (offline OSV database or pip-audit)"
    tools = (
        ToolInfo("pip-audit", "pip-audit", "https://github.com/pypa/pip-audit"),
        ToolInfo("osv-database", "", "https://osv.dev/"),
    )
    rules = (
        UNREADABLE_RULE_INFO,
        RuleInfo(
            "unreadable-requirement", "A dependency file could not be audited", Severity.MEDIUM
        ),
        RuleInfo(
            "unaudited-dependency",
            "A dependency could not be audited",
            Severity.MEDIUM,
            tool="pip-audit",
        ),
        RuleInfo(
            "unpinned-dependency",
            "A dependency is not pinned to one version",
            Severity.MEDIUM,
            "CWE-1104",
        ),
        RuleInfo(
            "vulnerable-range",
            "A version range admits versions with known vulnerabilities",
            Severity.LOW,
            "CWE-1395",
        ),
    )
    gitlab_report = "dependency_scanning"
    option_kinds = OptionKinds(
        paths={"files": "globs", "advisory_db": "path"},
        severities=("default_severity", "unpinned_severity"),
        sources=("advisory_db", "vulnerability_service"),
    )
    options_schema: ClassVar[Mapping[str, Any]] = options_schema_of(DepsOptions)

    def inputs(self, repo: Repo, options: Mapping[str, Any]) -> GateInputs:
        named = DepsOptions.of(options).files
        files = (
            tuple(repo.matching(named))
            if named
            else tuple(f for f in repo.files if is_dependency_file(f))
        )
        files += tuple(dict.fromkeys(f for f in named_dependency_files(repo) if f not in files))
        opts = dict(options)
        db = _advisory_db_path(repo.root, options)
        if db is not None:
            opts["advisory_db"] = str(db)
        return GateInputs(files=files, options=opts)

    def starts_tools(self, ctx: GateContext) -> bool:
        """pip-audit runs; the offline database is read in this process."""
        return bool(ctx.inputs.files) and not DepsOptions.of(ctx.inputs.options).advisory_db

    def tool_versions(self) -> Mapping[str, str | None]:
        return {"pip-audit": tool_version("pip-audit", "pip-audit")}

    # Offline results depend only on the dependency files and the database: cache them.
    # Online results depend on a service that changes under us: never reuse them.
    cache_scope = "gate"

    def cache_salt(self, ctx: GateContext) -> str | None:
        db = DepsOptions.of(ctx.inputs.options).advisory_db
        return database_fingerprint(Path(str(db))) if db else None

    def run(self, ctx: GateContext) -> GateResult:
        from mlgate.deps.audit import audit

        started = time.monotonic()
        if not ctx.inputs.files:
            return GateResult(NAME, skipped="no dependency files found")
        db = DepsOptions.of(ctx.inputs.options).advisory_db
        database = Path(str(db)) if db else None
        found = audit(ctx.root, ctx.inputs.files, _service(ctx, database), database)
        vulnerable, errors = _service_findings(ctx, found)
        everything = [
            *vulnerable,
            *(_unpinned_finding(ctx, r) for r in found.unpinned),
            *(_range_finding(r) for r in found.ranges),
            *(_problem_finding(p) for p in found.problems),
        ]
        fingerprinted = assign_fingerprints(
            everything, {i: _anchor(f) for i, f in enumerate(everything)}
        )
        return GateResult(
            NAME,
            findings=tuple(fingerprinted),
            errors=tuple(errors),
            tools=dict(found.tools),
            seconds=time.monotonic() - started,
            files_scanned=len(ctx.inputs.files),
            notes=found.notes,
            properties={
                "source": dict(found.source),
                "dependencies": len(found.requirements),
                "project": found.project,
            },
        )


def _service(ctx: GateContext, database: Path | None) -> VulnerabilityService:
    """The offline database when there is one, else pip-audit with the configured service."""
    from mlgate.deps.services.osv import OsvDatabaseService
    from mlgate.deps.services.pip_audit import PipAuditService

    if database is not None:
        return OsvDatabaseService(database)
    service = DepsOptions.of(ctx.inputs.options).vulnerability_service
    return PipAuditService(service, ctx.root, ctx.timeout)


def _advisory_db_path(root: Path, options: Mapping[str, Any]) -> Path | None:
    """Where the offline database is: the option (the command line's `--advisory-db` or
    `$MLGATE_ADVISORY_DB`, read by the CLI, winning over `.mlgate.yml`'s), else the cache."""
    given = DepsOptions.of(options).advisory_db
    if given:
        path = Path(str(given)).expanduser()
        return path if path.is_absolute() else (root / path)
    from mlgate.deps.dbupdate import cached_db

    return cached_db()


def _service_findings(ctx: GateContext, found: DepsAudit) -> tuple[list[Finding], list[str]]:
    if found.service is None:
        return [], [found.error or "the vulnerability service did not answer"]
    return service_findings(ctx, found.service)


def service_findings(ctx: GateContext, answer: ServiceAudit) -> tuple[list[Finding], list[str]]:
    """A service's answer -> findings, and errors for every dependency it could not audit
    (findings instead when the `unaudited` option says so)."""
    options = DepsOptions.of(ctx.inputs.options)
    default = Severity.parse(options.default_severity)
    to_finding = _package_finding if answer.grouped else _advisory_finding
    findings = [to_finding(v, answer.tool, default) for v in answer.vulnerable]
    errors = _unaudited(answer.unaudited, answer.given)
    if answer.unaudited and options.unaudited == "finding":
        findings += [_unaudited_finding(answer.tool, reason) for reason in answer.unaudited]
        errors = []
    return findings, errors


def parse_pip_audit(
    ctx: GateContext, data: Mapping[str, Any], pinned: Sequence[Requirement]
) -> tuple[list[Finding], list[str]]:
    """pip-audit's JSON -> findings, and errors for every dependency it could not audit."""
    from mlgate.deps.services.pip_audit import PipAuditService

    service = PipAuditService("pypi", ctx.root, ctx.timeout)
    return service_findings(ctx, service.read_report(data, pinned))


def _unaudited(skipped: Sequence[str], total: int) -> list[str]:
    if not skipped:
        return []
    hint = (
        (
            " (is the vulnerability service reachable? offline: --advisory-db DIR or "
            "`mlgate db update`)"
        )
        if len(skipped) == total
        else ""
    )
    return [
        f"{len(skipped)} of {total} dependencies could not be audited{hint}; first: {skipped[0]}"
    ]


def _unaudited_finding(tool: str, reason: str) -> Finding:
    return Finding(
        gate=NAME,
        tool=tool,
        rule_id="unaudited-dependency",
        severity=Severity.MEDIUM,
        message=reason,
    )


def _problem_finding(problem: DepFileProblem) -> Finding:
    return Finding(
        gate=NAME,
        tool="mlgate",
        rule_id="unreadable-requirement",
        severity=Severity.parse(problem.severity),
        message=f"could not audit: {problem.message}",
        path=problem.path,
        line=problem.line,
    )


def _severity(adv: Advisory, default: Severity) -> Severity:
    return Severity.parse(adv.severity, default) if adv.severity else default


def _advisory_finding(found: Vulnerable, tool: str, default: Severity) -> Finding:
    """One finding per advisory, as the service reported it (pip-audit)."""
    (adv,) = found.advisories
    return _vuln_finding(
        found.requirement, tool, adv.id, adv.aliases, adv.summary, adv.fixed, adv.url, default
    )


def _vuln_finding(
    req: Requirement,
    tool: str,
    vuln_id: str,
    aliases: Sequence[str],
    summary: str,
    fixed: Sequence[str],
    url: str,
    severity: Severity,
) -> Finding:
    fix = f"upgrade {req.name} to {' or '.join(fixed)}" if fixed else None
    names = ", ".join(aliases)
    return Finding(
        gate=NAME,
        tool=tool,
        rule_id=vuln_id,
        severity=severity,
        confidence="high",
        message=f"{req.name} {req.version} is vulnerable: {vuln_id}"
        + (f" ({names})" if names else "")
        + (f": {summary}" if summary else ""),
        path=req.path,
        line=req.line,
        help_uri=url,
        fix=fix,
        properties={
            "package": req.name,
            "version": req.version,
            "advisory": vuln_id,
            "aliases": list(aliases),
            "fixed_versions": list(fixed),
        },
    )


def _unpinned_finding(ctx: GateContext, req: Requirement) -> Finding:
    return Finding(
        gate=NAME,
        tool="mlgate",
        rule_id="unpinned-dependency",
        severity=Severity.parse(DepsOptions.of(ctx.inputs.options).unpinned_severity),
        confidence="high",
        message=f"{req.spec!r} is not pinned to one version, so it could not be audited "
        "(pin it with ==, or audit a lock file)",
        path=req.path,
        line=req.line,
        properties={"package": req.name},
    )


def _anchor(finding: Finding) -> str:
    return str(finding.properties.get("package", finding.message))


def _range_finding(found: VulnerableRange) -> Finding:
    req, specifier = found.requirement, found.specifier
    safe = found.safe_lower_bound
    ids = [a.id for a, _ in found.admitted]
    shown = specifier or "any version"
    return Finding(
        gate=NAME,
        tool="mlgate",
        rule_id="vulnerable-range",
        severity=Severity.LOW,
        confidence="medium",
        message=f"{req.name} {shown} admits versions with known vulnerabilities "
        f"({', '.join(ids)}); raise the lower bound to >={safe}",
        path=req.path,
        line=req.line,
        fix=f"require {req.name}>={safe}",
        properties={
            "package": req.name,
            "range": specifier,
            "advisories": ids,
            "safe_lower_bound": str(safe),
        },
    )


def _package_finding(found: Vulnerable, tool: str, default: Severity) -> Finding:
    """One finding per vulnerable package: every advisory, the worst severity, and the single
    minimal version that fixes them all."""
    req = found.requirement
    advisories = sorted(found.advisories, key=lambda a: (-_severity(a, default).rank, a.id))
    worst = advisories[0]
    ids = [a.id for a in advisories]
    aliases = sorted({alias for a in advisories for alias in a.aliases})
    safe = _minimal_safe(advisories)
    finding = _vuln_finding(
        req,
        tool,
        worst.id,
        aliases,
        worst.summary,
        (safe,) if safe else (),
        worst.url,
        _severity(worst, default),
    )
    if len(advisories) > 1:
        finding = finding.with_changes(
            message=f"{req.name} {req.version} is vulnerable: {len(ids)} advisories "
            f"({', '.join(ids)}); worst: {worst.id}"
            + (f": {worst.summary}" if worst.summary else "")
        )
    props = {**finding.properties, "advisories": ids, "fixed_versions": [safe] if safe else []}
    if any(not a.fixed for a in advisories):
        props["unfixed"] = [a.id for a in advisories if not a.fixed]
    return finding.with_changes(properties=props)


def _minimal_safe(advisories: Sequence[Advisory]) -> str | None:
    """The lowest version that fixes every advisory: the max over advisories of each one's
    lowest fix above the current version (None when one has no fix)."""
    lowest: list[Version] = []
    for adv in advisories:
        fixes = sorted(Version(v) for v in adv.fixed if _parses(v))
        if not fixes:
            return None
        lowest.append(fixes[0])
    return str(max(lowest)) if lowest else None


def _parses(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def database_fingerprint(path: Path) -> str:
    """A cheap identity of an advisory database: every record file's name, size and mtime
    (one `scandir` per directory: a warm run over the PyPA database's 2,665 files took 70 to
    95 ms with pathlib, issue 16)."""
    entries: list[str] = []
    pending = [""]
    try:
        while pending:
            rel = pending.pop()
            with os.scandir(os.path.join(path, rel)) as listing:
                for entry in listing:
                    name = f"{rel}/{entry.name}" if rel else entry.name
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(name)
                    elif entry.is_file():
                        st = entry.stat()
                        entries.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
    except OSError:
        return f"unreadable:{path}"
    return make_key(str(path.resolve()), sorted(entries))
