from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from mlgate.errors import ConfigError
from mlgate.findings import Finding, Severity
from mlgate.gates import GateResult, GateStatus
from mlgate.policy import Outcome, decide, load_policy

from .conftest import run_cli, write

TODAY = dt.date(2026, 6, 1)


def finding(
    severity: Severity, rule: str = "B301", path: str = "a.py", fp: str = "f" * 32
) -> Finding:
    return Finding("sast", "bandit", rule, severity, "msg", path=path, line=1, fingerprint=fp)


def policy_file(tmp_path: Path, text: str) -> Path:
    return write(tmp_path, "policy.yml", text)


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_policy(policy_file(tmp_path, text))
    return caught.value.message + " | " + (caught.value.hint or "")


def test_default_pack_blocks_high_and_warns_on_medium() -> None:
    policy = load_policy("default")
    high = decide(
        policy, [GateResult("sast", (finding(Severity.HIGH),))], scope=["sast"], today=TODAY
    )
    medium = decide(
        policy, [GateResult("sast", (finding(Severity.MEDIUM),))], scope=["sast"], today=TODAY
    )
    assert (high.passed, high.exit_code) == (False, 1)
    assert high.verdicts["sast"].status is GateStatus.FAIL
    assert (medium.passed, medium.exit_code) == (True, 0)
    assert any("to review" in w for w in medium.warnings)


def test_decision_has_an_outcome_and_marks_each_blocking_finding(tmp_path: Path) -> None:
    """Reports read these marks: a finding blocks when its gate failed for it (at or above
    fail_on, not waived); a finding that arrives marked (a shard's report) is re-decided."""
    path = policy_file(
        tmp_path,
        "extends: default\nwaivers:\n  - fingerprint: " + "w" * 32 + "\n"
        "    reason: accepted\n    expires: 2027-01-01\n    owner: sec\n",
    )
    policy = load_policy(path)
    high = finding(Severity.HIGH, fp="h" * 32)
    medium = finding(Severity.MEDIUM, rule="B108", fp="m" * 32).with_changes(blocking=True)
    waived = finding(Severity.CRITICAL, rule="B602", fp="w" * 32)
    result = GateResult("sast", (high, medium, waived))
    decision = decide(policy, [result], scope=["sast"], today=TODAY)
    assert decision.outcome is Outcome.BLOCKED and decision.exit_code == 1
    marks = {f.fingerprint[0]: (f.blocking, f.waived_by is not None) for f in decision.findings}
    assert marks == {"h": (True, False), "m": (False, False), "w": (False, True)}
    passed = decide(policy, [GateResult("sast", (medium,))], scope=["sast"], today=TODAY)
    assert passed.outcome is Outcome.PASS and not passed.findings[0].blocking
    errored = decide(policy, [GateResult("sast", errors=("x",))], scope=["sast"], today=TODAY)
    assert errored.outcome is Outcome.ERROR and errored.exit_code == 3


def test_marks_a_finding_arrives_with_are_decided_again_without_waivers() -> None:
    """Without waivers or a baseline (the quick path): each mark is the decision's."""
    policy = load_policy("default")
    arriving = [
        finding(Severity.HIGH, fp="a" * 32).with_changes(blocking=True),
        finding(Severity.HIGH, fp="b" * 32),
        finding(Severity.MEDIUM, fp="c" * 32).with_changes(blocking=True),
        finding(Severity.MEDIUM, fp="d" * 32),
        finding(Severity.CRITICAL, fp="e" * 32).with_changes(waived_by="old", blocking=False),
        finding(Severity.LOW, fp="f" * 32).with_changes(waived_by="old", blocking=True),
        finding(Severity.HIGH, fp="g" * 32, path="tests/test_x.py"),  # a context
    ]
    decision = decide(policy, [GateResult("sast", tuple(arriving))], scope=["sast"], today=TODAY)
    marks = {f.fingerprint[0]: (f.blocking, f.waived_by) for f in decision.findings}
    expected_blocking = {"a": True, "b": True, "e": True, "g": True}
    assert marks == {k: (k in expected_blocking, None) for k in "abcdefg"}
    assert [f.fingerprint for f in decision.findings] == [f.fingerprint for f in arriving]


def test_environments_override_the_base() -> None:
    medium = [GateResult("sast", (finding(Severity.MEDIUM),))]
    assert decide(load_policy("default", "production"), medium, ["sast"], TODAY).exit_code == 1
    assert decide(load_policy("default", "dev"), medium, ["sast"], TODAY).exit_code == 0
    errored = [GateResult("sast", errors=("semgrep: command not found",))]
    assert decide(load_policy("default", "dev"), errored, ["sast"], TODAY).exit_code == 0
    prod = decide(load_policy("default", "production"), errored, ["sast"], TODAY)
    assert prod.exit_code == 3
    assert prod.verdicts["sast"].status is GateStatus.ERROR
    assert "command not found" in prod.violations[0]


def test_strict_pack_extends_default() -> None:
    strict = load_policy("strict")
    assert strict.settings("sast").fail_on is Severity.MEDIUM
    assert strict.settings("deps").options["unpinned_severity"] == "high"
    assert strict.settings("deps").options["unaudited"] == "error"  # inherited


def test_extends_a_file_and_overrides_per_gate(tmp_path: Path) -> None:
    write(tmp_path, "base.yml", "extends: default\ngates:\n  sast:\n    fail_on: critical\n")
    path = policy_file(tmp_path, "extends: base.yml\ngates:\n  deps:\n    enabled: false\n")
    policy = load_policy(path)
    assert policy.settings("sast").fail_on is Severity.CRITICAL
    assert "sast" in policy.enabled_gates() and "deps" not in policy.enabled_gates()


def test_waiver_applies_until_it_expires(tmp_path: Path) -> None:
    path = policy_file(
        tmp_path,
        "extends: default\nwaivers:\n"
        "  - rule: B301\n    path: 'src/*.py'\n    reason: reviewed, input is trusted\n"
        "    expires: 2026-12-31\n    owner: ml-platform\n",
    )
    policy = load_policy(path)
    results = [GateResult("sast", (finding(Severity.HIGH, path="src/a.py"),))]
    live = decide(policy, results, ["sast"], today=TODAY)
    assert live.passed
    assert live.findings[0].waived_by and "ml-platform" in live.findings[0].waived_by
    later = decide(policy, results, ["sast"], today=dt.date(2027, 1, 1))
    assert not later.passed
    assert any("expired" in w for w in later.warnings)
    other = decide(
        policy,
        [GateResult("sast", (finding(Severity.HIGH, path="lib/a.py"),))],
        ["sast"],
        today=TODAY,
    )
    assert not other.passed


def test_waiver_by_fingerprint(tmp_path: Path) -> None:
    path = policy_file(
        tmp_path,
        f"waivers:\n  - fingerprint: {'a' * 32}\n    reason: false positive\n"
        "    expires: 2030-01-01\n    owner: me\n",
    )
    policy = load_policy(path)
    hit = decide(
        policy, [GateResult("sast", (finding(Severity.HIGH, fp="a" * 32),))], ["sast"], TODAY
    )
    miss = decide(
        policy, [GateResult("sast", (finding(Severity.HIGH, fp="b" * 32),))], ["sast"], TODAY
    )
    assert hit.passed and not miss.passed


def test_baseline_keeps_known_findings_from_blocking(tmp_path: Path) -> None:
    write(tmp_path, "baseline.json", json.dumps({"findings": [{"fingerprint": "a" * 32}]}))
    policy = load_policy(policy_file(tmp_path, "baseline: baseline.json\n"))
    old = decide(
        policy, [GateResult("sast", (finding(Severity.HIGH, fp="a" * 32),))], ["sast"], TODAY
    )
    new = decide(
        policy, [GateResult("sast", (finding(Severity.HIGH, fp="c" * 32),))], ["sast"], TODAY
    )
    assert old.passed and (old.findings[0].waived_by or "").startswith("baseline")
    assert not new.passed


def test_max_findings_blocks(tmp_path: Path) -> None:
    policy = load_policy(policy_file(tmp_path, "gates:\n  sast:\n    max_findings: 1\n"))
    two = [
        GateResult("sast", (finding(Severity.LOW, fp="1" * 32), finding(Severity.LOW, fp="2" * 32)))
    ]
    decision = decide(policy, two, ["sast"], TODAY)
    assert decision.exit_code == 1
    assert "max_findings" in decision.violations[0]


def test_required_gate_without_result_is_an_error() -> None:
    decision = decide(load_policy("default"), [], today=TODAY)
    assert decision.exit_code == 3
    assert {v.status for v in decision.verdicts.values()} == {GateStatus.ERROR}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "gates:\n  sast:\n    fail_on: hgih\n",
            ["policy.yml:3", "gates.sast.fail_on", "did you mean 'high'"],
        ),
        (
            "gates:\n  sast:\n    enabeld: true\n",
            ["policy.yml:3", "unknown key 'enabeld'", "did you mean 'enabled'"],
        ),
        ("gates:\n  nosuchgate: {}\n", ["policy.yml:2", "unknown key 'nosuchgate'"]),
        (
            "defaults:\n  timeout: soon\n",
            ["policy.yml:2", "defaults.timeout", "not of type 'number'"],
        ),
        ("gates: [1, 2]\n", ["policy.yml:1", "gates"]),
        (
            "waivers:\n  - rule: B301\n    expires: 2030-01-01\n    owner: me\n",
            ["policy.yml:2", "'reason' is a required property"],
        ),
        (
            "waivers:\n  - rule: B301\n    reason: fine\n    owner: me\n",
            ["policy.yml:2", "'expires' is a required property"],
        ),
        (
            "waivers:\n  - reason: fine\n    expires: 2030-01-01\n    owner: me\n",
            ["policy.yml:2", "waivers.0"],
        ),
        ("gates:\n  sast:\n  fail_on: high\n  bad: [\n", ["policy.yml:", "invalid YAML"]),
        ("extends: nothere.yml\n", ["nothere.yml", "file not found"]),
        ("- a\n- b\n", ["top level must be a mapping"]),
        ("baseline: missing.json\n", ["baseline", "file not found"]),
    ],
)
def test_bad_policies_name_file_line_and_key(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    message = error_of(tmp_path, text)
    for part in expected:
        assert part in message, message


def test_extends_cycle_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "a.yml", "extends: b.yml\n")
    write(tmp_path, "b.yml", "extends: a.yml\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_policy(tmp_path / "a.yml")


def test_unknown_environment() -> None:
    with pytest.raises(ConfigError, match=r"unknown environment 'prod'.*production"):
        load_policy("default", "prod")


def test_cli_policy_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    path = policy_file(tmp_path, "gates:\n  sast:\n    fial_on: high\n")
    done = run_cli(["policy", "check", "--policy", str(path)])
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"{path}:3" in done.stderr and "did you mean 'fail_on'" in done.stderr
    done = run_cli(["run", str(tmp_path), "--policy", str(path)])
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_cli_policy_show_and_check() -> None:
    shown = run_cli(["policy", "show", "--env", "production"])
    assert shown.returncode == 0, shown.stderr
    assert "fail_on: medium" in shown.stdout
    assert run_cli(["policy", "check"]).returncode == 0
    bad_env = run_cli(["policy", "show", "--env", "nope"])
    assert bad_env.returncode == 2 and "unknown environment" in bad_env.stderr


def test_published_schema_files_match_the_code() -> None:
    from mlgate.config import config_schema
    from mlgate.policy import policy_schema
    from mlgate.resources import schema_path

    assert json.loads(schema_path("policy").read_text()) == policy_schema()
    assert json.loads(schema_path("config").read_text()) == config_schema()
