"""`mlgate merge` of sharded runs and the deployment receipt, with real tool runs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .conftest import EXAMPLES, REPO_ROOT, run_cli, write


@pytest.fixture(scope="session")
def split_runs(tmp_path_factory: pytest.TempPathFactory, advisory_db: Path) -> Path:
    """examples/insecure-ml run once whole and once per gate, as separate CI jobs would."""
    out = tmp_path_factory.mktemp("split")
    example = str(EXAMPLES / "insecure-ml")
    db = ["--advisory-db", str(advisory_db), "--no-cache", "--quiet"]
    done = run_cli(["run", example, *db, "--format", "json", "--output", str(out / "full")])
    assert done.returncode == 1, done.stderr
    gates = [g["name"] for g in json.loads((out / "full" / "mlgate.json").read_text())["gates"]]
    assert {"sast", "deps"} <= set(gates)
    for gate in gates:
        done = run_cli(["run", example, gate, *db, "--format", "json", "--output", str(out / gate)])
        assert done.returncode in (0, 1), done.stderr
    (out / "gates.txt").write_text("\n".join(gates))
    return out


def _gates(out: Path) -> list[str]:
    return (out / "gates.txt").read_text().split("\n")


def _merge(
    out: Path, *names: str, env: str | None = None, dest: str = "merged"
) -> tuple[int, dict[str, Any]]:
    args = [
        "merge",
        *(str(out / n / "mlgate.json") for n in names),
        "--format",
        "json",
        "--output",
        str(out / dest),
    ]
    done = run_cli([*args, "--env", env] if env else args, cwd=REPO_ROOT)
    assert "Traceback" not in done.stderr
    return done.returncode, json.loads((out / dest / "mlgate.json").read_text())


def _essence(report: dict[str, Any]) -> tuple[Any, ...]:
    findings = sorted((f["fingerprint"], f["severity"], f["waived_by"]) for f in report["findings"])
    gates = sorted((g["name"], g["status"]) for g in report["gates"])
    return findings, gates, report["decision"]["passed"], report["decision"]["exit_code"]


def test_merge_of_per_gate_runs_equals_the_full_run(split_runs: Path) -> None:
    full = json.loads((split_runs / "full" / "mlgate.json").read_text())
    code, merged = _merge(split_runs, *_gates(split_runs))
    assert code == 1
    assert _essence(merged) == _essence(full)
    assert merged["mode"]["kind"] == "merge"


def test_merge_is_order_independent_and_idempotent(split_runs: Path) -> None:
    gates = _gates(split_runs)
    _, ab = _merge(split_runs, *gates, dest="ab")
    _, ba = _merge(split_runs, *reversed(gates), dest="ba")
    _, twice = _merge(split_runs, *gates, "sast", "full", dest="twice")
    assert _essence(ab) == _essence(ba) == _essence(twice)
    assert len(twice["findings"]) == len({f["fingerprint"] for f in twice["findings"]})


def test_a_required_gate_missing_from_all_inputs_is_an_error(split_runs: Path) -> None:
    code, merged = _merge(split_runs, "deps", dest="only-deps")
    assert code == 1  # deps blocks; and sast is an error
    sast = (
        next(g for g in merged["gates"] if g["name"] == "sast")
        if any(g["name"] == "sast" for g in merged["gates"])
        else None
    )
    assert sast is None
    assert any(v.startswith("sast: gate did not run") for v in merged["decision"]["violations"])


def _tampered(src: Path, dest: Path, **changes: Any) -> Path:
    data = json.loads(src.read_text())
    data.update(changes)
    dest.write_text(json.dumps(data))
    return dest


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"commit": "0" * 40}, "different commits"),
        ({"mlgate_version": "9.0.0"}, "different mlgate major versions"),
    ],
)
def test_merge_refuses_incompatible_reports(
    split_runs: Path, tmp_path: Path, change: dict[str, str], message: str
) -> None:
    other = _tampered(split_runs / "deps" / "mlgate.json", tmp_path / "other.json", **change)
    done = run_cli(["merge", str(split_runs / "sast" / "mlgate.json"), str(other)])
    assert done.returncode == 2 and message in done.stderr


def test_merge_bad_inputs_exit_2(split_runs: Path, tmp_path: Path) -> None:
    full = (split_runs / "full" / "mlgate.json").read_text()
    write(tmp_path, "truncated.json", full[: len(full) // 2])
    write(tmp_path, "list.json", "[]")
    write(tmp_path, "partial.json", json.dumps({"schema_version": 1}))
    for name, message in (
        ("truncated.json", "truncated"),
        ("list.json", "not an mlgate json report"),
        ("partial.json", "missing"),
        ("absent.json", "no such report"),
    ):
        done = run_cli(["merge", str(tmp_path / name)])
        assert done.returncode == 2, (name, done.stderr)
        assert message in done.stderr and "Traceback" not in done.stderr
    assert run_cli(["merge"]).returncode == 2
    blocker = write(tmp_path, "file-not-dir", "x")
    done = run_cli(
        [
            "merge",
            str(split_runs / "sast" / "mlgate.json"),
            "--format",
            "json",
            "--output",
            str(blocker / "sub"),
        ]
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr


# --- receipts -----------------------------------------------------------------------------


def _head() -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


CHURN = EXAMPLES / "churn-model"  # verify reads the policy in force where it runs


@pytest.fixture(scope="session")
def receipt(churn_production: Path) -> Path:
    return churn_production / "receipt.json"


def test_receipt_of_a_passing_run(receipt: Path) -> None:
    data = json.loads(receipt.read_text())
    assert data["decision"] == "pass" and data["env"] == "production"
    assert data["commit"] == _head()
    assert data["gates"]["sast"]["tools"]["bandit"]
    assert data["digest"].startswith("sha256:")


def test_verify_accepts_only_the_right_commit_env_and_policy(receipt: Path, tmp_path: Path) -> None:
    head = _head()
    ok = run_cli(["verify", str(receipt), "--commit", head, "--env", "production"], cwd=CHURN)
    assert ok.returncode == 0, ok.stderr
    assert (
        run_cli(
            ["verify", str(receipt), "--commit", head[:10], "--env", "production"], cwd=CHURN
        ).returncode
        == 0
    )
    wrong = run_cli(
        ["verify", str(receipt), "--commit", "f" * 40, "--env", "production"], cwd=CHURN
    )
    assert wrong.returncode == 1 and "not " + "f" * 40 in wrong.stderr
    env = run_cli(["verify", str(receipt), "--commit", head, "--env", "staging"], cwd=CHURN)
    assert env.returncode == 1 and "environment" in env.stderr
    write(tmp_path, "p.yml", "extends: default\ndefaults:\n  fail_on: critical\n")
    policy = run_cli(
        [
            "verify",
            str(receipt),
            "--commit",
            head,
            "--env",
            "production",
            "--policy",
            str(tmp_path / "p.yml"),
        ],
        cwd=CHURN,
    )
    assert policy.returncode == 1 and "policy changed" in policy.stderr


@pytest.mark.parametrize(("field", "value"), [("decision", "pass"), ("commit", "a" * 40)])
def test_a_hand_edited_receipt_does_not_verify(
    receipt: Path, tmp_path: Path, field: str, value: str
) -> None:
    data = json.loads(receipt.read_text())
    if field == "decision":  # flip a gate and keep the decision: still an edit
        data["gates"]["sast"]["status"] = "fail"
    data[field] = value
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(data))
    done = run_cli(
        ["verify", str(edited), "--commit", data["commit"], "--env", "production"], cwd=CHURN
    )
    assert done.returncode == 1
    assert "digest does not match" in done.stderr


def test_receipt_with_a_missing_field_exits_2(receipt: Path, tmp_path: Path) -> None:
    data = json.loads(receipt.read_text())
    del data["policy_digest"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    done = run_cli(["verify", str(bad), "--commit", "a" * 40, "--env", "production"])
    assert done.returncode == 2 and "missing policy_digest" in done.stderr


def test_blocked_run_writes_no_receipt(split_runs: Path) -> None:
    assert not (split_runs / "full" / "receipt.json").exists()


# --- the cores behind `merge` and `verify`: data in, data out, nothing printed ------------


def test_merge_core_returns_the_report_the_command_writes(
    split_runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlgate.merge import MergeOptions, load_reports, merge_reports
    from mlgate.policy import Outcome

    paths = [split_runs / g / "mlgate.json" for g in _gates(split_runs)]
    merged = merge_reports(MergeOptions(tuple(load_reports(paths)), REPO_ROOT))
    decision = merged.report.decision
    assert decision.outcome is Outcome.BLOCKED and decision.exit_code == 1
    assert merged.report.mode == {"kind": "merge", "inputs": [str(p) for p in paths]}
    full = json.loads((split_runs / "full" / "mlgate.json").read_text())
    assert sorted(r.gate for r in merged.report.run.results) == sorted(
        g["name"] for g in full["gates"]
    )
    assert capsys.readouterr() == ("", "")


def test_verify_core_lists_every_problem(
    receipt: Path, receipt_keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from mlgate.receipt import VerifyOptions, verify

    head = _head()
    ok = verify(VerifyOptions(receipt, head, "production", CHURN, public_keys=(receipt_keys[1],)))
    assert ok.allowed and ok.signed and ok.problems == ()
    assert ok.receipt["commit"] == head
    refused = verify(VerifyOptions(receipt, "f" * 40, "staging", CHURN))
    assert not refused.allowed and not refused.signed
    assert any("not " + "f" * 40 in p for p in refused.problems)
    assert any("environment 'production', not 'staging'" in p for p in refused.problems)
    assert capsys.readouterr() == ("", "")
