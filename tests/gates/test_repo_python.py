"""The repository's own tests and predict command run in the repository's interpreter."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mlgate.gates.repotests import repo_python

from ..conftest import run_cli, write

TEST = """import pytest, sys

@pytest.mark.data
def test_which_python():
    print(sys.executable)
"""


def _wrapper(root: Path, name: str) -> Path:
    python = root / name / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    return python


def test_order_repo_venv_then_virtual_env_then_config(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    other = _wrapper(tmp_path / "elsewhere", "env")
    monkeypatch.setenv("VIRTUAL_ENV", str(other.parent.parent))
    repo = tmp_path / "repo"
    repo.mkdir()
    assert repo_python(repo, "python3.99") == (str(other), "$VIRTUAL_ENV")
    mine = _wrapper(repo, "venv")
    assert repo_python(repo) == (str(mine), "the repository's venv")
    monkeypatch.delenv("VIRTUAL_ENV")
    assert repo_python(tmp_path / "nothing", "/opt/py/bin/python") == (
        "/opt/py/bin/python",
        "test_python in .mlgate.yml",
    )


def test_data_tests_run_in_the_repo_venv_and_the_report_says_so(tmp_path: Path) -> None:
    write(tmp_path, "tests/test_d.py", TEST)
    write(tmp_path, "pytest.ini", "[pytest]\nmarkers =\n    data: data tests\n")
    python = _wrapper(tmp_path, ".venv")
    done = run_cli(["run", str(tmp_path), "data", "--format", "json"])
    report = json.loads(done.stdout)
    tests = report["gates"][0]["properties"]["tests"]
    assert tests["python"] == str(python), report
    assert tests["python_from"] == "the repository's .venv"
    assert tests["counts"]["passed"] == 1
