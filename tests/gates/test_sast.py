from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mlgate.findings import Severity
from mlgate.gates import GATES, GateContext
from mlgate.gates.sast import _bandit_finding, _semgrep_finding, merge_tool_findings
from mlgate.repo import open_repo
from mlgate.resources import rule_pack_dir
from mlgate.tools import find_tool

from ..conftest import write

# Recorded (trimmed) from real bandit 1.9 and semgrep 1.182 JSON output.
BANDIT_RESULT = {
    "code": "2 x = pickle.loads(b)\n",
    "col_offset": 4,
    "filename": "./a.py",
    "issue_confidence": "HIGH",
    "issue_cwe": {"id": 502, "link": "https://cwe.mitre.org/data/definitions/502.html"},
    "issue_severity": "MEDIUM",
    "issue_text": "Pickle and modules that wrap it can be unsafe ...",
    "line_number": 2,
    "line_range": [2],
    "more_info": "https://bandit.readthedocs.io/en/1.9.4/blacklists/blacklist_calls.html#b301-pickle",
    "test_id": "B301",
    "test_name": "blacklist",
}
SEMGREP_RESULT = {
    "check_id": "policies.semgrep.rules.ml-pickle-load",
    "path": "a.py",
    "start": {"line": 2, "col": 5, "offset": 24},
    "end": {"line": 2, "col": 22, "offset": 41},
    "extra": {
        "message": "pickle can run code",
        "metadata": {
            "cwe": ["CWE-502: Deserialization of Untrusted Data"],
            "confidence": "HIGH",
            "references": ["https://docs.python.org/3/library/pickle.html"],
            "mlgate": {"severity": "high", "supersedes_bandit": ["B301"]},
        },
        "severity": "ERROR",
        "lines": "requires login",
    },
}


def test_parses_bandit_result() -> None:
    item = _bandit_finding(BANDIT_RESULT)
    assert (item.tool, item.rule_id, item.path, item.line, item.column) == (
        "bandit",
        "B301",
        "a.py",
        2,
        5,
    )
    assert item.severity is Severity.MEDIUM and item.cwe == "CWE-502"


def test_parses_semgrep_result_with_our_severity() -> None:
    item = _semgrep_finding(SEMGREP_RESULT)
    assert (item.rule_id, item.path, item.line, item.end_line) == ("ml-pickle-load", "a.py", 2, 2)
    assert item.severity is Severity.HIGH and item.cwe == "CWE-502"
    assert item.help_uri == "https://docs.python.org/3/library/pickle.html"


def test_same_issue_same_line_is_reported_once_naming_both_tools() -> None:
    merged, dropped = merge_tool_findings(
        [_bandit_finding(BANDIT_RESULT)],
        [_semgrep_finding(SEMGREP_RESULT)],
        {"B301": frozenset({"ml-pickle-load"})},
    )
    assert dropped == 0
    (only,) = merged
    assert only.tools == ("semgrep", "bandit:B301")


def test_superseded_bandit_finding_without_rule_match_is_dropped() -> None:
    merged, dropped = merge_tool_findings(
        [_bandit_finding(BANDIT_RESULT)],
        [],
        {"B301": frozenset({"ml-pickle-load"})},
        verified=frozenset({"a.py"}),
    )
    assert (merged, dropped) == ([], 1)
    kept, dropped = merge_tool_findings([_bandit_finding(BANDIT_RESULT)], [], {})
    assert len(kept) == 1 and dropped == 0


def _sast(root: Path) -> list[Any]:
    repo = open_repo(root)
    gate = GATES["sast"]
    result = gate.run(GateContext(repo, gate.inputs(repo, {}), 300))
    assert not result.errors, result.errors
    return list(result.findings)


def test_fingerprints_survive_inserted_lines(tmp_path: Path) -> None:
    code = "import pickle\n\ndef load(blob):\n    return pickle.loads(blob)\n"
    write(tmp_path, "a.py", code)
    before = {(f.rule_id, f.fingerprint): f.line for f in _sast(tmp_path)}
    write(tmp_path, "a.py", "\n\n\n# a comment\n" + code)
    after = {(f.rule_id, f.fingerprint): f.line for f in _sast(tmp_path)}
    assert before and before.keys() == after.keys()
    assert all(after[k] == before[k] + 4 for k in before)


def test_insecure_example_has_both_tools(insecure_run: tuple[int, dict[str, Any], str]) -> None:
    code, report, _ = insecure_run
    assert code == 1
    sast = next(g for g in report["gates"] if g["name"] == "sast")
    assert sast["status"] == "fail" and sast["tools"]["bandit"] and sast["tools"]["semgrep"]
    assert sast["seconds"] > 0
    found = {(f["tool"], f["rule_id"]) for f in report["findings"] if f["gate"] == "sast"}
    assert ("bandit", "B105") in found  # hard-coded password: bandit only
    assert ("semgrep", "ml-torch-load-unsafe") in found
    assert ("semgrep", "ml-pickle-load") in found
    # bandit's pickle test is left to the rule (bandit -s), which scanned every file
    assert not any(tool == "bandit" and rule in ("B301", "B403") for tool, rule in found)
    assert "B301" in sast["properties"]["bandit_tests_left_to_rule_pack"]
    assert sast["properties"]["bandit_rechecked_files"] == 0
    lines = [
        (f["path"], f["cell"], f["line"], f["cwe"])
        for f in report["findings"]
        if f["gate"] == "sast" and f["tool"] in ("bandit", "semgrep")
    ]
    assert len(lines) == len(set(lines)), "one finding per issue and line"


def test_clean_example_passes(churn_run: tuple[int, dict[str, Any], str]) -> None:
    code, report, stderr = churn_run
    assert code == 0, (report["decision"], stderr)
    statuses = {g["name"]: g["status"] for g in report["gates"]}
    assert statuses["sast"] == statuses["deps"] == "pass", report["gates"]
    assert set(statuses.values()) <= {"pass", "skipped"}, report["gates"]


# --- precision and recall of the gate as users get it (bandit + rule pack) ---------------

ANNOTATION = re.compile(r"#\s*(ruleid|ok|todoruleid|todook):\s*([\w,\- ]+)")


def _annotated_targets(folder: Path) -> dict[str, list[tuple[str, int]]]:
    """`ruleid`/`ok` comment -> the next code line it annotates, per file."""
    targets: dict[str, list[tuple[str, int]]] = {"ruleid": [], "ok": []}
    for path in sorted(folder.glob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, text in enumerate(lines, start=1):
            match = ANNOTATION.search(text)
            if not match or match.group(1) not in targets:
                continue
            target = next(
                (
                    n
                    for n in range(number + 1, len(lines) + 1)
                    if lines[n - 1].strip() and not lines[n - 1].strip().startswith("#")
                ),
                None,
            )
            if target is not None:
                targets[match.group(1)].append((path.name, target))
    return targets


@pytest.fixture(scope="session")
def rule_pack_scan(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, list[tuple[str, int]]], list[Any]]:
    folder = tmp_path_factory.mktemp("rulepack")
    for path in rule_pack_dir().glob("*.py"):
        (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return _annotated_targets(folder), _sast(folder)


def _bandit_alone(folder: Path) -> set[tuple[str, int]]:
    """Lines plain bandit flags at medium or above: the baseline mlgate must beat."""
    done = subprocess.run(
        [str(find_tool("bandit")), "-f", "json", "-q", "-r", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    results = json.loads(done.stdout)["results"]
    return {
        (Path(r["filename"]).name, r["line_number"])
        for r in results
        if r["issue_severity"] in ("MEDIUM", "HIGH")
    }


def test_rule_pack_recall_and_precision(
    rule_pack_scan: tuple[dict[str, list[tuple[str, int]]], list[Any]], tmp_path: Path
) -> None:
    targets, findings = rule_pack_scan
    flagged = {(f.path, f.line) for f in findings}
    serious = {(f.path, f.line) for f in findings if f.severity.at_least(Severity.MEDIUM)}
    ruleid, ok = targets["ruleid"], targets["ok"]
    recall = sum(t in flagged for t in ruleid) / len(ruleid)
    false_alarms = [t for t in ok if t in serious]
    for path in rule_pack_dir().glob("*.py"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    bandit = _bandit_alone(tmp_path)
    bandit_recall = sum(t in bandit for t in ruleid) / len(ruleid)
    bandit_false = [t for t in ok if t in bandit]
    print(
        f"\nrule pack: {len(ruleid)} ruleid lines, {len(ok)} ok lines; "
        f"mlgate sast: recall {recall:.0%}, {len(false_alarms)} ok lines at medium+; "
        f"bandit alone: recall {bandit_recall:.0%} (medium+), {len(bandit_false)} ok lines at medium+"
    )
    assert len(ruleid) >= 40 and len(ok) >= 40
    assert recall == 1.0, [t for t in ruleid if t not in flagged]
    assert len(false_alarms) <= len(ok) * 0.03, false_alarms
    assert len(false_alarms) * 3 <= len(bandit_false), (false_alarms, bandit_false)


def test_published_report_records_tool_versions(
    insecure_run: tuple[int, dict[str, Any], str],
) -> None:
    _, report, _ = insecure_run
    assert json.dumps(report)  # serialisable
    for gate in report["gates"]:
        assert gate["tools"], gate
        assert isinstance(gate["seconds"], float)


def test_bandit_runs_the_deferred_tests_where_semgrep_cannot_vouch(tmp_path: Path) -> None:
    """bandit skips the tests the rule pack supersedes (-s) only where semgrep vouches. Here
    semgrep leaves out a file over its 1 MB target limit: its report is refused (the gate
    errors, fail closed) and bandit runs its own pickle test on every file after all."""
    padding = "# padding line to push the file past semgrep's target size limit\n" * 16_000
    write(
        tmp_path, "big.py", "import pickle\n\n\ndef f(b):\n    return pickle.loads(b)\n" + padding
    )
    write(tmp_path, "small.py", "import pickle\n\n\ndef g(b):\n    return pickle.loads(b)\n")
    repo = open_repo(tmp_path)
    gate = GATES["sast"]
    result = gate.run(GateContext(repo, gate.inputs(repo, {}), 600))
    assert any("big.py" in e for e in result.errors), result.errors
    found = {(f.path, f.tool, f.rule_id) for f in result.findings}
    assert {("big.py", "bandit", "B301"), ("small.py", "bandit", "B301")} <= found, found
    assert result.properties["bandit_rechecked_files"] == 2
    assert "B301" in result.properties["bandit_tests_left_to_rule_pack"]


def test_bandit_leaves_superseded_tests_to_a_complete_semgrep_scan(tmp_path: Path) -> None:
    write(tmp_path, "small.py", "import pickle\n\n\ndef g(b):\n    return pickle.loads(b)\n")
    repo = open_repo(tmp_path)
    gate = GATES["sast"]
    result = gate.run(GateContext(repo, gate.inputs(repo, {}), 600))
    assert not result.errors, result.errors
    found = {(f.path, f.tool, f.rule_id) for f in result.findings}
    assert ("small.py", "semgrep", "ml-pickle-load") in found
    assert not any(tool == "bandit" and rule in ("B301", "B403") for _, tool, rule in found)
    assert result.properties["bandit_rechecked_files"] == 0
