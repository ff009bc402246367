"""Class 5 of the hostile suite: sizes that used to break gates (issue 12).

10,000 findings took 28 s in the policy decision alone (a list-membership test per finding);
the decision and every report format must now stay linear.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from mlgate import tools
from mlgate.findings import Finding, Severity, assign_fingerprints
from mlgate.gates import GateResult, sast
from mlgate.policy import decide, load_policy
from mlgate.repo import Repo
from mlgate.report import FORMATS, Report
from mlgate.runner import RunResult
from tests.conftest import write
from tests.hostile.conftest import Hostile
from tests.hostile.test_tool_faults import run_gate


def many_findings(count: int) -> list[Finding]:
    severities = (Severity.HIGH, Severity.MEDIUM, Severity.LOW)
    findings = [
        Finding(
            gate="sast",
            tool="bandit",
            rule_id=f"B{300 + i % 50}",
            severity=severities[i % 3],
            message=f"finding {i}",
            path=f"pkg/module_{i % 500}.py",
            line=i,
        )
        for i in range(count)
    ]
    return assign_fingerprints(findings, {})


def test_ten_thousand_findings_decide_and_render_in_seconds() -> None:
    findings = many_findings(10_000)
    policy = load_policy("default")
    result = GateResult("sast", findings=tuple(findings))
    started = time.monotonic()
    decision = decide(policy, [result], scope=["sast"])
    decided = time.monotonic() - started
    verdict = decision.verdicts["sast"]
    assert verdict.blocking == 3334  # every third finding is high
    assert verdict.warnings == 3333  # medium: listed as warnings, never counted twice
    assert decided < 3, f"decide took {decided:.1f}s for 10,000 findings"
    run = RunResult(Repo(Path("."), (), False, None), (result,), "2026-01-01T00:00:00", 1.0)
    report = Report(run, policy, decision, {"kind": "full"})
    started = time.monotonic()
    for fmt in FORMATS.values():
        assert fmt.files(report) is not None
    rendered = time.monotonic() - started
    assert rendered < 20, f"rendering every format took {rendered:.1f}s"


def test_argument_batches_respect_the_budget_and_keep_every_target() -> None:
    targets = [f"dir/file_{i:05d}.txt" for i in range(1000)]
    batches = list(tools.argument_batches(targets, budget=2000))
    assert [t for b in batches for t in b] == targets
    assert len(batches) > 10
    cost = [sum(len(t) + 1 + 8 for t in b) for b in batches]
    assert max(cost) <= 2000
    assert list(tools.argument_batches([], budget=10)) == [[]]  # no targets: one plain run
    assert list(tools.argument_batches(["x" * 50], budget=10)) == [["x" * 50]]


def test_fifty_thousand_long_paths_do_not_overflow_the_command_line(
    hostile: Hostile, tmp_path: Path
) -> None:
    """One detect-secrets command line with 50,000 paths of 45 bytes is over Linux's 2 MB
    limit ("Argument list too long"): the secrets gate now splits it into batches."""
    root = tmp_path / "repo"
    for index in range(50_000):
        rel = f"datasets/raw/partition_{index % 100:03d}/record_{index:07d}.txt"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x\n")
    write(root, "policy.yml", "extends: default\n")
    commands: list[Sequence[str]] = []
    with tools.watching_commands(commands.append):
        result, status = run_gate(root, "secrets")
    assert status == "pass", result.errors
    assert result.files_scanned == 50_001  # and policy.yml
    runs = [c for c in commands if Path(c[0]).name == "detect-secrets" and "--" in c]
    assert len(runs) >= 2
    assert sum(len(c) - c.index("--") - 1 for c in runs) == 50_001


@pytest.mark.slow
def test_batched_real_tools_report_what_one_run_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bandit and semgrep run once per file (a tiny budget) find what one run finds."""
    root = tmp_path / "repo"
    for index in range(3):
        write(root, f"m{index}.py", "import pickle\n\ndef f(b):\n    return pickle.loads(b)\n")
    write(root, "policy.yml", "extends: default\n")
    whole, _ = run_gate(root, "sast")
    monkeypatch.setattr(tools, "argument_budget", lambda *_a, **_k: 1)
    monkeypatch.setattr(sast, "argument_budget", lambda *_a, **_k: 1)
    commands: list[Sequence[str]] = []
    with tools.watching_commands(commands.append):
        batched, status = run_gate(root, "sast")
    assert status == "fail", batched.errors
    assert len([c for c in commands if Path(c[0]).name == "bandit"]) == 3
    key = sorted((f.path, f.line, f.rule_id, f.tools) for f in whole.findings)
    assert key == sorted((f.path, f.line, f.rule_id, f.tools) for f in batched.findings)
    assert {f.path for f in batched.findings} == {"m0.py", "m1.py", "m2.py"}
