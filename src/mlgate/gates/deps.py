"""deps gate: known vulnerabilities in every dependency file the repo has.

Two sources. Offline: a local OSV advisory database (`--advisory-db`, `MLGATE_ADVISORY_DB`,
`deps.advisory_db` in .mlgate.yml, or the one `mlgate db update` cached). Online: pip-audit.
pip-audit fails open when its service is unreachable (every dependency gets a `skip_reason`
and it still says "No known vulnerabilities found"): here any dependency that could not be
audited is a gate error or a finding, never a pass.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlgate.advisories import Advisory, AdvisoryDB, cached_db
from mlgate.cache import make_key
from mlgate.depfiles import Requirement, is_dependency_file, read_dependency_file
from mlgate.errors import AdvisoryDBError
from mlgate.findings import Finding, Severity, assign_fingerprints
from mlgate.gates.base import GateContext, GateInputs, GateResult
from mlgate.lifecycle import temp_dir
from mlgate.repo import Repo
from mlgate.tools import run_json_tool, tool_version

NAME = "deps"
ENV_DB = "MLGATE_ADVISORY_DB"
PIP_AUDIT_SHAPE: Mapping[str, type] = {"dependencies": list}  # what pip-audit always reports


class DepsGate:
    name = NAME
    summary = "known vulnerabilities in dependency files (offline OSV database or pip-audit)"
    options_schema: Mapping[str, Any] = {
        "files": {"type": "array", "items": {"type": "string"}},
        "advisory_db": {"type": "string"},
        "default_severity": {"enum": ["critical", "high", "medium", "low", "info"]},
        "unpinned_severity": {"enum": ["critical", "high", "medium", "low", "info"]},
        "unaudited": {"enum": ["error", "finding"]},
        "vulnerability_service": {"enum": ["pypi", "osv"]},
    }

    def inputs(self, repo: Repo, options: Mapping[str, Any]) -> GateInputs:
        named = options.get("files")
        files = (
            tuple(repo.matching(named))
            if named
            else tuple(f for f in repo.files if is_dependency_file(f))
        )
        opts = dict(options)
        db = _advisory_db_path(repo.root, options)
        if db is not None:
            opts["advisory_db"] = str(db)
        return GateInputs(files=files, options=opts)

    def tool_versions(self) -> Mapping[str, str | None]:
        return {"pip-audit": tool_version("pip-audit", "pip-audit")}

    # Offline results depend only on the dependency files and the database: cache them.
    # Online results depend on a service that changes under us: never reuse them.
    cache_scope = "gate"

    def cache_salt(self, ctx: GateContext) -> str | None:
        db = ctx.option("advisory_db")
        return database_fingerprint(Path(str(db))) if db else None

    def run(self, ctx: GateContext) -> GateResult:
        started = time.monotonic()
        if not ctx.inputs.files:
            return GateResult(NAME, skipped="no dependency files found")
        requirements, findings, notes = _read_all(ctx)
        if ctx.option("advisory_db"):
            result = _audit_offline(ctx, requirements)
        else:
            result = _audit_online(ctx, requirements)
        found, errors, source, tools = result
        unpinned = [_unpinned_finding(ctx, r) for r in requirements if r.version is None]
        everything = assign_fingerprints(
            [*found, *unpinned, *findings],
            {i: _anchor(f) for i, f in enumerate([*found, *unpinned, *findings])},
        )
        return GateResult(
            NAME,
            findings=tuple(everything),
            errors=tuple(errors),
            tools=tools,
            seconds=time.monotonic() - started,
            files_scanned=len(ctx.inputs.files),
            notes=tuple(notes),
            properties={"source": source, "dependencies": len(requirements)},
        )


# findings, errors, where the vulnerability data came from, tool versions
AuditResult = tuple[list[Finding], list[str], dict[str, Any], dict[str, str | None]]


def database_fingerprint(path: Path) -> str:
    """A cheap identity of an advisory database: every record file's name, size and mtime."""
    try:
        entries = sorted(
            f"{p.relative_to(path)}:{st.st_size}:{st.st_mtime_ns}"
            for p in path.rglob("*")
            if p.is_file() and (st := p.stat())
        )
    except OSError:
        return f"unreadable:{path}"
    return make_key(str(path.resolve()), entries)


def _advisory_db_path(root: Path, options: Mapping[str, Any]) -> Path | None:
    """Where the offline database is: option (CLI/.mlgate.yml), environment, then the cache."""
    given = options.get("advisory_db") or os.environ.get(ENV_DB)
    if given:
        path = Path(str(given)).expanduser()
        return path if path.is_absolute() else (root / path)
    return cached_db()


def _read_all(ctx: GateContext) -> tuple[list[Requirement], list[Finding], list[str]]:
    requirements: list[Requirement] = []
    problems: list[Finding] = []
    for rel in ctx.inputs.files:
        found, issues = read_dependency_file(ctx.root, rel)
        requirements += found
        problems += [
            Finding(
                gate=NAME,
                tool="mlgate",
                rule_id="unreadable-requirement",
                severity=Severity.MEDIUM,
                message=f"could not audit: {p.message}",
                path=p.path,
                line=p.line,
            )
            for p in issues
        ]
    unique = {(r.name, r.version, r.path, r.line): r for r in requirements}
    return list(unique.values()), problems, []


def _audit_offline(ctx: GateContext, requirements: Sequence[Requirement]) -> AuditResult:
    path = Path(str(ctx.option("advisory_db")))
    source: dict[str, Any] = {"kind": "osv-offline", "path": str(path)}
    default = Severity.parse(str(ctx.option("default_severity", "high")))
    try:
        db = AdvisoryDB.load(path)
        matches = [
            (req, adv)
            for req in requirements
            if req.version is not None
            for adv in db.match(req.name, req.version)
        ]
    except AdvisoryDBError as exc:
        return [], [f"advisory database: {exc.message}"], source, {}
    findings = [
        _vuln_finding(
            req,
            "osv-database",
            adv.id,
            adv.aliases,
            adv.summary,
            adv.fixed,
            adv.url,
            _severity(adv, default),
        )
        for req, adv in matches
    ]
    source.update(path=str(db.path), revision=db.revision, records=db.record_count)
    return findings, [], source, {"osv-database": db.revision}


def _severity(adv: Advisory, default: Severity) -> Severity:
    return Severity.parse(adv.severity, default) if adv.severity else default


def _audit_online(ctx: GateContext, requirements: Sequence[Requirement]) -> AuditResult:
    service = str(ctx.option("vulnerability_service", "pypi"))
    source: dict[str, Any] = {"kind": "pip-audit", "service": service}
    tools = dict(DepsGate().tool_versions())
    pinned = [r for r in requirements if r.version is not None]
    if not pinned:
        return [], [], source, tools
    with temp_dir("mlgate-deps-") as tmp:
        reqfile = Path(tmp) / "requirements.txt"
        reqfile.write_text("".join(f"{r.name}=={r.version}\n" for r in pinned), encoding="utf-8")
        argv = [
            "pip-audit",
            "-r",
            str(reqfile),
            "--no-deps",
            "--disable-pip",
            "--format",
            "json",
            "--progress-spinner",
            "off",
            "-s",
            service,
        ]
        report = run_json_tool(
            argv, [], ctx.timeout, PIP_AUDIT_SHAPE, cwd=ctx.root, ok_codes=(0, 1)
        )
    if not report.ok:
        return [], [f"pip-audit: {report.problem}"], source, tools
    missing = _not_reported(report.data["dependencies"], pinned)
    if missing:
        error = (
            f"pip-audit: its report leaves out {len(missing)} of the {len(pinned)} pinned "
            f"dependencies it was given, so they were not audited: {', '.join(missing[:5])}"
        )
        return [], [error], source, tools
    findings, errors = parse_pip_audit(ctx, report.data, pinned)
    return findings, errors, source, tools


def _not_reported(dependencies: Sequence[Any], pinned: Sequence[Requirement]) -> list[str]:
    """The pinned requirements pip-audit's report does not mention (by normalised name)."""
    named = {_normalised(d.get("name")) for d in dependencies if isinstance(d, dict)}
    return [r.name for r in pinned if _normalised(r.name) not in named]


def _normalised(name: Any) -> str:
    return re.sub(r"[-_.]+", "-", str(name)).lower()


def parse_pip_audit(
    ctx: GateContext, data: Mapping[str, Any], pinned: Sequence[Requirement]
) -> tuple[list[Finding], list[str]]:
    """pip-audit's JSON -> findings, and errors for every dependency it could not audit."""
    where = {(r.name, r.version): r for r in pinned}
    default = Severity.parse(str(ctx.option("default_severity", "high")))
    findings: list[Finding] = []
    skipped: list[str] = []
    for dep in data.get("dependencies", []):
        key = (str(dep.get("name", "")).lower().replace("_", "-"), dep.get("version"))
        req = where.get(key) or next((r for r in pinned if r.name == key[0]), None)
        if dep.get("skip_reason"):
            skipped.append(str(dep["skip_reason"]))
            continue
        if req is None:
            continue
        for vuln in dep.get("vulns", []):
            findings.append(
                _vuln_finding(
                    req,
                    "pip-audit",
                    str(vuln.get("id")),
                    tuple(vuln.get("aliases") or ()),
                    str(vuln.get("description") or "")[:200],
                    tuple(vuln.get("fix_versions") or ()),
                    f"https://osv.dev/vulnerability/{vuln.get('id')}",
                    default,
                )
            )
    errors = _unaudited(ctx, skipped, len(pinned))
    if ctx.option("unaudited", "error") == "finding":
        findings += [_unaudited_finding(reason) for reason in skipped]
        errors = []
    return findings, errors


def _unaudited(ctx: GateContext, skipped: Sequence[str], total: int) -> list[str]:
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


def _unaudited_finding(reason: str) -> Finding:
    return Finding(
        gate=NAME,
        tool="pip-audit",
        rule_id="unaudited-dependency",
        severity=Severity.MEDIUM,
        message=reason,
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
        severity=Severity.parse(str(ctx.option("unpinned_severity", "medium"))),
        confidence="high",
        message=f"{req.spec!r} is not pinned to one version, so it could not be audited "
        "(pin it with ==, or audit a lock file)",
        path=req.path,
        line=req.line,
        properties={"package": req.name},
    )


def _anchor(finding: Finding) -> str:
    return str(finding.properties.get("package", finding.message))
