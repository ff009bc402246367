"""Class 5 of the hostile suite: sizes that used to break gates (issue 12).

10,000 findings took 28 s in the policy decision alone (a list-membership test per finding);
the decision and every report format must now stay linear.
"""

from __future__ import annotations

import time
from pathlib import Path

from mlgate.findings import Finding, Severity, assign_fingerprints
from mlgate.gates import GateResult
from mlgate.policy import decide, load_policy
from mlgate.repo import Repo
from mlgate.report import FORMATS, Report
from mlgate.runner import RunResult


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
