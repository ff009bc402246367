"""sarif: SARIF 2.1.0 for GitHub code scanning (and any other SARIF consumer).

One run per (gate, tool) that reported findings or ran cleanly, each with its own
`automationDetails.id` (`mlgate/<gate>/<tool>/`) so several CI jobs can upload without
overwriting each other. A finding also reported by another tool appears once, under its
primary tool, with `properties.alsoReportedBy`. Waived or baselined findings carry an
external suppression with the waiver as justification.
"""

from __future__ import annotations

import itertools
import json
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from mlgate.findings import SEVERITY_RANK, Finding, Severity, fingerprint, headline
from mlgate.gates import RuleInfo, catalogued_rule, known_tools
from mlgate.report.base import RawItems, Report, dump_json, encode_value

FILENAME = "mlgate.sarif"
SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
FINGERPRINT_KEY = "mlgate/v1"
SRCROOT = "%SRCROOT%"

LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub reads `security-severity` (a CVSS-like score) to label alerts critical/high/medium/low.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "2.0",
    Severity.INFO: "0.0",
}
RULE_TEXT_WIDTH = 200


class SarifFormat:
    name = "sarif"
    weight = 3.0

    def render(self, report: Report, color: bool = False) -> str:
        log = sarif_log(report, encoded=True)
        return dump_json(log, depth=4)  # runs[].results[]: one result per line

    def files(self, report: Report) -> dict[str, str]:
        return {FILENAME: self.render(report)}


def sarif_log(report: Report, encoded: bool = False) -> dict[str, Any]:
    """The SARIF log; with `encoded`, each result is already JSON text (`Raw`)."""
    runs = [_run(report, gate, tool, encoded) for gate, tool in _run_keys(report)]
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": runs}


def _run_keys(report: Report) -> list[tuple[str, str]]:
    """(gate, tool) pairs: every tool with findings, and every tool of a gate that ran cleanly.

    A gate that was skipped or errored gets no empty run, so its earlier alerts are not
    closed as fixed by an upload that did not look for them.
    """
    keys: dict[tuple[str, str], None] = {}
    for result in report.run.results:
        gate = result.gate
        if result.ran:
            keys.update(((gate, tool), None) for tool in result.tools)
        tools = dict.fromkeys(map(_TOOL, report.findings_of(gate)))  # a gate's are its own
        keys.update(((gate, tool), None) for tool in tools)
    return list(keys)


_TOOL = operator.attrgetter("tool")
_RULE_ID = operator.attrgetter("rule_id")
_SEVERITY = operator.attrgetter("severity")
_HELP_URI = operator.attrgetter("help_uri")


def _tool_findings(report: Report, gate: str, tool: str) -> list[Finding]:
    """The gate's findings of `tool`, in order (all of them, the usual case, found at once)."""
    found = report.findings_of(gate)
    if all(map(operator.eq, itertools.repeat(tool), map(_TOOL, found))):
        return found
    return [f for f in found if f.tool == tool]


def _run(report: Report, gate: str, tool: str, encoded: bool) -> dict[str, Any]:
    findings = _tool_findings(report, gate, tool)
    rule_ids = list(dict.fromkeys(map(_RULE_ID, findings)))
    rule_index = {rule_id: index for index, rule_id in enumerate(rule_ids)}
    result = report.result(gate)
    errors = result.errors if result else ()
    return {
        "tool": {"driver": _driver(report, gate, tool, rule_ids, findings)},
        "automationDetails": {"id": f"mlgate/{gate}/{tool}/"},
        "invocations": [
            {
                "executionSuccessful": not errors,
                "toolExecutionNotifications": [
                    {"level": "error", "message": {"text": e}} for e in errors
                ],
            }
        ],
        "results": RawItems(_results_json(findings, rule_index))
        if encoded
        else [_result(f, rule_index[f.rule_id]) for f in findings],
        "properties": {"gate": gate, "status": report.status(gate).value},
    }


def _driver(
    report: Report, gate: str, tool: str, rule_ids: Sequence[str], findings: Sequence[Finding]
) -> dict[str, Any]:
    driver: dict[str, Any] = {"name": tool}
    version = report.tool_version(gate, tool)
    if version:
        driver["version"] = version
    known = known_tools().get(tool)
    if known is not None:
        driver["informationUri"] = known.homepage
    # Per rule, in one C loop each (100,000 findings): its first finding, its worst rank
    # (of its few distinct (rule, rank) pairs) and its first help link.
    rules = list(map(_RULE_ID, findings))
    first = dict(zip(reversed(rules), reversed(findings), strict=True))
    ranks = map(SEVERITY_RANK.__getitem__, map(_SEVERITY, findings))
    worst: dict[str, int] = {}
    for rule_id, rank in dict.fromkeys(zip(rules, ranks, strict=True)):
        worst[rule_id] = max(rank, worst.get(rule_id, rank))
    links = list(map(_HELP_URI, findings))
    pairs = zip(rules, links, strict=True)
    linked = dict(reversed(list(itertools.compress(pairs, links))))
    driver["rules"] = [
        _rule(
            rule_id,
            first[rule_id],
            _BY_RANK[worst[rule_id]],
            linked.get(rule_id),
            catalogued_rule(gate, tool, rule_id),
        )
        for rule_id in rule_ids
    ]
    return driver


_BY_RANK = {rank: severity for severity, rank in SEVERITY_RANK.items()}


def _rule(
    rule_id: str, first: Finding, worst: Severity, link: str | None, known: RuleInfo | None
) -> dict[str, Any]:
    """The rule's entry: title, CWE and help from the gate's catalogue when it knows the
    rule, else from its findings (a tool's rule mlgate does not catalogue, e.g. bandit's:
    `first` is its first finding, `link` the first help link of one); level and security
    severity from the worst of its findings (`worst`)."""
    title = known.title if known else headline(first.message, RULE_TEXT_WIDTH)
    cwe = (known.cwe if known else None) or first.cwe
    rule: dict[str, Any] = {
        "id": rule_id,
        "shortDescription": {"text": title or rule_id},
        "defaultConfiguration": {"level": LEVELS[known.severity if known else worst]},
        "properties": {"tags": _tags(cwe), "security-severity": SECURITY_SEVERITY[worst]},
    }
    help_uri = (known.help_uri if known else None) or link
    if help_uri:
        rule["helpUri"] = help_uri
    return rule


def _tags(cwe: str | None) -> list[str]:
    tags = ["security"]
    if cwe and cwe.upper().startswith("CWE-"):
        tags.append(f"external/cwe/{cwe.lower()}")
    return tags


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": _message(finding)},
        "partialFingerprints": {FINGERPRINT_KEY: _fingerprint(finding)},
        "properties": _properties(finding),
    }
    location = _location(finding)
    if location is not None:
        result["locations"] = [location]
    if finding.waived_by is not None:
        result["suppressions"] = [{"kind": "external", "justification": finding.waived_by}]
    return result


def _results_json(findings: Sequence[Finding], rule_index: Mapping[str, int]) -> list[str]:
    """Each finding's `_result_json`; a path's location is encoded once, not once per finding."""
    locations: dict[str, str] = {}
    out = []
    for finding in findings:
        index = rule_index[finding.rule_id]
        try:
            out.append(_result_fast(finding, index, locations))
        except TypeError:  # a value of an odd type (a malformed report's): as `_result_json`
            out.append(_result_json(finding, index))
    return out


def _result_fast(finding: Finding, rule_index: int, locations: dict[str, str]) -> str:
    """`_result_json` for a finding whose strings are str and numbers int (else TypeError),
    written inline: 100,000 results are a third of the time of writing every report."""
    s = _STRING
    severity, cell, line = finding.severity, finding.cell, finding.line
    message = finding.message or finding.rule_id
    if cell is not None or finding.fix:
        message = _message(finding)
    print_ = finding.fingerprint or _fingerprint(finding)
    text = (
        f'{{"ruleId": {s(finding.rule_id)}, "ruleIndex": {rule_index}, '
        f'"level": {_LEVELS_JSON[severity]}, "message": {{"text": {s(message)}}}, '
        f'"partialFingerprints": {{"{FINGERPRINT_KEY}": {s(print_)}}}, '
        f"{_PROPERTIES_JSON[severity]}{s(finding.gate)}"
    )
    if finding.confidence:
        text += f', "confidence": {s(finding.confidence)}'
    if cell is not None:
        text += f', "cell": {_int(cell)}'
    if finding.also_reported_by:
        text += f', "alsoReportedBy": {_j(list(finding.also_reported_by))}'
    path = finding.path
    if path:
        location = locations.get(path)
        if location is None:
            location = locations[path] = _location_head(s(_uri(path)))
        text += "}" + location
        if cell is None and line is not None and line >= 1:
            column, end = finding.column, finding.end_line
            if type(line) is not int:
                raise TypeError("a line that is not an int")
            text += f', "region": {{"startLine": {line}'
            if column is not None and column >= 1:
                text += ', "startColumn": ' + _int(column)
            if end is not None and end >= line:
                text += ', "endLine": ' + _int(end)
            text += "}"
        text += "}}]"
    else:
        text += "}"
    if finding.waived_by is not None:
        waiver = s(finding.waived_by)
        text += f', "suppressions": [{{"kind": "external", "justification": {waiver}}}]'
    return text + "}"


def _location_head(uri: str) -> str:
    return (
        f', "locations": [{{"physicalLocation": {{"artifactLocation": '
        f'{{"uri": {uri}, "uriBaseId": {_SRCROOT_JSON}}}'
    )


def _int(value: Any) -> str:
    """An int as JSON (TypeError for anything else, a bool included)."""
    if type(value) is not int:
        raise TypeError(f"not an int: {value!r}")
    return str(value)


def _result_json(finding: Finding, rule_index: int) -> str:
    """`_result` encoded as `dump_json` would encode it, written directly as text.

    The strings every result has are encoded by json's C string encoder directly (a third
    of the time for 100,000 results); one that is not a str (a malformed report's) raises
    TypeError there, and the result is encoded value by value instead."""
    try:
        return _result_text(finding, rule_index, _STRING)
    except TypeError:
        return _result_text(finding, rule_index, _j)


def _result_text(finding: Finding, rule_index: int, s: Callable[[Any], str]) -> str:
    """`_result_json`, its always-present strings encoded by `s`."""
    severity = finding.severity
    uri = _uri(finding.path)
    text = (
        f'{{"ruleId": {s(finding.rule_id)}, "ruleIndex": {_j(rule_index)}, '
        f'"level": {_LEVELS_JSON[severity]}, "message": {{"text": {s(_message(finding))}}}, '
        f'"partialFingerprints": {{"{FINGERPRINT_KEY}": {s(_fingerprint(finding))}}}, '
        f'"properties": {{"security-severity": {_SECURITY_SEVERITY_JSON[severity]}, '
        f'"severity": {_SEVERITY_JSON[severity]}, "gate": {s(finding.gate)}'
    )
    if finding.confidence:
        text += f', "confidence": {_j(finding.confidence)}'
    if finding.cell is not None:
        text += f', "cell": {_j(finding.cell)}'
    if finding.also_reported_by:
        text += f', "alsoReportedBy": {_j(list(finding.also_reported_by))}'
    text += "}"
    if uri is not None:
        text += (
            f', "locations": [{{"physicalLocation": {{"artifactLocation": '
            f'{{"uri": {s(uri)}, "uriBaseId": {_SRCROOT_JSON}}}'
        )
        if finding.cell is None and finding.line is not None and finding.line >= 1:
            text += f', "region": {_j(_region(finding, finding.line))}'
        text += "}}]"
    if finding.waived_by is not None:
        text += (
            f', "suppressions": [{{"kind": "external", "justification": {_j(finding.waived_by)}}}]'
        )
    return text + "}"


_j = encode_value
_STRING: Callable[[Any], str] = json.encoder.encode_basestring_ascii
_LEVELS_JSON = {severity: _STRING(level) for severity, level in LEVELS.items()}
_SECURITY_SEVERITY_JSON = {severity: _STRING(v) for severity, v in SECURITY_SEVERITY.items()}
_SRCROOT_JSON = _STRING(SRCROOT)
_SEVERITY_JSON = {severity: _STRING(severity.value) for severity in Severity}
_PROPERTIES_JSON = {  # a result's properties up to its gate
    severity: f'"properties": {{"security-severity": {_SECURITY_SEVERITY_JSON[severity]}, '
    f'"severity": {_SEVERITY_JSON[severity]}, "gate": '
    for severity in Severity
}


def _uri(path: str | None) -> str | None:
    """The artifact URI of a path (None: no location). A path of characters `quote` keeps
    is its own URI (checked by one regex: quoting 100,000 paths took a third of a second)."""
    if not path:
        return None
    return path if _QUOTED.search(path) is None else quote(path, safe="/")


_QUOTED = re.compile(r"[^A-Za-z0-9_.~/-]")  # not urllib.parse's always-safe characters, nor /


def _message(finding: Finding) -> str:
    text = finding.message or finding.rule_id
    if finding.cell is not None:
        where = f"notebook cell {finding.cell}"
        where += f", line {finding.line}" if finding.line is not None else ""
        text += f" ({where})"
    if finding.fix:
        text += f" Fix: {finding.fix}."
    return text


def _fingerprint(finding: Finding) -> str:
    if finding.fingerprint:
        return finding.fingerprint
    return fingerprint(finding.tool, finding.rule_id, finding.path, finding.message)


def _properties(finding: Finding) -> dict[str, Any]:
    props: dict[str, Any] = {
        "security-severity": SECURITY_SEVERITY[finding.severity],
        "severity": finding.severity.value,
        "gate": finding.gate,
    }
    if finding.confidence:
        props["confidence"] = finding.confidence
    if finding.cell is not None:
        props["cell"] = finding.cell
    if finding.also_reported_by:
        props["alsoReportedBy"] = list(finding.also_reported_by)
    return props


def _location(finding: Finding) -> dict[str, Any] | None:
    """The file, and the region when the line is a line of that file.

    A notebook finding's line counts within its cell, not within the .ipynb file, so it
    points at the notebook without a region (the cell is in the message and properties).
    """
    if not finding.path:
        return None
    physical: dict[str, Any] = {
        "artifactLocation": {"uri": _uri(finding.path), "uriBaseId": SRCROOT}
    }
    if finding.cell is None and finding.line is not None and finding.line >= 1:
        physical["region"] = _region(finding, finding.line)
    return {"physicalLocation": physical}


def _region(finding: Finding, line: int) -> dict[str, int]:
    region = {"startLine": line}
    if finding.column is not None and finding.column >= 1:
        region["startColumn"] = finding.column
    if finding.end_line is not None and finding.end_line >= line:
        region["endLine"] = finding.end_line
    return region
