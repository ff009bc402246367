"""gitlab: GitLab's SAST and dependency-scanning security reports (schema version 15.0.7).

`gl-sast-report.json` holds the findings of the gates that declare `gitlab_report = "sast"`
and `gl-dependency-scanning-report.json` those that declare `"dependency_scanning"`; a file
is written only when the run included one of its gates, so a partial run never tells GitLab
that the other scanner found nothing. Waived findings stay in the report (GitLab's own
dismissal is the place to hide them) with the waiver in their description and details.

Dependency scanning requires `dependency_files`: mlgate lists each dependency file that
has a finding, with the packages found vulnerable or unpinned in it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mlgate import __version__
from mlgate.findings import Finding, Severity, headline
from mlgate.gates import GATES, catalogued_rule, known_tools
from mlgate.report.base import RawItems, Report, dump_json, encode_value

SCHEMA_VERSION = "15.0.7"
_SCHEMA_BASE = "https://gitlab.com/gitlab-org/security-products/security-report-schemas/-/raw"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
NAME_WIDTH = 255
SOLUTION_WIDTH = 7000
# Stable ids: the same fingerprint always gives the same vulnerability id.
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://pypi.org/project/mlgate/#gitlab")

SEVERITIES = {
    Severity.CRITICAL: "Critical",
    Severity.HIGH: "High",
    Severity.MEDIUM: "Medium",
    Severity.LOW: "Low",
    Severity.INFO: "Info",
}
_URL = re.compile(r"^(https?|ftp)://.+")
_NON_ID = re.compile(r"[^a-z0-9_]+")


@dataclass(frozen=True)
class Kind:
    """One GitLab report type; a gate names it in `gitlab_report` to feed it."""

    scan_type: str
    filename: str
    schema_file: str

    @property
    def gates(self) -> tuple[str, ...]:
        """The registered gates whose findings go into this report."""
        return tuple(name for name, gate in GATES.items() if gate.gitlab_report == self.scan_type)


SAST = Kind("sast", "gl-sast-report.json", "sast-report-format.json")
DEPENDENCY_SCANNING = Kind(
    "dependency_scanning",
    "gl-dependency-scanning-report.json",
    "dependency-scanning-report-format.json",
)
KINDS = (SAST, DEPENDENCY_SCANNING)


class GitlabFormat:
    name = "gitlab"
    weight = 3.0

    def render(self, report: Report, color: bool = False) -> str:
        """The SAST report on stdout (the dependency report, if the run had only deps)."""
        kinds = _present(report)
        return _dump(security_report(report, kinds[0] if kinds else SAST, encoded=True))

    def files(self, report: Report) -> dict[str, str]:
        return {
            k.filename: _dump(security_report(report, k, encoded=True)) for k in _present(report)
        }


def _present(report: Report) -> list[Kind]:
    ran = {r.gate for r in report.run.results}
    return [k for k in KINDS if ran.intersection(k.gates)]


def _dump(data: dict[str, Any]) -> str:
    return dump_json(data, depth=2)  # vulnerabilities[]: one per line


def security_report(report: Report, kind: Kind, encoded: bool = False) -> dict[str, Any]:
    """The report of `kind`; with `encoded`, each vulnerability is already JSON (`Raw`)."""
    findings = [f for gate in kind.gates for f in report.findings_of(gate)]
    rules: dict[RuleKey, tuple[dict[str, str], ...]] = {}
    vulnerabilities: Any
    if encoded:
        vulnerabilities = RawItems(_vulnerabilities_json(findings, kind, rules))
    else:
        vulnerabilities = [_vulnerability(f, kind, rules) for f in findings]
    data: dict[str, Any] = {
        "version": SCHEMA_VERSION,
        "schema": f"{_SCHEMA_BASE}/v{SCHEMA_VERSION}/dist/{kind.schema_file}",
        "scan": _scan(report, kind),
        "vulnerabilities": vulnerabilities,
    }
    if kind is DEPENDENCY_SCANNING:
        data["dependency_files"] = _dependency_files(findings)
    return data


# --- scan ---------------------------------------------------------------------------------


def _scan(report: Report, kind: Kind) -> dict[str, Any]:
    results = [r for r in report.run.results if r.gate in kind.gates]
    start = report.started()
    end = start + dt.timedelta(seconds=max((r.seconds for r in results), default=0.0))
    messages = [{"level": "warn", "value": f"{r.gate}: {e}"} for r in results for e in r.errors]
    messages += [
        {"level": "info", "value": f"{r.gate}: skipped: {r.skipped}"} for r in results if r.skipped
    ]
    vendor = {"name": "mlgate"}
    scan: dict[str, Any] = {
        "analyzer": {"id": "mlgate", "name": "mlgate", "version": __version__, "vendor": vendor},
        "scanner": {
            "id": f"mlgate-{kind.scan_type.replace('_', '-')}",
            "name": _scanner_name(report, [r.gate for r in results]),
            "version": __version__,
            "vendor": vendor,
        },
        "type": kind.scan_type,
        "start_time": _utc(start),
        "end_time": _utc(end),
        "status": "failure" if any(r.errors for r in results) else "success",
    }
    if messages:
        scan["messages"] = messages
    return scan


def _scanner_name(report: Report, gates: Sequence[str]) -> str:
    """'mlgate (sast: bandit 1.9.4, semgrep 1.182.0)': the tools behind the findings."""
    parts = []
    for gate in gates:
        result = report.result(gate)
        tools = ", ".join(
            f"{t} {v or 'missing'}" for t, v in (result.tools if result else {}).items()
        )
        parts.append(f"{gate}: {tools}" if tools else gate)
    return f"mlgate ({'; '.join(parts)})" if parts else "mlgate"


def _utc(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime(TIME_FORMAT)


# --- vulnerabilities ----------------------------------------------------------------------


def vulnerability_id(finding: Finding) -> str:
    """A UUID derived from the fingerprint (or, lacking one, from what identifies the finding)."""
    key = finding.fingerprint or "\x1f".join(
        [finding.tool, finding.rule_id, finding.path or "", finding.message]
    )
    return _uuid5(key)


def _uuid5(name: str) -> str:
    """`str(uuid.uuid5(ID_NAMESPACE, name))`, without building a UUID object (a third of
    the GitLab report's time for 100,000 findings): the SHA-1's first 32 hex digits, the
    13th the version (5), the 17th's two high bits the RFC 4122 variant (10)."""
    text = hashlib.sha1(_NAMESPACE_BYTES + name.encode("utf-8"), usedforsecurity=False).hexdigest()
    variant = _VARIANT[text[16]]
    return f"{text[:8]}-{text[8:12]}-5{text[13:16]}-{variant}{text[17:20]}-{text[20:32]}"


_NAMESPACE_BYTES = ID_NAMESPACE.bytes
_VARIANT = {f"{n:x}": f"{(n & 0x3) | 0x8:x}" for n in range(16)}


def _vulnerability(
    finding: Finding, kind: Kind, rules: dict[RuleKey, tuple[dict[str, str], ...]]
) -> dict[str, Any]:
    vuln: dict[str, Any] = {
        "id": vulnerability_id(finding),
        "name": _name(finding),
        "description": _description(finding),
        "severity": SEVERITIES[finding.severity],
        "identifiers": identifiers(finding, rules),
        "location": _dependency_location(finding)
        if kind is DEPENDENCY_SCANNING
        else _sast_location(finding),
        "details": _details(finding),
    }
    if finding.fix:
        vuln["solution"] = _clip(finding.fix, SOLUTION_WIDTH)
    if finding.help_uri and _URL.match(finding.help_uri):
        vuln["links"] = [{"url": finding.help_uri}]
    return vuln


def _vulnerabilities_json(
    findings: Sequence[Finding], kind: Kind, rules: dict[RuleKey, tuple[dict[str, str], ...]]
) -> list[str]:
    """Each finding's `_vulnerability_json`, in one loop (100,000 of them)."""
    texts: dict[RuleKey, str] = {}
    out = []
    for finding in findings:
        try:
            out.append(_vulnerability_fast(finding, kind, rules, texts))
        except TypeError:  # a value of an odd type (a malformed report's): as before
            out.append(_vulnerability_json(finding, kind, rules, texts))
    return out


def _vulnerability_fast(
    finding: Finding,
    kind: Kind,
    rules: dict[RuleKey, tuple[dict[str, str], ...]],
    texts: dict[RuleKey, str],
) -> str:
    """`_vulnerability_json` for a finding whose strings are str and lines int (else
    TypeError), written inline: the usual finding's name, description, SAST location and
    details without a call each."""
    s = _STRING
    props, message, rule_id = finding.properties, finding.message, finding.rule_id
    if props.get("aliases"):
        found = _j(identifiers(finding, rules))
    else:
        key = (finding.gate, finding.tool, rule_id, finding.help_uri, finding.cwe)
        found = texts.get(key) or texts.setdefault(key, _j(identifiers(finding, rules)))
    if kind is DEPENDENCY_SCANNING:
        location = _j(_dependency_location(finding))
    else:
        location = _sast_location_json(finding)
    name = _name(finding) if props else headline(message, NAME_WIDTH) or rule_id
    cell, waived_by = finding.cell, finding.waived_by
    if cell is None and waived_by is None:
        description = message or rule_id
    else:
        description = _description(finding)
    text = (
        f'{{"id": {s(vulnerability_id(finding))}, "name": {s(name)}, '
        f'"description": {s(description)}, '
        f'"severity": {_SEVERITIES_JSON[finding.severity]}, "identifiers": {found}, '
        f'"location": {location}, "details": {_details_fast(finding)}'
    )
    return _closed(text, finding, s)


def _sast_location_json(finding: Finding) -> str:
    """`_sast_location` encoded (a str path and int lines, else TypeError)."""
    path, line = finding.path, finding.line
    parts = ['"file": ' + _STRING(path)] if path else []
    if finding.cell is None and line is not None:
        end = finding.end_line
        last = end if end and end >= line else line
        parts.append(f'"start_line": {_int(line)}, "end_line": {_int(last)}')
    return "{" + ", ".join(parts) + "}"


def _int(value: Any) -> str:
    """An int as JSON (TypeError for anything else, a bool included)."""
    if type(value) is not int:
        raise TypeError(f"not an int: {value!r}")
    return str(value)


def _details_fast(finding: Finding) -> str:
    """`_details_json` of str values (else TypeError), its usual entries written inline."""
    s, prefix = _STRING, _DETAIL_PREFIXES
    if finding.confidence or finding.cell is not None or finding.waived_by:
        return _details_json(finding, s)
    entries = []
    if finding.fingerprint:
        entries.append(prefix[0] + s(finding.fingerprint) + "}")
    tools = ", ".join(finding.tools)
    if tools:
        entries.append(prefix[1] + s(tools) + "}")
    if finding.gate:
        entries.append(prefix[2] + s(finding.gate) + "}")
    return "{" + ", ".join(entries) + "}"


def _vulnerability_json(
    finding: Finding,
    kind: Kind,
    rules: dict[RuleKey, tuple[dict[str, str], ...]],
    texts: dict[RuleKey, str],
) -> str:
    """`_vulnerability` encoded as `dump_json` would encode it, written directly as text;
    `texts` keeps each rule's encoded identifiers.

    The strings every vulnerability has are encoded by json's C string encoder directly; one
    that is not a str (a malformed report's) raises TypeError there, and the vulnerability
    is encoded value by value instead."""
    try:
        return _vulnerability_text(finding, kind, rules, texts, _STRING)
    except TypeError:
        return _vulnerability_text(finding, kind, rules, texts, _j)


def _vulnerability_text(
    finding: Finding,
    kind: Kind,
    rules: dict[RuleKey, tuple[dict[str, str], ...]],
    texts: dict[RuleKey, str],
    s: Callable[[Any], str],
) -> str:
    """`_vulnerability_json`, its always-present strings encoded by `s`."""
    if finding.properties.get("aliases"):
        found = _j(identifiers(finding, rules))
    else:
        key = (finding.gate, finding.tool, finding.rule_id, finding.help_uri, finding.cwe)
        found = texts.get(key) or texts.setdefault(key, _j(identifiers(finding, rules)))
    location = (
        _dependency_location(finding) if kind is DEPENDENCY_SCANNING else _sast_location(finding)
    )
    text = (
        f'{{"id": {s(vulnerability_id(finding))}, "name": {s(_name(finding))}, '
        f'"description": {s(_description(finding))}, '
        f'"severity": {_SEVERITIES_JSON[finding.severity]}, "identifiers": {found}, '
        f'"location": {_j(location)}, "details": {_details_json(finding, s)}'
    )
    return _closed(text, finding, _j)


def _closed(text: str, finding: Finding, encode: Callable[[Any], str]) -> str:
    """A vulnerability's JSON object, closed after its optional solution and link."""
    if finding.fix:
        text += f', "solution": {encode(_clip(finding.fix, SOLUTION_WIDTH))}'
    if finding.help_uri and _URL.match(finding.help_uri):
        text += f', "links": [{{"url": {encode(finding.help_uri)}}}]'
    return text + "}"


_j = encode_value
_STRING: Callable[[Any], str] = json.encoder.encode_basestring_ascii
_SEVERITIES_JSON = {severity: _STRING(name) for severity, name in SEVERITIES.items()}


def _name(finding: Finding) -> str:
    """A title without the finding's specifics where we can: 'PYSEC-2021-142 in pyyaml'."""
    package = finding.properties.get("package")
    if package and finding.properties.get("advisory"):
        return _clip(f"{finding.rule_id} in {package}", NAME_WIDTH)
    return headline(finding.message, NAME_WIDTH) or finding.rule_id


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _description(finding: Finding) -> str:
    text = finding.message or finding.rule_id
    if finding.cell is not None:
        text += f"\n\nNotebook cell {finding.cell}" + (
            f", line {finding.line} of the cell." if finding.line is not None else "."
        )
    if finding.waived_by is not None:
        text += f"\n\nWaived in mlgate's policy: {finding.waived_by}"
    return text


RuleKey = tuple[str, str, str, "str | None", "str | None"]


def identifiers(
    finding: Finding, rules: dict[RuleKey, tuple[dict[str, str], ...]] | None = None
) -> list[dict[str, str]]:
    """The rule first (GitLab's primary identifier), then its CWE and advisory aliases.

    The rule's name, CWE and link come from its gate's catalogue when the gate knows it.
    `rules` keeps them per rule while one report is written (worked out once per rule,
    not once per finding).
    """
    key = (finding.gate, finding.tool, finding.rule_id, finding.help_uri, finding.cwe)
    known = rules.get(key) if rules is not None else None
    if known is None:
        known = _rule_identifiers(*key)
        if rules is not None:
            rules[key] = known
    found = [dict(item) for item in known]
    found += [_alias(a) for a in finding.properties.get("aliases") or () if str(a).strip()]
    return found


def _rule_identifiers(
    gate: str, tool: str, rule_id: str, help_uri: str | None, cwe: str | None
) -> tuple[dict[str, str], ...]:
    known = catalogued_rule(gate, tool, rule_id)
    info = known_tools().get(tool)
    title = known.title if known else f"{tool} {rule_id}"
    primary = {
        "type": (info.gitlab_id_type if info else None) or _id_type(tool),
        "name": _clip(title, NAME_WIDTH),
        "value": rule_id,
    }
    help_uri = (known.help_uri if known else None) or help_uri
    if help_uri and _URL.match(help_uri):
        primary["url"] = help_uri
    found = [primary]
    cwe = (known.cwe if known else None) or cwe
    if cwe and cwe.upper().startswith("CWE-"):
        number = cwe.split("-", 1)[1]
        found.append(
            {
                "type": "cwe",
                "name": cwe.upper(),
                "value": number,
                "url": f"https://cwe.mitre.org/data/definitions/{number}.html",
            }
        )
    return tuple(found)


def _id_type(tool: str) -> str:
    return _NON_ID.sub("_", tool.lower()).strip("_") + "_id"


def _alias(alias: Any) -> dict[str, str]:
    text = str(alias).strip()
    upper = text.upper()
    if upper.startswith("CVE-"):
        return {
            "type": "cve",
            "name": text,
            "value": text,
            "url": f"https://nvd.nist.gov/vuln/detail/{text}",
        }
    if upper.startswith("GHSA-"):
        return {
            "type": "ghsa",
            "name": text,
            "value": text,
            "url": f"https://github.com/advisories/{text}",
        }
    return {
        "type": "osv",
        "name": text,
        "value": text,
        "url": f"https://osv.dev/vulnerability/{text}",
    }


def _sast_location(finding: Finding) -> dict[str, Any]:
    location: dict[str, Any] = {}
    if finding.path:
        location["file"] = finding.path
    if finding.cell is None and finding.line is not None:
        location["start_line"] = finding.line
        end = finding.end_line if finding.end_line and finding.end_line >= finding.line else None
        location["end_line"] = end or finding.line
    return location


def _dependency(finding: Finding) -> dict[str, Any]:
    props = finding.properties
    return {
        "package": {"name": str(props.get("package") or "unknown")},
        "version": str(props.get("version") or ""),
    }


def _dependency_location(finding: Finding) -> dict[str, Any]:
    return {"file": finding.path or "unknown", "dependency": _dependency(finding)}


def _details(finding: Finding) -> dict[str, Any]:
    return {
        key: {"name": name, "type": "text", "value": value}
        for (key, name), value in zip(_DETAILS, _detail_values(finding), strict=True)
        if value
    }


def _details_json(finding: Finding, s: Callable[[Any], str] = encode_value) -> str:
    """`_details` encoded (keys and names are plain ASCII: written as they are), each value
    by `s` (see `_vulnerability_json`)."""
    entries = [
        prefix + s(value) + "}"
        for prefix, value in zip(_DETAIL_PREFIXES, _detail_values(finding), strict=True)
        if value
    ]
    return "{" + ", ".join(entries) + "}"


_DETAILS = (  # (key, name) of each detail, in order
    ("fingerprint", "Fingerprint"),
    ("tools", "Reported by"),
    ("gate", "mlgate gate"),
    ("confidence", "Confidence"),
    ("cell", "Notebook cell"),
    ("waived_by", "Waived by"),
)
_DETAIL_PREFIXES = tuple(
    f'"{key}": {{"name": "{name}", "type": "text", "value": ' for key, name in _DETAILS
)


def _detail_values(finding: Finding) -> tuple[Any, ...]:
    """The value of each of `_DETAILS` (an empty one is left out)."""
    return (
        finding.fingerprint,
        ", ".join(finding.tools),
        finding.gate,
        finding.confidence,
        None if finding.cell is None else str(finding.cell),
        finding.waived_by,
    )


def _dependency_files(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    by_file: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for finding in findings:
        props = finding.properties
        key = (str(props.get("package") or "unknown"), str(props.get("version") or ""))
        deps = by_file.setdefault(finding.path or "unknown", {})
        if key not in deps:  # `_dependency(finding)`, made once per package and version
            deps[key] = {"package": {"name": key[0]}, "version": key[1]}
    return [
        {"path": path, "package_manager": "pip", "dependencies": list(deps.values())}
        for path, deps in by_file.items()
    ]
