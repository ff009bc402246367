"""`generate --check`: how the committed pipeline differs from what mlgate would generate."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlgate.generate.files import read_existing


@dataclass(frozen=True)
class Drift:
    """One file that differs: its path and a unified diff (committed -> generated)."""

    path: str
    diff: str


def find_drift(root: Path, rendered: Mapping[str, str], stale: Sequence[str] = ()) -> list[Drift]:
    """Files that are missing or differ, and generated files no longer generated (stale)."""
    found = []
    for path, text in rendered.items():
        committed = read_existing(root, path)
        if committed != text:
            found.append(Drift(path, _diff(path, committed, text)))
    for path in stale:
        found.append(Drift(path, _diff(path, read_existing(root, path), None)))
    return found


def _diff(path: str, before: str | None, after: str | None) -> str:
    lines = difflib.unified_diff(
        (before or "").splitlines(keepends=True),
        (after or "").splitlines(keepends=True),
        fromfile=f"{path} (committed)" if before is not None else "/dev/null",
        tofile=f"{path} (generated)" if after is not None else "/dev/null",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
