"""The pre-push hook, with real git pushes to a bare repository on disk."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import EXAMPLES, git_init, run_cli, write


def _git(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


def _project(tmp_path: Path, example: str) -> Path:
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    assert _git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote)).returncode == 0
    shutil.copytree(EXAMPLES / example, work)
    git_init(work)
    _git(work, "remote", "add", "origin", str(remote))
    return work


def test_install_writes_an_executable_hook_and_uninstall_removes_it(tmp_path: Path) -> None:
    git_init(tmp_path)
    done = run_cli(["hook", "install", "--path", str(tmp_path)])
    assert done.returncode == 0, done.stderr
    hook = tmp_path / ".git" / "hooks" / "pre-push"
    assert os.access(hook, os.X_OK) and "mlgate-hook" in hook.read_text()
    assert run_cli(["hook", "install", "--path", str(tmp_path)]).returncode == 0  # ours: updated
    assert run_cli(["hook", "uninstall", "--path", str(tmp_path)]).returncode == 0
    assert not hook.exists()


def test_foreign_hook_is_refused_replaced_or_chained(tmp_path: Path) -> None:
    git_init(tmp_path)
    hook = tmp_path / ".git" / "hooks" / "pre-push"
    write(tmp_path, ".git/hooks/pre-push", "#!/bin/sh\necho theirs\n")
    refused = run_cli(["hook", "install", "--path", str(tmp_path)])
    assert refused.returncode == 2 and "--chain" in refused.stderr
    assert "theirs" in hook.read_text()
    chained = run_cli(["hook", "install", "--chain", "--path", str(tmp_path)])
    assert chained.returncode == 0
    assert "theirs" in (hook.parent / "pre-push.mlgate-chained").read_text()
    assert run_cli(["hook", "uninstall", "--path", str(tmp_path)]).returncode == 0
    assert "theirs" in hook.read_text()  # restored
    assert (
        run_cli(["hook", "uninstall", "--path", str(tmp_path)]).returncode == 2
    )  # foreign: left alone
    assert run_cli(["hook", "install", "--force", "--path", str(tmp_path)]).returncode == 0
    assert "mlgate-hook" in hook.read_text()


def test_core_hooks_path_is_respected(tmp_path: Path) -> None:
    git_init(tmp_path)
    _git(tmp_path, "config", "core.hooksPath", "githooks")
    assert run_cli(["hook", "install", "--path", str(tmp_path)]).returncode == 0
    assert (tmp_path / "githooks" / "pre-push").is_file()


def test_not_a_git_repo(tmp_path: Path) -> None:
    done = run_cli(["hook", "install", "--path", str(tmp_path)])
    assert done.returncode == 2 and "not a git repository" in done.stderr


@pytest.mark.parametrize("mode", ["full", "changed"])
def test_hook_blocks_an_insecure_push(tmp_path: Path, advisory_db: Path, mode: str) -> None:
    work = _project(tmp_path, "insecure-ml")
    assert run_cli(["hook", "install", "--mode", mode, "--path", str(work)]).returncode == 0
    env = {"MLGATE_ADVISORY_DB": str(advisory_db), "MLGATE_CACHE_DIR": str(tmp_path / "cache")}
    push = _git(work, "push", "-u", "origin", "main", env=env)
    assert push.returncode != 0, push.stderr
    assert "mlgate blocked this push" in push.stderr and "--no-verify" in push.stderr
    assert _git(tmp_path / "remote.git", "rev-parse", "--verify", "main").returncode != 0
    forced = _git(work, "push", "--no-verify", "-u", "origin", "main", env=env)
    assert forced.returncode == 0


def test_hook_lets_a_clean_push_through(tmp_path: Path, advisory_db: Path) -> None:
    work = _project(tmp_path, "churn-model")
    assert run_cli(["hook", "install", "--path", str(work)]).returncode == 0
    env = {"MLGATE_ADVISORY_DB": str(advisory_db), "MLGATE_CACHE_DIR": str(tmp_path / "cache")}
    push = _git(work, "push", "-u", "origin", "main", env=env)
    assert push.returncode == 0, push.stdout + push.stderr
    assert _git(tmp_path / "remote.git", "rev-parse", "--verify", "main").returncode == 0
