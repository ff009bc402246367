"""Class 6 of issue 12: configuration that hangs or crashes is a configuration error (exit 2)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import run_cli, write


def bomb(levels: int = 9, width: int = 9) -> str:
    """A "billion laughs" document: width**levels nodes after alias expansion."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for i in range(1, levels + 1):
        refs = ", ".join([f"*l{i - 1}"] * width)
        lines.append(f"l{i}: &l{i} [{refs}]")
    return "\n".join(lines) + "\n"


POLICY_CASES = [
    ("bomb", bomb(), "aliases expand to more than"),
    ("ten-megabytes", "# padding\n" * 1_000_000, "larger than"),
    ("duplicate-key", "defaults:\n  fail_on: high\n  fail_on: none\n", "duplicate key 'fail_on'"),
    ("nan-timeout", "defaults:\n  timeout: .nan\n", "not a finite number"),
    ("inf-timeout", "defaults:\n  timeout: .inf\n", "not a finite number"),
    (
        "impossible-date",
        "waivers:\n  - rule: B301\n    reason: reviewed\n    owner: me\n    expires: 2026-02-30\n",
        "not a date",
    ),
    ("recursive-alias", "defaults: &d\n  x: *d\n", "refers to itself"),
    ("deep-nesting", "a: " + "[" * 5000 + "]" * 5000 + "\n", "nested deeper"),
    ("not-utf8", "defaults:\n  fail_on: h\xe9gh\n", "not UTF-8"),
]


@pytest.mark.parametrize(
    ("name", "text", "message"), POLICY_CASES, ids=[c[0] for c in POLICY_CASES]
)
def test_hostile_policy_is_a_config_error(
    tmp_path: Path, name: str, text: str, message: str | None
) -> None:
    path = tmp_path / ".mlgate" / "policy.yml"
    path.parent.mkdir()
    path.write_bytes(text.encode("latin-1") if name == "not-utf8" else text.encode())
    started = time.monotonic()
    done = run_cli(["policy", "check", "--path", str(tmp_path)])
    assert time.monotonic() - started < 60  # a hang guard: about 1.5 s untraced, quiet
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    if message is None:
        assert done.returncode in (0, 2)
        return
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr and "policy.yml" in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 2  # the error and perhaps a hint


def test_duplicate_keys_name_both_lines(tmp_path: Path) -> None:
    write(tmp_path, ".mlgate.yml", "exclude: [a]\nsast:\n  rule_pack: true\nexclude: [b]\n")
    done = run_cli(["policy", "check", "--path", str(tmp_path)])
    assert done.returncode == 2
    assert ".mlgate.yml:4" in done.stderr and "first at line 1, again at line 4" in done.stderr


CONFIG_CASES = [
    ("bomb", bomb(), "aliases expand to more than"),
    ("absolute-mlflow-glob", "model:\n  mlflow_run: /srv/mlruns/*/*\n", ".mlgate.yml:2"),
    ("bad-doublestar", "data:\n  datasets:\n    - path: data/**.csv\n", "`**` must be a whole"),
    ("dotdot-glob", "data:\n  datasets:\n    - path: data/../../*.csv\n", "leaves"),
    ("nan-option", "data:\n  psi: .nan\n", "not a finite number"),
]


@pytest.mark.parametrize(
    ("name", "text", "message"), CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES]
)
def test_hostile_config_is_exit_2_before_any_gate(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    write(tmp_path, ".mlgate.yml", text)
    write(tmp_path, "data/x.csv", "a\n1\n")
    done = run_cli(["run", str(tmp_path), "model", "data", "--format", "json"])
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr and "internal error" not in done.stderr
    assert not done.stdout
