"""junit: JUnit XML for test UIs (GitLab's junit report, GitHub test-report actions).

One <testsuite> per gate. Its first <testcase>, "gate status", fails when the gate's
status is fail, errors when it could not run, and is skipped when it was skipped. Then
one <testcase> per finding: it fails when the finding is a reason the gate failed (not
waived, severity at or above the gate's `fail_on`); every other finding (below the
threshold, waived or baselined) passes, with its details in <system-out>.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Sequence
from typing import NamedTuple

from mlgate.findings import Finding, Severity, headline
from mlgate.gates import GateResult, GateStatus
from mlgate.report.base import Report

FILENAME = "junit.xml"
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
MESSAGE_WIDTH = 200


class JunitFormat:
    name = "junit"
    weight = 2.4

    def render(self, report: Report, color: bool = False) -> str:
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + junit_xml(report) + "\n"

    def files(self, report: Report) -> dict[str, str]:
        return {FILENAME: self.render(report)}


# The document is written as text, as ElementTree would write it (`ET.indent`, then
# `ET.tostring`): ElementTree took 1.5 s for 100,000 findings, this 0.3 s.
# tests/test_junit_writer.py checks both give the same bytes.

Attrs = Sequence[tuple[str, str]]


class _Case(NamedTuple):  # a tuple: 100,000 of them are made three times faster
    xml: str  # indented for its level in the document
    tags: frozenset[str]  # the tags of its children: failure, error, skipped, system-out


def junit_xml(report: Report) -> str:
    """The <testsuites> element, indented by two spaces per level."""
    suites = [_suite(report, result) for result in report.run.results]
    totals = {
        key: sum(counts[key] for counts, _ in suites) for key in ("tests", "failures", "errors")
    }
    attrs = [("name", "mlgate"), ("time", _seconds(report.run.seconds))]
    attrs += [(key, str(total)) for key, total in totals.items()]
    return _element("testsuites", attrs, None, [xml for _, xml in suites], 0)


def _suite(report: Report, result: GateResult) -> tuple[dict[str, int], str]:
    gate = _gate_case(report, result)
    findings = report.findings_of(result.gate)
    # A finding's case fails when it is blocking, else only has <system-out>: counted in
    # one C loop, not case by case (100,000 of them).
    blocking = sum(map(bool, map(_BLOCKING, findings)))
    counts = {
        "tests": 1 + len(findings),
        "failures": ("failure" in gate.tags) + blocking,
        "errors": int("error" in gate.tags),
        "skipped": int("skipped" in gate.tags),
    }
    attrs = [("name", f"mlgate.{result.gate}")]
    attrs += [(key, str(count)) for key, count in counts.items()]
    attrs += [
        ("time", _seconds(result.seconds)),
        ("timestamp", report.started().strftime("%Y-%m-%dT%H:%M:%S")),
    ]
    children = [_properties(result), gate.xml, *map(_finding_xml, findings)]
    return counts, _element("testsuite", attrs, None, children, 1)


_BLOCKING = operator.attrgetter("blocking")


def _properties(result: GateResult) -> str:
    props = [
        _element("property", [("name", tool), ("value", version or "missing")], None, [], 3)
        for tool, version in result.tools.items()
    ]
    return _element("properties", [], None, props, 2)


def _gate_case(report: Report, result: GateResult) -> _Case:
    verdict = report.decision.verdicts.get(result.gate)
    reasons = list(verdict.reasons) if verdict else ["not in the decision's scope"]
    status = report.status(result.gate)
    children: list[tuple[str, str]] = []
    if status is GateStatus.FAIL:
        children.append(_child("failure", "; ".join(reasons), "\n".join(reasons), "gate-failed"))
    elif status is GateStatus.ERROR:
        children.append(_child("error", "; ".join(reasons), "\n".join(reasons), "gate-error"))
    elif status is GateStatus.SKIPPED:
        children.append(_child("skipped", result.skipped or "; ".join(reasons), None, None))
    notes = [*(verdict.advice if verdict else ()), *result.notes]
    if notes:
        children.append(_child("system-out", None, "\n".join(notes), None))
    attrs = [
        ("name", "gate status"),
        ("classname", f"mlgate.{result.gate}"),
        ("time", _seconds(result.seconds)),
    ]
    xml = _element("testcase", attrs, None, [xml for _, xml in children], 2)
    return _Case(xml, frozenset(tag for tag, _ in children))


def _finding_xml(finding: Finding) -> str:
    """`_element` of the finding's testcase, written directly: 100,000 of them."""
    where = _where(finding)
    if finding.cwe or finding.fix or finding.help_uri or finding.also_reported_by:
        details = _details(finding, where)
    else:  # `_details` of the usual finding, inline
        head = f"{_SEVERITY_UPPER[finding.severity]} {finding.rule_id} at {where}"
        tool = ", ".join((finding.tool,))  # a str, or TypeError as `_details` raises
        details = "\n".join(
            (head, finding.message, f"reported by: {tool}", f"fingerprint: {finding.fingerprint}")
        )
    if finding.blocking:
        message = _escape_attrib(_clean(headline(finding.message, MESSAGE_WIDTH)))
        kind = _SEVERITY_ATTRIB[finding.severity]
        child = f'<failure message="{message}" type="{kind}">{_text(details)}</failure>'
    else:
        child = f"<system-out>{_text(details + _why_passing(finding))}</system-out>"
    name = _escape_attrib(f"{finding.rule_id} {where}")
    classname = _classname(finding.gate, finding.tool)
    head = f'<testcase name="{name}" classname="{classname}">'
    return f"{head}{_INDENT[3]}{child}{_INDENT[2]}</testcase>"


@functools.lru_cache(maxsize=1024)
def _classname(gate: str, tool: str) -> str:
    """A finding's testcase classname (a few per report, 100,000 findings)."""
    return _escape_attrib(f"mlgate.{gate}.{tool}")


def _text(text: str) -> str:
    return _escape_text(_clean(text))


def _where(finding: Finding) -> str:
    where = finding.path or "-"
    if finding.cell is not None:
        where += f"[cell {finding.cell}]"
    if finding.line is not None:
        where += f":{finding.line}"
    return where


def _details(finding: Finding, where: str) -> str:
    lines = [
        f"{_SEVERITY_UPPER[finding.severity]} {finding.rule_id} at {where}",
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


def _child(tag: str, message: str | None, text: str | None, kind: str | None) -> tuple[str, str]:
    """(tag, xml) of a testcase's child (at level 3): message and type, then the text."""
    attrs = []
    if message is not None:
        attrs.append(("message", _clean(headline(message, MESSAGE_WIDTH))))
    if kind is not None:
        attrs.append(("type", kind))
    return tag, _element(tag, attrs, _clean(text) if text else None, [], 3)


def _element(tag: str, attrs: Attrs, text: str | None, children: Sequence[str], level: int) -> str:
    """One element as `ET.indent` + `ET.tostring` write it: `children` are already written
    (for level + 1), each on its own line; a childless element keeps its text as it is, an
    element with neither is written `<tag />`."""
    head = "<" + tag + "".join(f' {key}="{_escape_attrib(value)}"' for key, value in attrs)
    if children:
        inner = _INDENT[level + 1]
        return f"{head}>{inner}{inner.join(children)}{_INDENT[level]}</{tag}>"
    if text:
        return f"{head}>{_escape_text(text)}</{tag}>"
    return head + " />"


_INDENT = ["\n" + "  " * level for level in range(5)]


def _escape_text(text: str) -> str:
    """Character data escaped as ElementTree does (&, <, >)."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _escape_attrib(text: str) -> str:
    """An attribute value escaped as ElementTree does (also ", CR, LF and tab)."""
    if _ATTRIB_SPECIAL.search(text) is None:
        return text
    text = _escape_text(text)
    for raw, entity in _ATTRIB_ENTITIES:
        if raw in text:
            text = text.replace(raw, entity)
    return text


_ATTRIB_SPECIAL = re.compile('[&<>"\r\n\t]')
_ATTRIB_ENTITIES = (('"', "&quot;"), ("\r", "&#13;"), ("\n", "&#10;"), ("\t", "&#09;"))


def _clean(text: str) -> str:
    """Drop the characters XML 1.0 cannot carry."""
    return _XML_ILLEGAL.sub("", text)


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.3f}"


# Severity's `.value` goes through enum's descriptor: a lookup here is five times cheaper
_SEVERITY_ATTRIB = {severity: _escape_attrib(severity.value) for severity in Severity}
_SEVERITY_UPPER = {severity: severity.value.upper() for severity in Severity}
