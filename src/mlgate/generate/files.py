"""Writing generated files: all or nothing, never over a file mlgate did not write."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from mlgate import atomic
from mlgate.generate.base import GenerateError

FILE_MODE = 0o644


def read_existing(root: Path, rel: str) -> str | None:
    """The text of a repo file, or None when there is none."""
    try:
        return (root / rel).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise GenerateError(f"{root / rel}: cannot read: {exc}") from None


def write_all(root: Path, files: Mapping[str, str], remove: Iterable[str] = ()) -> None:
    """Stage every file next to its target, then rename them all into place.

    A failure while staging leaves the repository untouched (the staged files are removed);
    only the renames, which do not fail on a healthy file system, come after it.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for rel, text in files.items():
            staged.append((_stage(root / rel, text), root / rel))
    except OSError as exc:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise GenerateError(f"cannot write into {root}: {exc}; nothing was written") from None
    for tmp, target in staged:
        os.replace(tmp, target)
    for rel in remove:
        (root / rel).unlink(missing_ok=True)


def _stage(target: Path, text: str) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    return atomic.stage(target, text, mode=FILE_MODE)
