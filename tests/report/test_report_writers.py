"""The fast paths of deciding and writing reports give what the plain ones gave.

Writing 100,000 findings (issue 16) made some code take shortcuts: JUnit XML written as
text instead of through ElementTree, SARIF results, GitLab vulnerabilities and json findings
written as JSON text instead of dicts to encode, findings copied without
`dataclasses.replace`, long lists of findings redacted column by column, GitLab ids made
without `uuid.uuid5`. Each is
compared here with the plain way, on findings that exercise every branch (XML-illegal and
escaped characters, notebook cells, waivers, secrets in every kind of field).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import textwrap
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree as ET  # builds the reference document only

import pytest

from mlgate.findings import Finding, Severity, headline, sort_key
from mlgate.gates import GateResult, GateStatus
from mlgate.merge import _merge_gate
from mlgate.policy import Waiver, decide, load_policy
from mlgate.redact import redact_secrets, redact_value
from mlgate.repo import Repo
from mlgate.report import FORMATS, Report, publishable
from mlgate.report.base import Raw, RawItems, dump_json, encode_value, finding_json
from mlgate.report.gitlab import (
    DEPENDENCY_SCANNING,
    ID_NAMESPACE,
    SAST,
    security_report,
    vulnerability_id,
)
from mlgate.report.junit import MESSAGE_WIDTH, _clean, _details, _where, _why_passing
from mlgate.report.markdown import TOP_FINDINGS, _worst
from mlgate.report.sarif import SECURITY_SEVERITY, _uri, sarif_log
from mlgate.report.text import MESSAGE_WIDTH as TEXT_WIDTH
from mlgate.report.text import _wrapped
from mlgate.runner import RunResult

TODAY = dt.date(2026, 6, 1)
AWS = "AKIA" + "IOSFODNN7EXAMPLE"  # AWS's documented example key id
MESSAGES = (
    "plain message. second sentence here",
    "quote \" amp & lt < gt > apos '",
    "tab\tnl\ncr\rend",
    "bad \x07 byte \x00 \ufffe",
    "non-ascii é 中文",
    "",
    f"leaked key {AWS} in here",
    "x" * 300,
)
PATHS = (
    None,
    "src/a b.py",
    "tests/x.py",
    "nb/eda.ipynb",
    "w/\"q&<>'.py",
    "a\nb\r\tc.py",
    "req.txt",
)


def varied_findings() -> list[Finding]:
    out = []
    rules = [("sast", "semgrep", "ml-pickle-load"), ("sast", "bandit", "B602")]
    rules += [("secrets", "detect-secrets", "AWSKeyDetector"), ("deps", "osv", "PYSEC-1")]
    for index in range(60):
        gate, tool, rule = rules[index % len(rules)]
        path = PATHS[index % len(PATHS)]
        props: dict[str, Any] = {"nested": {"a": [1, {"b": AWS}]}} if index % 9 == 4 else {}
        if gate == "deps":
            props |= {"package": "pyyaml", "version": "5.1", "advisory": rule}
            props["aliases"] = ["CVE-2020-1", "GHSA-aaaa", "OSV-1", " "]
        out.append(
            Finding(
                gate=gate,
                tool=tool,
                rule_id=rule,
                severity=list(Severity)[index % 5],
                message=MESSAGES[index % len(MESSAGES)],
                path=path,
                line=(None, 1, 7, 0)[index % 4],
                column=(None, 3)[index % 2],
                end_line=(None, 9, 2)[index % 3],
                cell=2 if path and path.endswith(".ipynb") else None,
                confidence=(None, "HIGH")[index % 2],
                cwe=(None, "CWE-502", "cwe-78: x")[index % 3],
                help_uri=(None, "https://example.com/r?x=1&y=2", "not a url")[index % 3],
                fingerprint="" if index % 7 == 0 else f"{index:032x}",
                fix=(None, "use safe_load", f"rotate {AWS}")[index % 3],
                also_reported_by=((), ("bandit",), (f"x {AWS}",))[index % 3],
                properties=props,
            )
        )
    return out


def varied_report() -> Report:
    found = varied_findings()
    gates = dict.fromkeys(f.gate for f in found)
    results = [
        GateResult(
            gate,
            findings=tuple(f for f in found if f.gate == gate),
            tools={"semgrep": "1.0 \t<x>", "bandit": None} if gate == "sast" else {},
            notes=("a note & <more>",) if gate == "sast" else (),
            errors=("crashed <&>",) if gate == "secrets" else (),
            seconds=1.25,
        )
        for gate in gates
    ]
    results.append(GateResult("models", skipped="no model files"))
    waivers = (
        Waiver("accepted <&>", dt.date(2027, 1, 1), "me", "policy.yml:3", fingerprint=f"{5:032x}"),
        Waiver("rule wide", dt.date(2027, 1, 1), "team", "policy.yml:9", rule="B602", path="src/*"),
    )
    policy = dataclasses.replace(load_policy("default"), waivers=waivers)
    repo = Repo(root=Path("/nowhere"), files=(), is_git=True, commit="0" * 40)
    run = RunResult(repo, tuple(results), "2026-01-01T12:00:00+02:00", 3.5)
    return Report(run, policy, decide(policy, run.results, today=TODAY), {"kind": "full"})


# --- JUnit: the text writer against ElementTree ---------------------------------------------


def reference_junit(report: Report) -> str:
    """The JUnit document as mlgate built it with ElementTree before it was written as text."""
    root = ET.Element("testsuites", name="mlgate", time=_seconds(report.run.seconds))
    suites = [_reference_suite(report, result) for result in report.run.results]
    for key in ("tests", "failures", "errors"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in suites)))
    root.extend(suites)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _reference_suite(report: Report, result: GateResult) -> ET.Element:
    cases = [_reference_gate_case(report, result)]
    for finding in report.findings_of(result.gate):
        case = ET.Element(
            "testcase",
            name=f"{finding.rule_id} {_where(finding)}",
            classname=f"mlgate.{finding.gate}.{finding.tool}",
        )
        details = _details(finding, _where(finding))
        if finding.blocking:
            _reference_child(case, "failure", finding.message, details, finding.severity.value)
        else:
            _reference_child(case, "system-out", None, details + _why_passing(finding), None)
        cases.append(case)
    suite = ET.Element(
        "testsuite",
        name=f"mlgate.{result.gate}",
        tests=str(len(cases)),
        failures=str(sum(1 for c in cases if c.find("failure") is not None)),
        errors=str(sum(1 for c in cases if c.find("error") is not None)),
        skipped=str(sum(1 for c in cases if c.find("skipped") is not None)),
        time=_seconds(result.seconds),
        timestamp=report.started().strftime("%Y-%m-%dT%H:%M:%S"),
    )
    props = ET.SubElement(suite, "properties")
    for tool, version in result.tools.items():
        ET.SubElement(props, "property", name=tool, value=version or "missing")
    suite.extend(cases)
    return suite


def _reference_gate_case(report: Report, result: GateResult) -> ET.Element:
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
        _reference_child(case, "failure", "; ".join(reasons), "\n".join(reasons), "gate-failed")
    elif status is GateStatus.ERROR:
        _reference_child(case, "error", "; ".join(reasons), "\n".join(reasons), "gate-error")
    elif status is GateStatus.SKIPPED:
        _reference_child(case, "skipped", result.skipped or "; ".join(reasons), None, None)
    notes = [*(verdict.advice if verdict else ()), *result.notes]
    if notes:
        _reference_child(case, "system-out", None, "\n".join(notes), None)
    return case


def _reference_child(
    parent: ET.Element, tag: str, message: str | None, text: str | None, kind: str | None
) -> None:
    child = ET.SubElement(parent, tag)
    if message is not None:
        child.set("message", _clean(headline(message, MESSAGE_WIDTH)))
    if kind is not None:
        child.set("type", kind)
    if text:
        child.text = _clean(text)


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.3f}"


def test_junit_text_is_what_elementtree_wrote() -> None:
    report = publishable(varied_report())
    text = FORMATS["junit"].render(report)
    assert text == reference_junit(report)
    for escaped in ("&quot;", "&#10;", "&#13;", "&#09;", "&amp;", "&lt;", "<properties />"):
        assert escaped in text  # the cases are covered
    assert ET.fromstring(text.encode("utf-8")).tag == "testsuites"  # our own output


# --- findings, redaction, GitLab ids ---------------------------------------------------------


def test_finding_copies_are_dataclasses_replace() -> None:
    for item in varied_findings():
        changes: dict[str, Any] = {"blocking": True, "waived_by": "w", "properties": {"k": 1}}
        assert item.with_changes(**changes) == dataclasses.replace(item, **changes)
        assert Finding.from_dict(item.to_dict()) == item
    with pytest.raises(TypeError, match="no field"):
        varied_findings()[0].with_changes(nope=1)
    with pytest.raises(TypeError, match="missing"):
        Finding.from_dict({"severity": "low", "gate": "sast"})


def test_redacting_many_findings_at_once_is_redacting_each() -> None:
    found = varied_findings()
    together = redact_value(found)  # long enough to be walked column by column
    one_by_one = [redact_value([f])[0] for f in found]
    assert together == one_by_one
    assert AWS not in repr(together)
    assert together[6].message == redact_secrets(MESSAGES[6]) != MESSAGES[6]
    clean = [f for f in found if AWS not in repr(f)] * 2
    assert len(clean) >= 32 and all(a is b for a, b in zip(redact_value(clean), clean, strict=True))


def test_gitlab_ids_are_uuid5() -> None:
    for item in varied_findings():
        key = item.fingerprint or "\x1f".join(
            [item.tool, item.rule_id, item.path or "", item.message]
        )
        assert vulnerability_id(item) == str(uuid.uuid5(ID_NAMESPACE, key))


def test_sarif_and_gitlab_text_is_their_documents_encoded() -> None:
    report = publishable(varied_report())
    assert FORMATS["sarif"].render(report) == dump_json(sarif_log(report), depth=4)
    files = FORMATS["gitlab"].files(report)
    assert set(files) == {SAST.filename, DEPENDENCY_SCANNING.filename}
    for kind in (SAST, DEPENDENCY_SCANNING):
        assert files[kind.filename] == dump_json(security_report(report, kind), depth=2)
    for text in (FORMATS["sarif"].render(report), files[SAST.filename]):
        assert "\\n" in text and "\\u00e9" in text  # escapes covered (ensure_ascii)


def test_raw_json_is_never_encoded_as_a_string() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        dump_json({"a": [{"b": Raw("{}")}]}, depth=1)


def test_json_report_text_is_its_dict_encoded() -> None:
    report = publishable(varied_report())
    assert FORMATS["json"].render(report) == dump_json(report.to_dict(), depth=2)
    encoder = json.JSONEncoder(separators=(", ", ": "))
    for item in varied_findings():
        assert finding_json(item) == encoder.encode(item.to_dict())
    for value in (None, True, False, 0, -7, 2**70, 1.5, 'é\n"', [1, None], {"a": (1,)}):
        assert encode_value(value) == encoder.encode(value)


def odd_typed_findings() -> list[Finding]:
    """Findings whose values have types a gate never gives but a hand-edited json report
    read back by `mlgate merge` may hold: each fast path falls back to encoding by value."""
    base = varied_findings()[1]
    odd: list[dict[str, Any]] = [
        {"rule_id": 7},
        {"line": True, "column": 2.5, "end_line": False},
        {"cell": True, "path": "nb.ipynb"},
        {"message": 12},
        {"fingerprint": 3},
        {"confidence": 1, "cwe": 2, "help_uri": 3, "fix": 4},
        {"waived_by": 5},
        {"blocking": 1},
        {"gate": None},
    ]
    return [base.with_changes(**changes) for changes in odd]


def test_odd_typed_values_encode_as_their_dicts_do() -> None:
    encoder = json.JSONEncoder(separators=(", ", ": "))
    for item in odd_typed_findings():
        assert finding_json(item) == encoder.encode(item.to_dict())
    for item in odd_typed_findings()[:3]:  # the rest are not strings where SARIF needs them
        report = varied_report()
        run = dataclasses.replace(report.run, results=(GateResult("sast", findings=(item,)),))
        decision = decide(load_policy("default"), run.results, today=TODAY)
        odd = Report(run, report.policy, decision, report.mode)
        assert FORMATS["sarif"].render(odd) == dump_json(sarif_log(odd), depth=4)
        text = FORMATS["gitlab"].files(odd)[SAST.filename]
        assert text == dump_json(security_report(odd, SAST), depth=2)


def test_sarif_uri_is_the_quoted_path() -> None:
    odd = [p for p in PATHS if p] + ["a/b_c-d.e~f", "ü/x.py", "a%20b", "a+b", "a/../b", "~/x y"]
    odd += [f"a{chr(code)}b" for code in range(0x180)]
    for path in odd:
        assert _uri(path) == quote(path, safe="/")
    assert _uri(None) is None and _uri("") is None


def test_text_lines_are_what_textwrap_gives() -> None:
    texts = [*MESSAGES, "a-b " * 40, "x" * 89, "x" * 90, "y " * 45, "\u00a0 z \u2003", " \t\n"]
    for text in texts:
        for indent in ("", " " * 11):
            body = " ".join(text.split())
            expected = textwrap.wrap(
                body, TEXT_WIDTH, initial_indent=indent, subsequent_indent=indent
            )
            assert _wrapped(text, indent) == expected


# --- summaries taken without a pass per finding ----------------------------------------------


def _tied_findings() -> list[Finding]:
    """Findings of three gates with many ties in `sort_key` (same severity, path, line and
    rule), some waived, a gate with two tools: the order of ties decides the output."""
    out = []
    for index in range(90):
        gate = ("sast", "secrets", "deps")[index % 3]
        out.append(
            Finding(
                gate=gate,
                tool=("semgrep", "bandit")[index % 2] if gate == "sast" else "mlgate",
                rule_id=("r1", "r2")[index % 4 == 0],
                severity=(Severity.HIGH, Severity.LOW, Severity.CRITICAL)[index % 5 % 3],
                message=f"m{index}",
                path=("a.py", "b.py")[index % 2],
                line=1,
                help_uri=None if index < 40 else f"https://example.com/{index}",
                fingerprint=f"{index % 7:04d}",  # ties in fingerprint too
                waived_by="w" if index % 11 == 0 else None,
            )
        )
    return out


def _decided(findings: Sequence[Finding]) -> Report:
    report = varied_report()
    decision = dataclasses.replace(report.decision, findings=tuple(findings))
    return Report(report.run, report.policy, decision, report.mode)


def test_markdown_top_findings_are_the_first_sorted() -> None:
    """Gates listed together (as `decide` lists them) or interleaved: the top findings are
    `sorted(unwaived, key=sort_key)[:TOP_FINDINGS]`, ties in the decision's order."""
    found = _tied_findings()
    grouped = sorted(found, key=lambda f: ("sast", "secrets", "deps").index(f.gate))
    for findings in (found, grouped, grouped[::-1], found[:5], [found[0]] * 3):
        report = _decided(findings)
        live = [f for f in findings if f.waived_by is None]
        expected = sorted(live, key=sort_key)[:TOP_FINDINGS]
        assert [id(f) for f in _worst(report)] == [id(f) for f in expected]


def test_sarif_rules_summarise_their_findings() -> None:
    """Each rule's level and security severity are its worst finding's, its help link its
    first finding's that has one; each tool's run holds that tool's findings only."""
    report = _decided(_tied_findings())
    for run in sarif_log(report)["runs"]:
        gate, tool = run["properties"]["gate"], run["tool"]["driver"]["name"]
        mine = [f for f in report.findings_of(gate) if f.tool == tool]
        assert [r["ruleIndex"] for r in run["results"]] == [
            [r["id"] for r in run["tool"]["driver"]["rules"]].index(f.rule_id) for f in mine
        ]
        for rule in run["tool"]["driver"]["rules"]:
            of_rule = [f for f in mine if f.rule_id == rule["id"]]
            worst = max((f.severity for f in of_rule), key=lambda s: s.rank)
            assert rule["properties"]["security-severity"] == SECURITY_SEVERITY[worst]
            link = next((f.help_uri for f in of_rule if f.help_uri), None)
            assert rule.get("helpUri") == link


def test_raw_items_are_written_as_raw_values() -> None:
    texts = ['{"a": 1}', "[2, 3]", '"x"']
    for items in (texts, texts[:1], []):
        for depth in (2, 3):  # the list is written item by item
            raw = {"k": [Raw(t) for t in items], "z": 1}
            assert dump_json({"k": RawItems(items), "z": 1}, depth) == dump_json(raw, depth)
        values = {"k": [json.loads(t) for t in items], "z": 1}  # deeper: on one line
        assert dump_json({"k": RawItems(items), "z": 1}, 1) == dump_json(values, 1)


def test_merged_findings_are_sorted_then_by_fingerprint() -> None:
    found = _tied_findings()
    parts = [GateResult("sast", findings=tuple(found[i::2])) for i in range(2)]
    merged = _merge_gate("sast", parts)
    unique = {f.fingerprint: f for part in parts for f in part.findings}.values()
    expected = sorted(unique, key=lambda f: (*sort_key(f), f.fingerprint))
    assert [id(f) for f in merged.findings] == [id(f) for f in expected]


def test_findings_read_back_parse_any_severity_spelling() -> None:
    item = varied_findings()[1]
    for spelling, severity in (
        ("high", Severity.HIGH),
        ("ERROR", Severity.HIGH),
        ("note", Severity.LOW),
    ):
        data = {**item.to_dict(), "severity": spelling}  # every field, in order: the fast path
        assert Finding.from_dict(data).severity is severity
    with pytest.raises(ValueError, match="unknown severity"):
        Finding.from_dict({**item.to_dict(), "severity": "bad"})
