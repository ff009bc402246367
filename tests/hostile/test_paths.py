"""Class 8 of issue 12: file names that are not UTF-8 and paths that cannot be read.

A name that is not valid UTF-8 used to crash the models gate (UnicodeEncodeError while
fingerprinting) and make semgrep silently scan nothing (it mangles the name), so sast
passed. An unreadable file was skipped silently by the secrets gate; an unreadable
directory was mentioned nowhere. Now both are scanned or reported (`unreadable-path`)."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli, write

PICKLE_CODE = "import pickle\n\n\ndef load(blob):\n    return pickle.loads(blob)\n"
AWS_KEY = 'aws_access_key_id = "AKIAIOSFODNN7EXAMPLQ"\n'  # pragma: allowlist secret


class _Exploit:
    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, ("echo pwned",))


def _findings(report: dict[str, Any], gate: str) -> set[tuple[str, str]]:
    return {(f["rule_id"], f["path"]) for f in report["findings"] if f["gate"] == gate}


@pytest.mark.slow
def test_non_utf8_file_names_are_scanned_and_reported(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / os.fsdecode(b"loader_\xff.py")).write_text(PICKLE_CODE, encoding="utf-8")
    (root / os.fsdecode(b"model_\xfe.pkl")).write_bytes(pickle.dumps(_Exploit()))
    write(root, "ok.py", "x = 1\n")
    out = tmp_path / "out"
    args = ["run", str(root), "sast", "models", "secrets", "--no-cache", "--quiet"]
    done = run_cli([*args, "--format", "json", "--format", "sarif", "--output", str(out)])
    assert done.returncode == 1, done.stdout + done.stderr
    assert "internal error" not in done.stdout + done.stderr
    report = json.loads((out / "mlgate.json").read_text(encoding="utf-8"))
    assert ("ml-pickle-load", "loader_\\xff.py") in _findings(report, "sast")
    assert ("pickle-dangerous-global", "model_\\xfe.pkl") in _findings(report, "models")
    assert all(not g["errors"] for g in report["gates"]), report["gates"]
    json.loads((out / "mlgate.sarif").read_text(encoding="utf-8"))


def _unprivileged() -> list[str]:
    """A prefix that runs mlgate without root's power to read anything (CAP_DAC_*)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    assert setpriv, "running as root: setpriv (util-linux) is needed to drop CAP_DAC_*"
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


@pytest.mark.slow
def test_unreadable_files_and_directories_are_findings(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(root, "secret.txt", AWS_KEY)
    write(root, "hidden.py", PICKLE_CODE)
    write(root, "locked/inner.py", PICKLE_CODE)
    write(root, "ok.py", "x = 1\n")
    for rel in ("secret.txt", "hidden.py", "locked"):
        (root / rel).chmod(0)
    try:
        argv = [*_unprivileged(), sys.executable, "-m", "mlgate", "run", str(root)]
        argv += ["sast", "secrets", "--no-cache", "--quiet", "--format", "json"]
        env = {**os.environ, "NO_COLOR": "1"}
        done = subprocess.run(
            argv, check=False, capture_output=True, text=True, env=env, timeout=600
        )
    finally:
        for rel in ("secret.txt", "hidden.py", "locked"):
            (root / rel).chmod(0o755)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    rule = "unreadable-path"
    assert {(rule, "secret.txt"), (rule, "hidden.py"), (rule, "locked/")} <= _findings(
        report, "secrets"
    )
    assert {(rule, "hidden.py"), (rule, "locked/")} <= _findings(report, "sast")
    assert all(not g["errors"] for g in report["gates"]), report["gates"]
