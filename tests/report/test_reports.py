"""Report formats: sarif, gitlab, junit, markdown, and how --output writes them.

One real run over examples/insecure-ml writes every format (session fixture); the rest
are unit tests over small hand-made reports.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import jsonschema
import pytest
import xmlschema

from mlgate.findings import Finding, Severity
from mlgate.gates import GateResult, catalogued_rule, known_tools
from mlgate.gates.sast import rule_pack_catalogue
from mlgate.policy import Waiver, decide, load_policy
from mlgate.repo import Repo
from mlgate.report import FORMATS, Report
from mlgate.report.gitlab import SAST as GITLAB_SAST
from mlgate.report.gitlab import SEVERITIES, security_report, vulnerability_id
from mlgate.report.sarif import LEVELS, SECURITY_SEVERITY, sarif_log
from mlgate.runner import RunResult
from tests.conftest import EXAMPLES, SCHEMAS, fixture_path

GITLAB_SCHEMAS = Path(__file__).resolve().parents[1] / "schemas" / "gitlab"
ALL_FORMATS = ("json", "sarif", "gitlab", "junit", "markdown")
EXPECTED_FILES = {
    "mlgate.json",
    "mlgate.sarif",
    "gl-sast-report.json",
    "gl-dependency-scanning-report.json",
    "junit.xml",
    "summary.md",
    "mlgate.cdx.json",  # the ML-BOM: every run with --output writes it
}
EARLIER_SUMMARY = "## an earlier step\n\n"


def mlgate(
    args: Sequence[str], extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_STEP_SUMMARY", "MLGATE_DEBUG")}
    env.update({"NO_COLOR": "1", **(extra_env or {})})
    return subprocess.run(
        [sys.executable, "-m", "mlgate", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


@dataclass(frozen=True)
class Produced:
    done: subprocess.CompletedProcess[str]
    out: Path
    step_summary: Path

    def text(self, name: str) -> str:
        return (self.out / name).read_text(encoding="utf-8")

    def json(self, name: str) -> Any:
        return json.loads(self.text(name))


@pytest.fixture(scope="session")
def produced(tmp_path_factory: pytest.TempPathFactory, advisory_db: Path) -> Produced:
    base = tmp_path_factory.mktemp("reports")
    out = base / "out"
    summary = base / "step-summary.md"
    summary.write_text(EARLIER_SUMMARY, encoding="utf-8")
    formats = [arg for name in ALL_FORMATS for arg in ("--format", name)]
    done = mlgate(
        [
            "run",
            str(EXAMPLES / "insecure-ml"),
            "--advisory-db",
            str(advisory_db),
            *formats,
            "--output",
            str(out),
        ],
        {"GITHUB_STEP_SUMMARY": str(summary)},
    )
    return Produced(done, out, summary)


@pytest.fixture(scope="session")
def findings(produced: Produced) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = produced.json("mlgate.json")["findings"]
    assert items, "the insecure example must produce findings"
    return items


def vendored_schema(name: str) -> Path:
    """sarif/... or junit/...: schemas vendored under tests/schemas (never skipped)."""
    return fixture_path(SCHEMAS / name)


# --- the real run -------------------------------------------------------------------------


def test_run_blocks_writes_every_file_and_prints_text(produced: Produced) -> None:
    assert produced.done.returncode == 1, produced.done.stderr
    assert {p.name for p in produced.out.iterdir()} == EXPECTED_FILES  # no temp files left
    assert "Decision: BLOCKED" in produced.done.stdout
    assert "reports written to" in produced.done.stdout
    assert not produced.done.stdout.lstrip().startswith("{")  # text, not json, on stdout


def test_sarif_is_valid_against_the_oasis_schema(produced: Produced) -> None:
    schema = json.loads(
        vendored_schema("sarif/sarif-schema-2.1.0.json").read_text(encoding="utf-8")
    )
    log = produced.json("mlgate.sarif")
    jsonschema.validate(log, schema, cls=jsonschema.Draft4Validator)
    assert log["version"] == "2.1.0"


def test_sarif_results_are_relative_fingerprinted_and_indexed(produced: Produced) -> None:
    runs = produced.json("mlgate.sarif")["runs"]
    results = [(run, r) for run in runs for r in run["results"]]
    assert results
    for run, result in results:
        assert result["partialFingerprints"]["mlgate/v1"]
        rule = run["tool"]["driver"]["rules"][result["ruleIndex"]]
        assert rule["id"] == result["ruleId"]
        for location in result.get("locations", []):
            artifact = location["physicalLocation"]["artifactLocation"]
            assert artifact["uriBaseId"] == "%SRCROOT%"
            assert not artifact["uri"].startswith("/") and "://" not in artifact["uri"]
            assert ".." not in artifact["uri"].split("/")


def test_sarif_has_one_distinct_automation_id_per_run(produced: Produced) -> None:
    runs = produced.json("mlgate.sarif")["runs"]
    ids = [run["automationDetails"]["id"] for run in runs]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"mlgate/[a-z]+/[\w.-]+/", i) for i in ids), ids
    assert {"mlgate/sast/bandit/", "mlgate/deps/osv-database/"} <= set(ids)


def test_sarif_reports_each_finding_once_with_level_and_driver(
    produced: Produced, findings: list[dict[str, Any]]
) -> None:
    runs = produced.json("mlgate.sarif")["runs"]
    by_print = {
        r["partialFingerprints"]["mlgate/v1"]: (run, r) for run in runs for r in run["results"]
    }
    assert len(by_print) == sum(len(run["results"]) for run in runs) == len(findings)
    for finding in findings:
        run, result = by_print[finding["fingerprint"]]
        severity = Severity(finding["severity"])
        assert run["tool"]["driver"]["name"] == finding["tool"]
        assert run["automationDetails"]["id"] == f"mlgate/{finding['gate']}/{finding['tool']}/"
        assert result["level"] == LEVELS[severity]
        assert result["properties"]["security-severity"] == SECURITY_SEVERITY[severity]
        assert result["properties"].get("alsoReportedBy", []) == finding["also_reported_by"]
    bandit = next(run for run in runs if run["tool"]["driver"]["name"] == "bandit")
    assert bandit["tool"]["driver"]["version"]
    assert bandit["tool"]["driver"]["informationUri"].startswith("https://")
    tags = {t for rule in bandit["tool"]["driver"]["rules"] for t in rule["properties"]["tags"]}
    assert "security" in tags and any(t.startswith("external/cwe/cwe-") for t in tags)


def test_sarif_rules_come_from_the_gates_catalogues(produced: Produced) -> None:
    """A catalogued rule is described by its gate (title, CWE, help), not by the first
    finding's message; a tool's rule mlgate does not catalogue (bandit's) by its findings."""
    runs = produced.json("mlgate.sarif")["runs"]
    catalogued = 0
    for run in runs:
        gate, tool = run["properties"]["gate"], run["tool"]["driver"]["name"]
        assert run["tool"]["driver"]["informationUri"] == known_tools()[tool].homepage
        for rule in run["tool"]["driver"]["rules"]:
            known = catalogued_rule(gate, tool, rule["id"])
            if known is None:
                continue
            catalogued += 1
            assert rule["shortDescription"]["text"] == known.title, rule["id"]
            assert rule["defaultConfiguration"]["level"] == LEVELS[known.severity]
            if known.cwe:
                assert f"external/cwe/{known.cwe.lower()}" in rule["properties"]["tags"]
    pack = [
        r
        for run in runs
        if run["tool"]["driver"]["name"] == "semgrep"
        for r in run["tool"]["driver"]["rules"]
    ]
    assert pack and all(r["id"] in rule_pack_catalogue() for r in pack)
    assert catalogued >= len(pack)


def _gitlab_validator(name: str) -> jsonschema.Draft7Validator:
    schema = json.loads((GITLAB_SCHEMAS / name).read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


@pytest.mark.parametrize(
    ("report_file", "schema_file", "scan_type", "gates"),
    [
        ("gl-sast-report.json", "sast-report-format.json", "sast", {"sast", "secrets", "models"}),
        (
            "gl-dependency-scanning-report.json",
            "dependency-scanning-report-format.json",
            "dependency_scanning",
            {"deps"},
        ),
    ],
)
def test_gitlab_reports_are_valid_and_map_severities(
    produced: Produced,
    findings: list[dict[str, Any]],
    report_file: str,
    schema_file: str,
    scan_type: str,
    gates: set[str],
) -> None:
    data = produced.json(report_file)
    errors = [e.message for e in _gitlab_validator(schema_file).iter_errors(data)]
    assert errors == []
    assert data["scan"]["type"] == scan_type
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", data["scan"]["start_time"])
    mine = [Finding.from_dict(f) for f in findings if f["gate"] in gates]
    by_id = {v["id"]: v for v in data["vulnerabilities"]}
    assert len(by_id) == len(data["vulnerabilities"]) == len(mine)
    for finding in mine:
        vuln = by_id[vulnerability_id(finding)]
        assert vuln["severity"] == SEVERITIES[finding.severity]
        assert vuln["identifiers"][0]["value"] == finding.rule_id


def test_gitlab_dependency_report_names_package_and_aliases(produced: Produced) -> None:
    data = produced.json("gl-dependency-scanning-report.json")
    pyyaml = next(
        v for v in data["vulnerabilities"] if v["identifiers"][0]["value"] == "PYSEC-2021-142"
    )
    assert pyyaml["location"] == {
        "file": "requirements.txt",
        "dependency": {"package": {"name": "pyyaml"}, "version": "5.3.1"},
    }
    kinds = {(i["type"], i["value"]) for i in pyyaml["identifiers"]}
    assert {("cve", "CVE-2020-14343"), ("ghsa", "GHSA-8q59-q68h-6hv4")} <= kinds
    assert pyyaml["solution"] == "upgrade pyyaml to 5.4"
    assert data["dependency_files"][0]["path"] == "requirements.txt"


def test_junit_is_valid_and_fails_on_blocking_findings(
    produced: Produced, findings: list[dict[str, Any]]
) -> None:

    xsd = xmlschema.XMLSchema(str(vendored_schema("junit/junit-10.xsd")))
    xsd.validate(str(produced.out / "junit.xml"))
    root = ET.fromstring(produced.text("junit.xml"))  # our own output
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert {"mlgate.sast", "mlgate.deps"} <= set(suites)
    for suite in (suites["mlgate.sast"], suites["mlgate.deps"]):
        status = next(c for c in suite.iter("testcase") if c.get("name") == "gate status")
        assert status.find("failure") is not None  # both gates fail on the example
    cases = {c.get("name"): c for s in suites.values() for c in s.iter("testcase")}
    failed = {g["name"] for g in produced.json("mlgate.json")["gates"] if g["status"] == "fail"}
    for finding in findings:
        cell = f"[cell {finding['cell']}]" if finding["cell"] is not None else ""
        line = f":{finding['line']}" if finding["line"] is not None else ""
        where = f"{finding['path']}{cell}{line}"
        case = cases[f"{finding['rule_id']} {where}"]
        blocking = (
            Severity(finding["severity"]).at_least(Severity.HIGH) and finding["gate"] in failed
        )
        assert (case.find("failure") is not None) == blocking, finding
        if not blocking:
            assert "not blocking" in (case.findtext("system-out") or "")
    assert cases["PYSEC-2021-142 requirements.txt:1"].find("failure") is not None


def test_markdown_summary_has_decision_gates_and_links(produced: Produced) -> None:
    text = produced.text("summary.md")
    assert "**Decision: BLOCKED** (exit 1)" in text
    assert "| Gate | Status | Findings | Time |" in text
    assert re.search(r"^\| sast \| fail \| \d+ \(", text, re.M)
    assert re.search(r"^\| deps \| fail \| \d+ \(", text, re.M)
    assert "[requirements.txt:1](requirements.txt#L1)" in text
    assert "### Violations" in text and "### Warnings" in text
    assert re.search(r"\*\*Findings by severity:\*\* critical \d+ · high \d+", text)


def test_step_summary_is_appended(produced: Produced) -> None:
    text = produced.step_summary.read_text(encoding="utf-8")
    assert text == EARLIER_SUMMARY + produced.text("summary.md") + "\n"


def test_step_summary_is_written_even_without_markdown(tmp_path: Path, advisory_db: Path) -> None:
    summary = tmp_path / "summary.md"
    done = mlgate(
        [
            "run",
            str(EXAMPLES / "insecure-ml"),
            "deps",
            "--advisory-db",
            str(advisory_db),
            "--format",
            "json",
        ],
        {"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert done.returncode == 1, done.stderr
    json.loads(done.stdout)  # stdout is still exactly the one requested format
    assert "**Decision: BLOCKED**" in summary.read_text(encoding="utf-8")


def test_unwritable_output_dir_exits_2_with_one_line(tmp_path: Path, advisory_db: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("", encoding="utf-8")
    done = mlgate(
        [
            "run",
            str(EXAMPLES / "insecure-ml"),
            "deps",
            "--advisory-db",
            str(advisory_db),
            "--format",
            "json",
            "--output",
            str(blocker / "reports"),
        ],
    )
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlgate: error: cannot"), done.stderr
    assert str(blocker / "reports") in lines[0]
    assert "Traceback" not in done.stderr


# --- unit: maps ---------------------------------------------------------------------------


def test_severity_maps_cover_every_severity() -> None:
    assert LEVELS == {
        Severity.CRITICAL: "error",
        Severity.HIGH: "error",
        Severity.MEDIUM: "warning",
        Severity.LOW: "note",
        Severity.INFO: "note",
    }
    assert {s: SECURITY_SEVERITY[s] for s in Severity if s is not Severity.INFO} == {
        Severity.CRITICAL: "9.5",
        Severity.HIGH: "8.0",
        Severity.MEDIUM: "5.5",
        Severity.LOW: "2.0",
    }
    assert SEVERITIES == {
        Severity.CRITICAL: "Critical",
        Severity.HIGH: "High",
        Severity.MEDIUM: "Medium",
        Severity.LOW: "Low",
        Severity.INFO: "Info",
    }


# --- unit: hand-made reports --------------------------------------------------------------

TODAY = dt.date(2026, 1, 1)


def junit_tree(report: Report) -> ET.Element:
    return ET.fromstring(FORMATS["junit"].render(report).encode("utf-8"))  # our own output


def make_report(items: Sequence[Finding], waivers: Sequence[Waiver] = ()) -> Report:
    policy = dataclasses.replace(load_policy("default"), waivers=tuple(waivers))
    result = GateResult("sast", findings=tuple(items), tools={"bandit": "1.8.0"}, seconds=0.25)
    decision = decide(policy, [result], scope=["sast"], today=TODAY)
    repo = Repo(root=Path("/nowhere"), files=(), is_git=False, commit=None)
    run = RunResult(repo, (result,), "2026-01-01T12:00:00+00:00", 0.25)
    return Report(run, policy, decision, {"kind": "full"})


def finding(rule: str, severity: Severity, **extra: Any) -> Finding:
    values: dict[str, Any] = {
        "path": "src/a b.py",
        "line": 3,
        "fingerprint": f"fp-{rule}",
        "message": f"{rule} message",
    }
    values.update(extra)
    return Finding(gate="sast", tool="bandit", rule_id=rule, severity=severity, **values)


def waiver_for(fingerprint: str) -> Waiver:
    return Waiver(
        reason="accepted risk",
        expires=dt.date(2027, 1, 1),
        owner="ml-team",
        source="policy.yml:3",
        fingerprint=fingerprint,
    )


def sarif_results(report: Report) -> dict[str, dict[str, Any]]:
    log = sarif_log(report)
    return {r["ruleId"]: r for run in log["runs"] for r in run["results"]}


def test_sarif_waived_finding_is_suppressed_not_dropped() -> None:
    report = make_report([finding("B602", Severity.HIGH)], [waiver_for("fp-B602")])
    result = sarif_results(report)["B602"]
    assert result["suppressions"] == [
        {"kind": "external", "justification": report.decision.findings[0].waived_by}
    ]
    assert "accepted risk" in result["suppressions"][0]["justification"]


def test_sarif_locations_for_notebooks_missing_lines_and_paths() -> None:
    report = make_report(
        [
            finding("NB1", Severity.LOW, path="nb/train.ipynb", line=2, cell=4),
            finding("NOLINE", Severity.LOW, line=None),
            finding("NOPATH", Severity.LOW, path=None, line=None),
            finding("SPACE", Severity.LOW, column=5, end_line=4),
        ]
    )
    results = sarif_results(report)
    notebook = results["NB1"]
    assert notebook["properties"]["cell"] == 4
    location = notebook["locations"][0]["physicalLocation"]
    assert location == {"artifactLocation": {"uri": "nb/train.ipynb", "uriBaseId": "%SRCROOT%"}}
    assert "cell 4" in notebook["message"]["text"]
    assert "region" not in results["NOLINE"]["locations"][0]["physicalLocation"]
    assert "locations" not in results["NOPATH"]
    space = results["SPACE"]["locations"][0]["physicalLocation"]
    assert space["artifactLocation"]["uri"] == "src/a%20b.py"
    assert space["region"] == {"startLine": 3, "startColumn": 5, "endLine": 4}


def test_sarif_without_fingerprint_still_has_a_stable_partial_fingerprint() -> None:
    report = make_report([finding("B1", Severity.LOW, fingerprint="")])
    first = sarif_results(report)["B1"]["partialFingerprints"]["mlgate/v1"]
    assert first and first == sarif_results(report)["B1"]["partialFingerprints"]["mlgate/v1"]


def test_gitlab_keeps_waived_findings_with_the_waiver_and_stable_ids() -> None:
    report = make_report(
        [finding("B602", Severity.HIGH, cwe="CWE-78"), finding("B101", Severity.INFO)],
        [waiver_for("fp-B602")],
    )
    data = security_report(report, GITLAB_SAST)
    assert _gitlab_validator("sast-report-format.json").is_valid(data)
    vulns = {v["identifiers"][0]["value"]: v for v in data["vulnerabilities"]}
    assert vulns["B602"]["details"]["waived_by"]["value"].startswith("policy.yml:3")
    assert ("cwe", "78") in {(i["type"], i["value"]) for i in vulns["B602"]["identifiers"]}
    assert vulns["B101"]["severity"] == "Info"
    again = security_report(make_report([finding("B101", Severity.INFO)]), GITLAB_SAST)
    assert again["vulnerabilities"][0]["id"] == vulns["B101"]["id"]
    assert data["scan"]["start_time"] == "2026-01-01T12:00:00"


def test_gitlab_writes_only_the_kinds_the_run_covered() -> None:
    files = FORMATS["gitlab"].files(make_report([]))
    assert set(files) == {"gl-sast-report.json"}


def test_junit_waived_blocking_finding_passes_and_validates() -> None:

    report = make_report(
        [finding("B602", Severity.HIGH), finding("B307", Severity.HIGH, message="bad \x07 byte")],
        [waiver_for("fp-B602")],
    )
    text = FORMATS["junit"].render(report)
    xmlschema.XMLSchema(str(vendored_schema("junit/junit-10.xsd"))).validate(text)
    cases = {c.get("name"): c for c in junit_tree(report).iter("testcase")}
    assert cases["B602 src/a b.py:3"].find("failure") is None
    assert "waived" in (cases["B602 src/a b.py:3"].findtext("system-out") or "")
    assert cases["B307 src/a b.py:3"].find("failure") is not None
    assert cases["gate status"].find("failure") is not None


def test_junit_marks_error_and_skipped_gates() -> None:
    policy = load_policy("default")
    results = [
        GateResult("sast", errors=("bandit: not installed",)),
        GateResult("deps", skipped="no dependency files"),
    ]
    decision = decide(policy, results, scope=["sast", "deps"], today=TODAY)
    repo = Repo(root=Path("/nowhere"), files=(), is_git=False, commit=None)
    report = Report(RunResult(repo, tuple(results), "bad time", 0.0), policy, decision, {})
    suites = {s.get("name"): s for s in junit_tree(report).iter("testsuite")}
    assert suites["mlgate.sast"].find("testcase/error") is not None
    assert suites["mlgate.sast"].get("errors") == "1"
    assert suites["mlgate.deps"].find("testcase/skipped") is not None
    markdown = FORMATS["markdown"].render(report)
    assert "**Decision: BLOCKED** (exit 3" in markdown


def test_text_format_writes_no_file() -> None:
    report = make_report([])
    assert FORMATS["text"].files(report) == {}
    assert "Decision: PASS" in FORMATS["text"].render(report)
    assert "**Decision: PASSED**" in FORMATS["markdown"].render(report)
