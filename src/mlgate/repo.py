"""What files a repository has, and what git knows about it. Never imports or runs repo code."""

from __future__ import annotations

import fnmatch
import functools
import os
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from mlgate import git
from mlgate.errors import UsageError
from mlgate.tools import submit

# Directories that hold installed or generated code, never the repo's own.
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "site-packages",
        ".ipynb_checkpoints",
        ".dvc",
        "mlruns",
    }
)


@dataclass(frozen=True)
class Repo:
    """A scanned tree: its root, its files (repo-relative POSIX paths) and git facts."""

    root: Path
    files: tuple[str, ...]
    is_git: bool
    commit: str | None
    notes: tuple[str, ...] = field(default=())
    # Directories mlgate could not list (`dir/`): nothing under them was scanned.
    unreadable: tuple[str, ...] = field(default=())
    # Whether the scanned tree equals `commit` (no modified, staged or untracked file under
    # it); None outside git or when git could not tell.
    clean: bool | None = None

    def matching(self, patterns: Iterable[str]) -> list[str]:
        """Files whose path or base name matches one of the glob patterns."""
        pats = tuple(patterns)
        return [f for f in self.files if matches_any(f, pats)]


def matches_any(path: str, patterns: Sequence[str]) -> bool:
    """Whether the path or its base name matches one of the glob patterns (`fnmatchcase`)."""
    regex = _globs(tuple(patterns))
    if regex is None:
        return False
    return regex.match(path) is not None or regex.match(path.rsplit("/", 1)[-1]) is not None


@functools.lru_cache(maxsize=64)
def _globs(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    """The patterns as one regex (a run tests every file of the tree against each gate's
    patterns: one match, not one `fnmatchcase` call per pattern)."""
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))


def open_repo(path: Path, exclude: Sequence[str] = ()) -> Repo:
    """List the files of the tree at `path`, honouring .gitignore when it is a git work tree."""
    root = path.resolve()
    if not root.exists():
        raise UsageError(f"{path}: no such directory")
    if not root.is_dir():
        raise UsageError(f"{path}: not a directory")
    notes: list[str] = []
    unreadable: list[str] = []
    commit, clean = None, None
    # git answers its three questions while the tree is listed; outside a work tree (or
    # without git) `ls-files` fails, and the other two answers are not used.
    with ThreadPoolExecutor(max_workers=3) as pool:
        files_job = submit(pool, _git_files, root)
        commit_job = submit(pool, _git_commit, root)
        clean_job = submit(pool, _git_clean, root)
        walked = _walk(root, notes, unreadable)
        git_files = files_job.result()
        if git_files is not None:
            commit, clean = commit_job.result(), clean_job.result()
    if git_files is None:
        notes.append(
            "not a git repository: .gitignore is not applied, the commit is unknown, "
            "and --changed-only/--since are unavailable"
        )
        files = walked
    else:
        files = [f for f in walked if f in git_files]
    kept = sorted(f for f in files if not matches_any(f, exclude))
    return Repo(
        root,
        tuple(kept),
        git_files is not None,
        commit,
        tuple(notes),
        tuple(sorted(unreadable)),
        clean,
    )


def _walk(root: Path, notes: list[str], unreadable: list[str]) -> list[str]:
    """Every regular file under root; symlinked directories are not followed (no loops).
    Directories that cannot be listed go to `unreadable` (`dir/`). Top-down, subdirectories
    in name order, like `os.walk`; one `scandir` per directory and no path objects per file
    (a run lists every file of the tree)."""
    found: list[str] = []
    stack = [(str(root), "")]
    while stack:
        dirpath, prefix = stack.pop()
        try:
            with os.scandir(dirpath) as listing:
                entries = list(listing)
        except OSError:
            if prefix:
                unreadable.append(prefix)
            continue
        subdirs = []
        for entry in entries:
            if _is_dir(entry):
                if entry.name not in SKIP_DIRS and not entry.is_symlink():
                    subdirs.append(entry.name)
                continue
            rel = prefix + entry.name
            if entry.is_symlink() and not _safe_link(Path(entry.path), root):
                notes.append(
                    f"{rel}: skipped a symlink that loops or points outside the repository"
                )
                continue
            if entry.is_file():
                found.append(rel)
        for name in sorted(subdirs, reverse=True):
            stack.append((os.path.join(dirpath, name), f"{prefix}{name}/"))
    return found


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _safe_link(link: Path, root: Path) -> bool:
    try:
        target = link.resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    return target.is_relative_to(root)


def _git_files(root: Path) -> set[str] | None:
    """Tracked plus untracked-but-not-ignored files, or None when git cannot list them."""
    try:
        listing = git.output(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    except git.GitError:
        return None
    return {p for p in listing.split("\0") if p}


def _git_commit(root: Path) -> str | None:
    return git.output_or_none(root, "rev-parse", "HEAD")


def _git_clean(root: Path) -> bool | None:
    """Whether nothing under `root` differs from HEAD (untracked files count, ignored not)."""
    try:
        return not git.output(root, "status", "--porcelain", "--", ".").strip()
    except git.GitError:
        return None


def read_text(root: Path, rel: str) -> str:
    """A repo file as text; undecodable bytes are replaced, never fatal."""
    try:
        return (root / rel).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def changed_files(root: Path, since: str | None) -> tuple[str, tuple[str, ...]]:
    """Files changed relative to REF (default: the upstream branch): committed since the
    merge base, modified in the work tree, or new and not ignored. Returns (base, files)."""
    ref = since or "@{upstream}"
    try:
        commit = git.output(root, "merge-base", "HEAD", ref).strip()
    except git.GitError as exc:
        hint = "" if since else " (no upstream branch? use --since REF)"
        raise UsageError(
            f"cannot compare with {ref}: {exc.detail or 'unknown reference'}{hint}"
        ) from exc
    diff = git.run(root, "diff", "--relative", "--name-only", "-z", "--diff-filter=d", commit)
    new = git.run(root, "ls-files", "-z", "--others", "--exclude-standard")
    names = {p for run in (diff, new) if run.ok for p in run.stdout.split("\0") if p}
    return commit, tuple(sorted(names))
