"""`mlgate.git` is the one place git runs: one time limit, one error type."""

from __future__ import annotations

import ast
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from mlgate import git
from mlgate.tools import watching_commands

SRC = Path(__file__).resolve().parents[1] / "src" / "mlgate"


def _init(root: Path) -> None:
    for args in (["init", "-q", "-b", "main"], ["config", "user.email", "t@example.com"]):
        subprocess.run(["git", *args], cwd=root, check=True)
    subprocess.run(["git", "config", "user.name", "t"], cwd=root, check=True)
    (root / "a.txt").write_text("a\n", encoding="utf-8")
    subprocess.run(["git", "add", "a.txt"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "a"], cwd=root, check=True)


def test_output_runs_git_with_the_exact_arguments(tmp_path: Path) -> None:
    _init(tmp_path)
    seen: list[Sequence[str]] = []
    with watching_commands(seen.append):
        head = git.output(tmp_path, "rev-parse", "HEAD").strip()
    assert len(head) == 40
    assert [list(argv[1:]) for argv in seen] == [["rev-parse", "HEAD"]]
    assert Path(seen[0][0]).name == "git"


def test_a_failing_command_is_a_git_error_with_gits_words(tmp_path: Path) -> None:
    _init(tmp_path)
    with pytest.raises(git.GitError) as caught:
        git.output(tmp_path, "merge-base", "HEAD", "no-such-ref")
    assert caught.value.message.startswith("git merge-base: ")
    assert "no-such-ref" in caught.value.detail
    assert git.output_or_none(tmp_path, "rev-parse", "--verify", "--quiet", "nope") is None


def test_copy_blob_writes_the_bytes(tmp_path: Path) -> None:
    _init(tmp_path)
    dest = tmp_path / "out" / "a.txt"
    dest.parent.mkdir()
    run = git.copy_blob(tmp_path, "HEAD:a.txt", dest)
    assert run.ok and run.returncode == 0
    assert dest.read_bytes() == b"a\n"


def _git_argv_literals(path: Path) -> list[int]:
    """Lines of list/tuple literals whose first element is the string "git" (a command line)."""
    text = path.read_text(encoding="utf-8")
    if '"git"' not in text and "'git'" not in text:
        return []  # (parsing only the files that could hold one keeps the scan fast)
    tree = ast.parse(text)
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, (ast.List, ast.Tuple))
        and node.elts
        and isinstance(node.elts[0], ast.Constant)
        and node.elts[0].value == "git"
    ]


def test_no_module_but_git_py_builds_a_git_command_line() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{line}"
        for path in sorted(SRC.rglob("*.py"))
        if path.name != "git.py" or path.parent != SRC
        for line in _git_argv_literals(path)
    ]
    assert offenders == []


def test_the_guard_catches_a_git_command_line(tmp_path: Path) -> None:
    path = tmp_path / "x.py"
    path.write_text('run_tool(["git", "status"], 60)\n', encoding="utf-8")
    assert _git_argv_literals(path) == [1]
