"""Files as they were at a git ref (`git:REF` or `git:REF:path`), read without a checkout.

The data gate reads drift references and the model gate reads metric baselines this way;
the trusted configuration (`--trusted-config REF`) too. Every git command goes through
`mlgate.git`; a ref or a path that cannot be read is a `GitError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlgate import git
from mlgate.git import GitError

PREFIX = "git:"


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
        raise GitError(f"{text!r}: empty git ref (write git:REF or git:REF:path)")
    return GitRef(ref, path.lstrip("/") or None)


def resolve(root: Path, ref: str) -> str:
    """The commit a ref names; GitError when it does not exist or root is not in git."""
    run = git.run(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if not run.ok:
        raise GitError(f"git: {run.describe()}")
    if run.returncode != 0 or not run.stdout.strip():
        raise GitError(f"git ref {ref!r} does not exist (or {root} is not in a git repository)")
    return run.stdout.strip()


def _object(commit: str, path: str) -> str:
    # `./` makes the path relative to the scanned directory, not the top of the work tree.
    return f"{commit}:./{path}"


def read_text(root: Path, ref: GitRef, commit: str | None = None) -> str:
    """The text of ref.path at ref.ref (at `commit` when the caller resolved it already)."""
    commit, path = _locate(root, ref, commit)
    run = git.run(root, "cat-file", "blob", _object(commit, path))
    _check(run.ok, run.returncode, run.describe(), ref, path)
    return run.stdout


def copy_to(root: Path, ref: GitRef, dest: Path, commit: str | None = None) -> Path:
    """Write ref.path at ref.ref to dest byte for byte (binary files such as Parquet too)."""
    commit, path = _locate(root, ref, commit)
    dest.parent.mkdir(parents=True, exist_ok=True)
    run = git.copy_blob(root, _object(commit, path), dest)
    _check(run.ok, run.returncode, run.describe(), ref, path)
    return dest


def _locate(root: Path, ref: GitRef, commit: str | None) -> tuple[str, str]:
    if not ref.path:
        raise GitError(f"{ref.label()}: no path (write git:REF:path)")
    return commit or resolve(root, ref.ref), ref.path


def _check(ok: bool, code: int | None, description: str, ref: GitRef, path: str) -> None:
    if not ok:
        raise GitError(f"git: {description}")
    if code != 0:
        raise GitError(f"{path} does not exist at git ref {ref.ref!r}")
