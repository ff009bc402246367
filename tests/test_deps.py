from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlgate.depfiles import Requirement
from mlgate.findings import Severity
from mlgate.gates import GATES, GateContext
from mlgate.gates.deps import parse_pip_audit
from mlgate.repo import open_repo

from .conftest import run_cli, write

# Recorded from a real `pip-audit -r req.txt --no-deps --disable-pip --format json` run.
PIP_AUDIT_OFFLINE = {
    "dependencies": [
        {
            "name": "pyyaml",
            "skip_reason": "Dependency not found on PyPI and could not be audited: pyyaml (5.3)",
        },
        {
            "name": "requests",
            "skip_reason": "Dependency not found on PyPI and could not be audited: requests (2.0.0)",
        },
    ],
    "fixes": [],
}
PIP_AUDIT_VULNERABLE = {
    "dependencies": [
        {
            "name": "pyyaml",
            "version": "5.3",
            "vulns": [
                {
                    "id": "PYSEC-2021-142",
                    "fix_versions": ["5.4"],
                    "aliases": ["CVE-2020-14343", "GHSA-8q59-q68h-6hv4"],
                    "description": "A vulnerability was discovered in the PyYAML library ...",
                }
            ],
        },
        {"name": "requests", "version": "2.32.3", "vulns": []},
    ],
    "fixes": [],
}


def _ctx(tmp_path: Path, **options: Any) -> GateContext:
    write(tmp_path, "requirements.txt", "PyYAML==5.3\nrequests==2.32.3\n")
    repo = open_repo(tmp_path)
    gate = GATES["deps"]
    return GateContext(repo, gate.inputs(repo, options), 60)


PINNED = [
    Requirement("pyyaml", "5.3", "PyYAML==5.3", "requirements.txt", 1),
    Requirement("requests", "2.32.3", "requests==2.32.3", "requirements.txt", 2),
]


def test_pip_audit_fail_open_becomes_an_error(tmp_path: Path) -> None:
    findings, errors = parse_pip_audit(_ctx(tmp_path), PIP_AUDIT_OFFLINE, PINNED)
    assert findings == []
    assert errors and "2 of 2 dependencies could not be audited" in errors[0]
    assert "vulnerability service reachable" in errors[0]


def test_unaudited_as_finding_when_the_policy_says_so(tmp_path: Path) -> None:
    findings, errors = parse_pip_audit(
        _ctx(tmp_path, unaudited="finding"), PIP_AUDIT_OFFLINE, PINNED
    )
    assert errors == []
    assert [f.rule_id for f in findings] == ["unaudited-dependency"] * 2


def test_pip_audit_vulnerabilities_become_findings(tmp_path: Path) -> None:
    findings, errors = parse_pip_audit(_ctx(tmp_path), PIP_AUDIT_VULNERABLE, PINNED)
    assert errors == []
    (only,) = findings
    assert only.rule_id == "PYSEC-2021-142" and only.path == "requirements.txt" and only.line == 1
    assert only.severity is Severity.HIGH
    assert only.fix == "upgrade pyyaml to 5.4"
    assert only.properties["aliases"] == ["CVE-2020-14343", "GHSA-8q59-q68h-6hv4"]


def test_online_pip_audit_really_runs_and_never_passes_without_data(tmp_path: Path) -> None:
    """The real pip-audit: with its service unreachable the gate errors; with it, it audits."""
    write(tmp_path, "requirements.txt", "PyYAML==5.3\n")
    done = run_cli(["run", str(tmp_path), "deps", "--format", "json"])
    report = json.loads(done.stdout)
    gate = report["gates"][0]
    assert gate["tools"]["pip-audit"]
    if gate["status"] == "error":  # no network here: fail-open trap caught
        assert done.returncode == 3
        assert "could not be audited" in gate["errors"][0]
    else:  # network: the vulnerable pin is found
        assert done.returncode == 1
        assert any(f["properties"].get("package") == "pyyaml" for f in report["findings"])


def test_offline_audit_of_the_insecure_example(
    insecure_run: tuple[int, dict[str, Any], str],
) -> None:
    code, report, _ = insecure_run
    deps = next(g for g in report["gates"] if g["name"] == "deps")
    assert deps["status"] == "fail"
    source = deps["properties"]["source"]
    assert source["kind"] == "osv-offline" and source["revision"].startswith("2024-07-11")
    vulns = {
        (f["properties"].get("package"), f["rule_id"])
        for f in report["findings"]
        if f["gate"] == "deps"
    }
    assert ("pyyaml", "PYSEC-2021-142") in vulns
    unpinned = [f for f in report["findings"] if f["rule_id"] == "unpinned-dependency"]
    assert unpinned and unpinned[0]["properties"]["package"] == "transformers"
    assert code == 1


def test_advisory_db_from_environment(tmp_path: Path, advisory_db: Path) -> None:
    write(tmp_path, "requirements.txt", "jinja2==2.10\n")
    done = run_cli(
        ["run", str(tmp_path), "deps", "--format", "json"],
        env={"MLGATE_ADVISORY_DB": str(advisory_db)},
    )
    report = json.loads(done.stdout)
    assert done.returncode == 1, done.stderr
    assert report["gates"][0]["properties"]["source"]["kind"] == "osv-offline"


def test_missing_advisory_db_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "jinja2==2.10\n")
    done = run_cli(
        ["run", str(tmp_path), "deps", "--advisory-db", str(tmp_path / "nope"), "--format", "json"]
    )
    report = json.loads(done.stdout)
    assert done.returncode == 3
    assert report["gates"][0]["status"] == "error"
