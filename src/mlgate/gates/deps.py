"""deps gate: known vulnerabilities in every dependency file the repo has.

Two sources. Offline: a local OSV advisory database (`--advisory-db`, `MLGATE_ADVISORY_DB`,
`deps.advisory_db` in .mlgate.yml, or the one `mlgate db update` cached). Online: pip-audit.
pip-audit fails open when its service is unreachable (every dependency gets a `skip_reason`
and it still says "No known vulnerabilities found"): here any dependency that could not be
audited is a gate error or a finding, never a pass.
"""

from __future__ import annotations

import posixpath
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import yaml
from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PackagingRequirement
from packaging.version import InvalidVersion, Version

from mlgate.advisories import Advisory, AdvisoryDB, cached_db
from mlgate.cache import make_key
from mlgate.depfiles import (
    Requirement,
    is_dependency_file,
    is_lock_file,
    poetry_specifiers,
    read_dependency_file,
)
from mlgate.errors import AdvisoryDBError
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
)
from mlgate.lifecycle import temp_dir
from mlgate.repo import Repo
from mlgate.tools import run_json_tool, tool_version

NAME = "deps"
ENV_DB = "MLGATE_ADVISORY_DB"
PIP_AUDIT_SHAPE: Mapping[str, type] = {"dependencies": list}  # what pip-audit always reports


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
    options_schema: ClassVar[Mapping[str, Any]] = {
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
        named = [*_mlproject_envs(repo), *_dvc_named_files(repo)]
        files += tuple(dict.fromkeys(f for f in named if f not in files))
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
        kind = project_kind(ctx.root, ctx.inputs.files)
        ranged = [r for r in requirements if r.version is None]
        if ctx.option("advisory_db"):
            result = _audit_offline(ctx, requirements)
        else:
            result = _audit_online(ctx, requirements)
        found, errors, source, tools = result
        unpinned: list[Finding] = []
        if kind == "library":
            unpinned, note = _audit_ranges(ctx, ranged)
            notes.append(note)
        else:
            covered = kind == "locked"
            unpinned = [
                _unpinned_finding(ctx, r) for r in ranged if not (covered and _is_manifest(r.path))
            ]
            if covered:
                notes.append(
                    "lock file present: its pinned versions are audited; version ranges in "
                    "pyproject.toml/setup.cfg/setup.py are not reported as unpinned"
                )
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
            properties={"source": source, "dependencies": len(requirements), "project": kind},
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
    """Where the offline database is: the option (the command line's `--advisory-db` or
    `$MLGATE_ADVISORY_DB`, read by the CLI, winning over `.mlgate.yml`'s), else the cache."""
    given = options.get("advisory_db")
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
                severity=Severity.parse(p.severity),
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
    grouped: dict[tuple[str, int, str, str | None], list[Advisory]] = {}
    owners: dict[tuple[str, int, str, str | None], Requirement] = {}
    for req, adv in matches:
        key = (req.path, req.line, req.name, req.version)
        grouped.setdefault(key, []).append(adv)
        owners[key] = req
    findings = [
        _package_finding(owners[key], "osv-database", advs, default)
        for key, advs in grouped.items()
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


# --- project kind, ranges, grouping ------------------------------------------------------------

MANIFESTS = ("pyproject.toml", "setup.cfg", "setup.py")


def _is_manifest(path: str) -> bool:
    return path.rsplit("/", 1)[-1] in MANIFESTS


def project_kind(root: Path, files: Sequence[str]) -> str:
    """`locked` (a lock file or a hashed requirements file), `library` (a build system at the
    root: `[build-system]` in pyproject.toml, or setup.py/setup.cfg, and no lock), else `app`."""
    if any(is_lock_file(f) or _hashed(root, f) for f in files):
        return "locked"
    pyproject = root / "pyproject.toml"
    try:
        declares = "[build-system]" in pyproject.read_text(encoding="utf-8", errors="replace")
    except OSError:
        declares = False
    if declares or (root / "setup.py").is_file() or (root / "setup.cfg").is_file():
        return "library"
    return "app"


def _hashed(root: Path, rel: str) -> bool:
    if not rel.endswith(".txt"):
        return False
    try:
        return "--hash=" in (root / rel).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _mlproject_envs(repo: Repo) -> list[str]:
    """The conda/python env files an MLflow `MLproject` names (read as YAML, inside the repo)."""
    found: list[str] = []
    for rel in repo.files:
        if rel.rsplit("/", 1)[-1] != "MLproject":
            continue
        try:
            data = yaml.safe_load((repo.root / rel).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        for key in ("conda_env", "python_env"):
            value = data.get(key) if isinstance(data, dict) else None
            if isinstance(value, str) and value.strip():
                base = rel.rsplit("/", 1)[0] + "/" if "/" in rel else ""
                target = posixpath.normpath(base + value.strip())
                if target in repo.files and target.endswith((".yml", ".yaml")):
                    found.append(target)
    return found


# In a dvc.yaml stage: `pip install -r FILE` / `--requirement FILE`, `conda env create -f FILE`.
_DVC_CMD_FILES = re.compile(
    r"(?:\s-r\s*|--requirement[=\s]\s*|conda\s+env\s+(?:create|update)\b[^;&|]*?(?:-f|--file)[=\s]\s*)"
    r"(?P<path>[^\s;&|]+)"
)


def _dvc_named_files(repo: Repo) -> list[str]:
    """The requirements and conda env files a `dvc.yaml` stage installs (its `cmd`) or names
    among its `deps` (read as YAML, inside the repo; nothing is run)."""
    found: list[str] = []
    for rel in repo.files:
        if rel.rsplit("/", 1)[-1] not in ("dvc.yaml", "dvc.yml"):
            continue
        try:
            data = yaml.safe_load((repo.root / rel).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        stages = data.get("stages") if isinstance(data, dict) else None
        base = rel.rsplit("/", 1)[0] + "/" if "/" in rel else ""
        for stage in (stages or {}).values() if isinstance(stages, dict) else ():
            found += _dvc_stage_files(repo, base, stage)
    return found


def _dvc_stage_files(repo: Repo, base: str, stage: Any) -> list[str]:
    if not isinstance(stage, dict):
        return []
    wdir = stage.get("wdir")
    here = posixpath.normpath(base + (wdir if isinstance(wdir, str) else ".")) + "/"
    commands = stage.get("cmd")
    lines = [commands] if isinstance(commands, str) else list(commands or [])
    named = [m["path"] for c in lines if isinstance(c, str) for m in _DVC_CMD_FILES.finditer(c)]
    deps = [d for d in stage.get("deps") or [] if isinstance(d, str)]
    named += [d for d in deps if is_dependency_file(d)]
    targets = [posixpath.normpath(here + n.strip("'\"")) for n in named]
    return [t for t in targets if t in repo.files and _readable_as_deps(t)]


def _readable_as_deps(rel: str) -> bool:
    return rel.endswith((".txt", ".yml", ".yaml", ".in")) or is_dependency_file(rel)


def _audit_ranges(ctx: GateContext, ranged: Sequence[Requirement]) -> tuple[list[Finding], str]:
    """A library's version ranges: a range admitting a vulnerable version that has a fix is a
    `low` finding naming the safe lower bound. Needs the offline database."""
    base = f"library (build system, no lock file): {len(ranged)} version range(s) "
    path = ctx.option("advisory_db")
    if not path:
        return [], base + "not audited (range audit needs the offline advisory database)"
    try:
        db = AdvisoryDB.load(Path(str(path)))
    except AdvisoryDBError:
        return [], base + "not audited (advisory database unreadable)"
    findings: list[Finding] = []
    unread = 0
    for req in ranged:
        specifiers = _specifiers(req.spec)
        if specifiers is None:
            unread += 1
            continue
        admitted = {a.id: (a, v) for spec in specifiers for a, v in db.admitted(req.name, spec)}
        if admitted:
            shown = " || ".join(specifiers) if len(specifiers) > 1 else specifiers[0]
            findings.append(_range_finding(req, shown, [admitted[i] for i in sorted(admitted)]))
    note = base + "audited against the advisory database instead of flagged as unpinned"
    if unread:
        note += f"; {unread} not audited (neither PEP 440 nor a Poetry constraint)"
    return findings, note


_POETRY_SPEC = re.compile(r'^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*) = "(?P<constraint>.*)"$')


def _specifiers(spec: str) -> list[str] | None:
    """A range as PEP 440 specifier sets (several for Poetry's `||`), or None if unreadable.
    Poetry constraints (`name = "^1.2"`, as depfiles records them) are translated."""
    poetry = _POETRY_SPEC.match(spec)
    if poetry is not None:
        return poetry_specifiers(poetry["constraint"])
    try:
        return [str(PackagingRequirement(spec).specifier)]
    except InvalidRequirement:
        return None


def _range_finding(
    req: Requirement, specifier: str, admitted: Sequence[tuple[Advisory, Version]]
) -> Finding:
    safe = max(v for _, v in admitted)
    ids = [a.id for a, _ in admitted]
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


def _package_finding(
    req: Requirement, tool: str, advisories: Sequence[Advisory], default: Severity
) -> Finding:
    """One finding per vulnerable package: every advisory, the worst severity, and the single
    minimal version that fixes them all."""
    advisories = sorted(advisories, key=lambda a: (-_severity(a, default).rank, a.id))
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
