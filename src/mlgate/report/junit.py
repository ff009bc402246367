"""junit: JUnit XML for test UIs (GitLab's junit report, GitHub test-report actions).

One <testsuite> per gate. Its first <testcase>, "gate status", fails when the gate's
status is fail, errors when it could not run, and is skipped when it was skipped. Then
one <testcase> per finding: it fails when the finding is a reason the gate failed (not
waived, severity at or above the gate's `fail_on`); every other finding (below the
threshold, waived or baselined) passes, with its details in <system-out>.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from xml.etree import ElementTree as ET  # builds XML only; never parses input

from mlgate.findings import Finding, headline
from mlgate.gates import GateResult, GateStatus
from mlgate.report.base import Report

FILENAME = "junit.xml"
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
MESSAGE_WIDTH = 200


class JunitFormat:
    name = "junit"

    def render(self, report: Report, color: bool = False) -> str:
        root = junit_tree(report)
        ET.indent(root)
        body = ET.tostring(root, encoding="unicode")
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"

    def files(self, report: Report) -> dict[str, str]:
        return {FILENAME: self.render(report)}


def junit_tree(report: Report) -> ET.Element:
    suites = [_suite(report, result) for result in report.run.results]
    root = ET.Element("testsuites", name="mlgate", time=_seconds(report.run.seconds))
    for key in ("tests", "failures", "errors"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in suites)))
    root.extend(suites)
    return root


def _suite(report: Report, result: GateResult) -> ET.Element:
    cases = [_gate_case(report, result)]
    cases += [_finding_case(report, f) for f in report.findings_of(result.gate)]
    suite = ET.Element(
        "testsuite",
        name=f"mlgate.{result.gate}",
        tests=str(len(cases)),
        failures=str(_count(cases, "failure")),
        errors=str(_count(cases, "error")),
        skipped=str(_count(cases, "skipped")),
        time=_seconds(result.seconds),
        timestamp=report.started().strftime("%Y-%m-%dT%H:%M:%S"),
    )
    suite.append(_properties(result))
    suite.extend(cases)
    return suite


def _count(cases: Sequence[ET.Element], tag: str) -> int:
    return sum(1 for case in cases if case.find(tag) is not None)


def _properties(result: GateResult) -> ET.Element:
    props = ET.Element("properties")
    for tool, version in result.tools.items():
        ET.SubElement(props, "property", name=tool, value=version or "missing")
    return props


def _gate_case(report: Report, result: GateResult) -> ET.Element:
    case = ET.Element(
        "testcase",
        name="gate status",
        classname=f"mlgate.{result.gate}",
        time=_seconds(result.seconds),
    )
    verdict = report.decision.verdicts.get(result.gate)
    reasons = list(verdict.reasons) if verdict else ["not in the decision's scope"]
    status = report.status(result.gate)
    if status is GateStatus.FAIL:
        _child(case, "failure", "; ".join(reasons), "\n".join(reasons), "gate-failed")
    elif status is GateStatus.ERROR:
        _child(case, "error", "; ".join(reasons), "\n".join(reasons), "gate-error")
    elif status is GateStatus.SKIPPED:
        _child(case, "skipped", result.skipped or "; ".join(reasons), None, None)
    notes = [*(verdict.advice if verdict else ()), *result.notes]
    if notes:
        _child(case, "system-out", None, "\n".join(notes), None)
    return case


def _finding_case(report: Report, finding: Finding) -> ET.Element:
    case = ET.Element(
        "testcase",
        name=f"{finding.rule_id} {_where(finding)}",
        classname=f"mlgate.{finding.gate}.{finding.tool}",
    )
    details = _details(finding)
    if finding.blocking:
        _child(case, "failure", finding.message, details, finding.severity.value)
    else:
        _child(case, "system-out", None, details + _why_passing(finding), None)
    return case


def _where(finding: Finding) -> str:
    where = finding.path or "-"
    if finding.cell is not None:
        where += f"[cell {finding.cell}]"
    if finding.line is not None:
        where += f":{finding.line}"
    return where


def _details(finding: Finding) -> str:
    lines = [
        f"{finding.severity.value.upper()} {finding.rule_id} at {_where(finding)}",
        finding.message,
        f"reported by: {', '.join(finding.tools)}",
        f"fingerprint: {finding.fingerprint}",
    ]
    if finding.cwe:
        lines.append(f"cwe: {finding.cwe}")
    if finding.fix:
        lines.append(f"fix: {finding.fix}")
    if finding.help_uri:
        lines.append(f"more: {finding.help_uri}")
    return "\n".join(lines)


def _why_passing(finding: Finding) -> str:
    """Why the decision did not mark this finding blocking."""
    if finding.waived_by is not None:
        return f"\nnot blocking: waived by {finding.waived_by}"
    return "\nnot blocking: below the gate's fail_on threshold"


def _child(
    parent: ET.Element, tag: str, message: str | None, text: str | None, kind: str | None
) -> None:
    child = ET.SubElement(parent, tag)
    if message is not None:
        child.set("message", _clean(headline(message, MESSAGE_WIDTH)))
    if kind is not None:
        child.set("type", kind)
    if text:
        child.text = _clean(text)


def _clean(text: str) -> str:
    """Drop the characters XML 1.0 cannot carry."""
    return _XML_ILLEGAL.sub("", text)


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.3f}"
