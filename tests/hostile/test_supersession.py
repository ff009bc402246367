"""Class 9 of issue 12: one tool's failure never hides another's findings.

A bandit finding that a rule-pack rule supersedes is dropped only for a file semgrep
demonstrably scanned; a repository rule file that does not parse is a configuration error
(exit 2) before any gate runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlgate.gates.sast import _bandit_finding, merge_tool_findings
from tests.conftest import EXAMPLES, run_cli, write
from tests.gates.test_sast import BANDIT_RESULT

BROKEN_YAML = "rules:\n  - id: mine\n    pattern: eval(...)\n   message: [unclosed\n"
BROKEN_PATTERN = """\
rules:
  - id: my-own-eval
    pattern: eval(
    message: eval of something
    languages: [python]
    severity: ERROR
"""
NOT_RULES = "rules:\n  - id: mine\n    message: no pattern at all\n    languages: [python]\n"


def _copy_with_rules(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "insecure-ml"
    shutil.copytree(EXAMPLES / "insecure-ml", root)
    write(root, "ci/rules.yml", text)
    write(root, ".mlgate.yml", "sast: {semgrep_rules: [ci/rules.yml]}\n")
    return root


def test_bandit_finding_stays_when_semgrep_did_not_scan_the_file() -> None:
    superseded = {"B301": frozenset({"ml-pickle-load"})}
    bandit = [_bandit_finding(BANDIT_RESULT)]
    assert merge_tool_findings(bandit, [], superseded, verified=frozenset({"a.py"})) == ([], 1)
    kept, dropped = merge_tool_findings(bandit, [], superseded, verified=frozenset({"b.py"}))
    assert (len(kept), dropped) == (1, 0)  # semgrep vouched for another file only
    assert merge_tool_findings(bandit, [], superseded)[1] == 0  # semgrep failed: nothing


@pytest.mark.parametrize(
    ("text", "says"),
    [(BROKEN_YAML, "ci/rules.yml:4"), (NOT_RULES, "ci/rules.yml:2")],
    ids=["yaml-syntax", "not-a-rule"],
)
def test_broken_rule_file_is_a_config_error_before_any_gate(
    tmp_path: Path, text: str, says: str
) -> None:
    root = _copy_with_rules(tmp_path, text)
    done = run_cli(["run", str(root), "--env", "dev", "--no-cache", "--verbose"])
    assert done.returncode == 2, done.stdout + done.stderr
    assert says in done.stderr
    ran = [line for line in done.stderr.splitlines() if line.startswith("$ ")]
    assert not [c for c in ran if "git" not in c.split()[1]], ran  # no scanner started


@pytest.mark.slow
def test_semgrep_rule_error_keeps_every_bandit_finding(tmp_path: Path) -> None:
    """The issue's case: a broken custom rule used to give PASS under dev with pickle.load,
    torch.load, yaml.load, shell=True and eval gone."""
    root = _copy_with_rules(tmp_path, BROKEN_PATTERN)
    done = run_cli(["run", str(root), "sast", "--env", "dev", "--no-cache", "--format", "json"])
    report = json.loads(done.stdout)
    (sast,) = report["gates"]
    assert sast["status"] == "fail", sast  # blocking findings, and semgrep's error:
    assert any("semgrep" in e for e in sast["errors"]), sast["errors"]
    assert sast["properties"]["suppressed_by_rule_pack"] == 0
    rules = {f["rule_id"] for f in report["findings"] if f["tool"] == "bandit"}
    assert {"B301", "B506", "B602", "B307"} <= rules, rules
    assert done.returncode == 1, done.stderr  # high findings block even under dev
