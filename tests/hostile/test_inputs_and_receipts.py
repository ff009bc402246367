"""Classes 7 and 10 of issue 12: inputs from other runs, and receipts that vouch for what
was checked.

`merge` and `verify` validate a json report or receipt against the published schema before
using it (exit 2 naming the file and the field, never an internal error). A receipt says
whether the scanned tree was the commit alone; `verify` needs --commit and --env, refuses a
dirty-tree receipt unless --allow-dirty, and refuses a receipt that lacks a gate the policy
requires for the environment.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from mlgate import __version__
from mlgate.gates import GATES
from mlgate.receipt import content_digest, coverage_problems
from tests.conftest import git_init, run_cli, write

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def report(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema_version": 1,
        "mlgate_version": __version__,
        "commit": COMMIT,
        "git": True,
        "clean": True,
        "started_at": "2026-01-01T00:00:00+00:00",
        "seconds": 1.0,
        "gates": [{"name": g, "status": "pass", "tools": {}, "errors": []} for g in GATES],
        "findings": [
            {
                "gate": "sast",
                "tool": "bandit",
                "rule_id": "B301",
                "severity": "low",
                "message": "pickle",
                "path": "a.py",
                "line": 3,
                "fingerprint": "f" * 32,
            }
        ],
        "notes": [],
    }
    data.update(changes)
    return data


def _set(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    *parents, last = path.split("/")
    target: Any = data
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    target[int(last) if isinstance(target, list) else last] = value
    return data


BAD_REPORTS = [
    ("gates", "sast"),
    ("gates/0", "sast"),
    ("gates/0/tools", ["bandit"]),
    ("gates/0/errors", "crashed"),
    ("gates/0/seconds", "fast"),
    ("gates/0/files_scanned", -3),
    ("findings", {"a": 1}),
    ("findings/0", "B301"),
    ("findings/0/line", "three"),
    ("findings/0/severity", "catastrophic"),
    ("findings/0/properties", [1, 2]),
    ("findings/0/also_reported_by", "semgrep"),
    ("notes", [1]),
    ("seconds", None),
    ("commit", 12345),
    ("mode", {"shard": "1"}),  # not I/N: was an internal error in the shard check
]


@pytest.mark.parametrize(("field", "value"), BAD_REPORTS, ids=[b[0] for b in BAD_REPORTS])
def test_merge_names_the_file_and_field_of_a_malformed_report(
    tmp_path: Path, field: str, value: Any
) -> None:
    path = write(tmp_path, "in/mlgate.json", json.dumps(_set(report(), field, value)))
    done = run_cli(["merge", str(path), "--env", "production"], cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "internal error" not in done.stderr
    assert str(path) in done.stderr and f"field {field}" in done.stderr, done.stderr


def test_a_valid_report_still_merges(tmp_path: Path) -> None:
    path = write(tmp_path, "in/mlgate.json", json.dumps(report()))
    done = run_cli(["merge", str(path), "--env", "production"], cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def receipt(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "mlgate-receipt",
        "mlgate_version": __version__,
        "commit": COMMIT,
        "clean": True,
        "policy_digest": "x",
        "policy_source": "default",
        "env": "production",
        "gates": {g: {"status": "pass", "tools": {}} for g in GATES},
        "decision": "pass",
        "created_at": "2026-01-01T00:00:00+00:00",
    }
    body.update(changes)
    return {**body, "digest": content_digest(body)}


BAD_RECEIPTS = [
    ("gates", ["sast"]),
    ("gates/sast", "pass"),
    ("gates/sast/status", 1),
    ("decision", True),
    ("digest", 7),
    ("clean", "yes"),
]


@pytest.mark.parametrize(("field", "value"), BAD_RECEIPTS, ids=[b[0] for b in BAD_RECEIPTS])
def test_verify_names_the_field_of_a_malformed_receipt(
    tmp_path: Path, field: str, value: Any
) -> None:
    path = write(tmp_path, "receipt.json", json.dumps(_set(receipt(), field, value)))
    done = run_cli(["verify", str(path), "--commit", COMMIT, "--env", "production"], cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "internal error" not in done.stderr
    assert f"field {field}" in done.stderr, done.stderr


@pytest.mark.parametrize("missing", ["--commit", "--env"])
def test_verify_needs_commit_and_env(tmp_path: Path, missing: str) -> None:
    path = write(tmp_path, "receipt.json", json.dumps(receipt()))
    args = {"--commit": COMMIT, "--env": "production"}
    del args[missing]
    done = run_cli(["verify", str(path), *[x for kv in args.items() for x in kv]], cwd=tmp_path)
    assert done.returncode == 2 and missing in done.stderr
    assert "receipt verified" not in done.stdout


def test_a_receipt_must_hold_every_gate_the_environment_requires() -> None:
    only_sast = receipt(gates={"sast": {"status": "pass", "tools": {}}})
    problems = coverage_problems(only_sast, ["sast", "secrets", "deps"])
    assert problems == [
        "gates the policy requires for this environment are not in the receipt: secrets, deps"
    ]
    assert coverage_problems(receipt(), list(GATES)) == []


def test_a_dirty_tree_receipt_needs_allow_dirty() -> None:
    assert coverage_problems(receipt(clean=False), [])[0].startswith("the scan covered")
    assert coverage_problems(receipt(clean=False), [], allow_dirty=True) == []
    legacy = receipt()
    del legacy["clean"]  # a receipt that does not say is not vouching for a clean tree
    assert coverage_problems(legacy, [])


POLICY = """\
extends: default
gates:
  sast: {enabled: false}
  models: {enabled: false}
  deps: {enabled: false}
  data: {enabled: false}
  model: {enabled: false}
"""


@pytest.mark.slow
def test_end_to_end_partial_and_dirty_tree_receipts_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(root, ".mlgate/policy.yml", POLICY)
    write(root, "app.py", "print('hello')\n")
    git_init(root)
    head = run_cli(["run", str(root), "--env", "production", "--output", str(tmp_path / "a")])
    assert head.returncode == 0, head.stdout + head.stderr
    clean = json.loads((tmp_path / "a" / "receipt.json").read_text())
    assert clean["clean"] is True and set(clean["gates"]) == {"secrets"}
    commit = clean["commit"]
    verify = ["verify", "--commit", commit, "--env", "production"]
    assert run_cli([*verify, str(tmp_path / "a" / "receipt.json")], cwd=root).returncode == 0
    # an uncommitted edit: the receipt says so, and verify refuses it unless --allow-dirty
    write(root, "app.py", "print('edited, not committed')\n")
    run_cli(["run", str(root), "--env", "production", "--output", str(tmp_path / "b")])
    dirty = tmp_path / "b" / "receipt.json"
    assert json.loads(dirty.read_text())["clean"] is False
    refused = run_cli([*verify, str(dirty)], cwd=root)
    assert refused.returncode == 1 and "uncommitted or untracked" in refused.stderr
    assert run_cli([*verify, "--allow-dirty", str(dirty)], cwd=root).returncode == 0
    # the default policy requires more gates than this receipt holds
    elsewhere = run_cli([*verify, str(tmp_path / "a" / "receipt.json")], cwd=tmp_path)
    assert elsewhere.returncode == 1
    assert "not in the receipt: sast, deps, models, data, model" in elsewhere.stderr
