"""mlgate's own workflow is held to the standard of the ones it generates."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from .conftest import REPO_ROOT, run_cli

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "ci.yml"
BIN = Path(sys.executable).parent


def _tool(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{BIN}:/usr/bin:/bin"}
    return subprocess.run(
        [str(BIN / argv[0]), *argv[1:]],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=300,
    )


def test_own_workflow_is_valid_pinned_and_clean() -> None:
    text = WORKFLOW.read_text()
    for ref in re.findall(r"uses:\s*(\S+)", text):
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref), ref
    assert "permissions: {}" in text and "persist-credentials: false" in text
    assert (
        _tool(
            "check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)
        ).returncode
        == 0
    )
    lint = _tool("actionlint", str(WORKFLOW))
    assert lint.returncode == 0, lint.stdout
    audit = _tool("zizmor", "--offline", "--persona", "pedantic", str(WORKFLOW))
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_self_scan_passes_under_its_policy() -> None:
    done = run_cli(
        [
            "run",
            str(REPO_ROOT),
            "sast",
            "secrets",
            "models",
            "--env",
            "production",
            "--policy",
            str(REPO_ROOT / ".github" / "mlgate-self-policy.yml"),
            "--quiet",
        ]
    )
    assert done.returncode == 0, done.stdout[-3000:]
