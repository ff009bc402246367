"""Files as they were at a git ref (`git:REF` or `git:REF:path`), read without a checkout.

The data gate reads drift references and the model gate reads metric baselines this way;
this module is the one place that calls `git rev-parse` / `git cat-file` for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlgate.tools import run_tool, run_tool_measured

PREFIX = "git:"
GIT_TIMEOUT = 120.0


class GitRefError(Exception):
    """A ref or a path at a ref that cannot be read; the message says which and why."""


@dataclass(frozen=True)
class GitRef:
    """`git:REF` (path None: the caller's own file at REF) or `git:REF:path`."""

    ref: str
    path: str | None

    def at(self, path: str) -> GitRef:
        return GitRef(self.ref, self.path or path)

    def label(self) -> str:
        return f"{PREFIX}{self.ref}" + (f":{self.path}" if self.path else "")


def parse(text: str) -> GitRef | None:
    """A `git:` reference, or None for a plain path. Refs cannot contain ':', paths can."""
    if not text.startswith(PREFIX):
        return None
    ref, _, path = text[len(PREFIX) :].partition(":")
    if not ref:
        raise GitRefError(f"{text!r}: empty git ref (write git:REF or git:REF:path)")
    return GitRef(ref, path.lstrip("/") or None)


def resolve(root: Path, ref: str) -> str:
    """The commit a ref names; GitRefError when it does not exist or root is not in git."""
    run = run_tool(
        ["git", "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"],
        GIT_TIMEOUT,
        cwd=root,
    )
    if not run.ok:
        raise GitRefError(f"git: {run.describe()}")
    if run.returncode != 0 or not run.stdout.strip():
        raise GitRefError(f"git ref {ref!r} does not exist (or {root} is not in a git repository)")
    return run.stdout.strip()


def _object(commit: str, path: str) -> str:
    # `./` makes the path relative to the scanned directory, not the top of the work tree.
    return f"{commit}:./{path}"


def read_text(root: Path, ref: GitRef, commit: str | None = None) -> str:
    """The text of ref.path at ref.ref (at `commit` when the caller resolved it already)."""
    commit, path = _locate(root, ref, commit)
    run = run_tool(["git", "cat-file", "blob", _object(commit, path)], GIT_TIMEOUT, cwd=root)
    _check(run.ok, run.returncode, run.describe(), ref, path)
    return run.stdout


def copy_to(root: Path, ref: GitRef, dest: Path, commit: str | None = None) -> Path:
    """Write ref.path at ref.ref to dest byte for byte (binary files such as Parquet too)."""
    commit, path = _locate(root, ref, commit)
    dest.parent.mkdir(parents=True, exist_ok=True)
    measured = run_tool_measured(
        ["git", "cat-file", "blob", _object(commit, path)], GIT_TIMEOUT, cwd=root, stdout_path=dest
    )
    run = measured.run
    _check(run.ok, run.returncode, run.describe(), ref, path)
    return dest


def _locate(root: Path, ref: GitRef, commit: str | None) -> tuple[str, str]:
    if not ref.path:
        raise GitRefError(f"{ref.label()}: no path (write git:REF:path)")
    return commit or resolve(root, ref.ref), ref.path


def _check(ok: bool, code: int | None, description: str, ref: GitRef, path: str) -> None:
    if not ok:
        raise GitRefError(f"git: {description}")
    if code != 0:
        raise GitRefError(f"{path} does not exist at git ref {ref.ref!r}")
