"""Every git command mlgate runs goes through here: one time limit, one error type.

git runs like any other tool (`tools.run_tool`: argv only, its own session, killed on a
timeout or a signal). `output` raises `GitError` when git could not run or failed;
`output_or_none` is for questions whose "no" is an answer (not a work tree, no such
branch); `run` hands back the raw `ToolRun` for callers that word their own errors.
"""

from __future__ import annotations

from pathlib import Path

from mlgate.tools import ToolRun, run_tool, run_tool_measured

# One policy for every git command: long enough for `ls-files` over a large monorepo or
# `cat-file` of a large blob, short enough that a hung git (a credential prompt, a lock)
# ends the run instead of hanging it.
TIMEOUT = 120.0


class GitError(Exception):
    """A git command that could not run or failed. `detail` is git's last line of stderr
    (or why it could not run); the message names the command."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


def run(root: Path, *args: str) -> ToolRun:
    """`git ARGS` in `root`, whatever its outcome."""
    return run_tool(["git", *args], TIMEOUT, cwd=root)


def output(root: Path, *args: str) -> str:
    """The stdout of `git ARGS` in `root`; GitError when it could not run or exited non-zero."""
    done = run(root, *args)
    if not done.ok or done.returncode != 0:
        lines = (done.stderr or done.problem or "").strip().splitlines()
        raise GitError(f"git {args[0]}: {done.describe()}", lines[-1] if lines else "")
    return done.stdout


def output_or_none(root: Path, *args: str) -> str | None:
    """The stripped stdout of `git ARGS`, or None when it failed or printed nothing."""
    try:
        return output(root, *args).strip() or None
    except GitError:
        return None


def copy_blob(root: Path, obj: str, dest: Path) -> ToolRun:
    """`git cat-file blob OBJ` written to `dest` byte for byte (binary blobs too)."""
    return run_tool_measured(
        ["git", "cat-file", "blob", obj], TIMEOUT, cwd=root, stdout_path=dest
    ).run
