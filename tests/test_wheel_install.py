"""Issue 10's "done when", with a wheel built from this checkout in fresh virtual environments.

- A bare install (`mlgate` and its own dependencies, nothing else) runs `mlgate run
  examples/insecure-ml` with the pinned scanners and blocks with exactly the findings of the
  suite's own run (the `insecure_run` fixture): same rules, files, lines and fingerprints.
- An environment that also holds mlflow (mlflow-skinny, the client) with old protobuf,
  opentelemetry and click still runs the pinned semgrep: its sast gate blocks on a finding
  only semgrep's rule pack reports, with semgrep's pinned version recorded.

Both reuse the session's pinned tool environments (`MLGATE_TOOLS_DIR`), so they check that
the installed wheel finds and uses them; installing them on first use is covered with a fake
index in test_toolenv.py (test_install_creates_a_verified_env_and_path_prints_it,
test_offline_missing_tool_is_a_gate_error, ...). The venvs are made and filled with uv
(`uv pip install`, pip's semantics, from uv's cache when warm).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlgate.toollock import PACKAGE_LOCK, load_lock

from .conftest import EXAMPLES, git_init, write

pytestmark = pytest.mark.slow

OLD_STACK = ("mlflow-skinny", "protobuf==3.20.3", "opentelemetry-api==1.16.0", "click==8.1.3")


def _uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert found, "the tests need uv (scripts/test.sh installs it into .venv)"
    return found


def _venv(folder: Path, wheel: Path, *extra: str) -> Path:
    """A fresh venv holding the wheel (and `extra`); its bin folder."""
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    subprocess.run(
        [_uv(), "venv", "-q", "--python", sys.executable, str(folder)],
        check=True,
        env=env,
        timeout=300,
    )
    python = folder / "bin" / "python"
    done = subprocess.run(
        [_uv(), "pip", "install", "-q", "--python", str(python), str(wheel), *extra],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    return folder / "bin"


def _installed(bin_dir: Path) -> dict[str, str]:
    probe = (
        "import importlib.metadata as m, json;"
        "print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions()}))"
    )
    done = subprocess.run(
        [str(bin_dir / "python"), "-c", probe], capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout))


def _run(bin_dir: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    """`mlgate run ...` from the venv, with nothing of the test environment on PATH."""
    here = str(Path(sys.executable).parent)
    path = [str(bin_dir), *(p for p in os.environ["PATH"].split(os.pathsep) if p != here)]
    env = {**os.environ, "PATH": os.pathsep.join(path), "NO_COLOR": "1"}
    for name in ("VIRTUAL_ENV", "MLGATE_TOOLS", "MLGATE_ADVISORY_DB", "GITHUB_STEP_SUMMARY"):
        env.pop(name, None)
    done = subprocess.run(
        [str(bin_dir / "mlgate"), "run", *args, "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=900,
    )
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


def _findings(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted(
        (f["gate"], f["tool"], f["rule_id"], f["path"] or "", f["line"] or 0, f["fingerprint"])
        for f in report["findings"]
    )


def _pinned() -> dict[str, str]:
    return {name: tool.version for name, tool in load_lock(PACKAGE_LOCK).tools.items()}


def test_bare_wheel_install_blocks_like_the_suite(
    wheel: Path,
    tmp_path: Path,
    advisory_db: Path,
    insecure_run: tuple[int, dict[str, Any], str],
) -> None:
    bin_dir = _venv(tmp_path / "venv", wheel)
    installed = _installed(bin_dir)
    assert installed["mlgate"]
    assert not {"bandit", "semgrep", "pip-audit"} & set(installed)  # no scanner beside mlgate
    code, report, err = _run(
        bin_dir, str(EXAMPLES / "insecure-ml"), "--advisory-db", str(advisory_db), "--no-cache"
    )
    suite_code, suite, _ = insecure_run
    assert code == suite_code == 1, err
    assert _findings(report) == _findings(suite)
    assert {g["name"]: g["status"] for g in report["gates"]} == {
        g["name"]: g["status"] for g in suite["gates"]
    }
    pinned = _pinned()
    for tool in ("bandit", "semgrep", "detect-secrets"):
        assert report["tools"][tool]["version"] == pinned[tool]
        assert report["tools"][tool]["source"] == "pinned"
    assert "installing" not in err  # the session's environments were found and used


SEMGREP_ONLY = """\
import torch


def load(path):
    return torch.load(path)
"""


def test_old_protobuf_opentelemetry_click_do_not_touch_the_pinned_semgrep(
    wheel: Path, tmp_path: Path
) -> None:
    bin_dir = _venv(tmp_path / "venv", wheel, *OLD_STACK)
    installed = _installed(bin_dir)
    assert installed["protobuf"] == "3.20.3" and installed["opentelemetry-api"] == "1.16.0"
    assert installed["click"] == "8.1.3" and "mlflow-skinny" in installed
    assert "semgrep" not in installed
    repo = tmp_path / "repo"
    write(repo, "model_io.py", SEMGREP_ONLY)
    git_init(repo)
    code, report, err = _run(bin_dir, str(repo), "sast")
    (sast,) = report["gates"]
    assert sast["status"] == "fail" and code == 1, err
    found = [(f["tool"], f["rule_id"]) for f in report["findings"]]
    assert any(tool == "semgrep" and "torch" in rule for tool, rule in found), found
    assert sast["tools"]["semgrep"] == _pinned()["semgrep"]
    assert report["tools"]["semgrep"]["source"] == "pinned"
