"""What kind of project the dependency files describe: `locked`, `library` or `app`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mlgate.deps.sources import is_lock_file

LOCKED, LIBRARY, APP = "locked", "library", "app"


def project_kind(root: Path, files: Sequence[str]) -> str:
    """`locked` (a lock file or a hashed requirements file), `library` (a build system at the
    root: `[build-system]` in pyproject.toml, or setup.py/setup.cfg, and no lock), else `app`."""
    if any(is_lock_file(f) or _hashed(root, f) for f in files):
        return LOCKED
    pyproject = root / "pyproject.toml"
    try:
        declares = "[build-system]" in pyproject.read_text(encoding="utf-8", errors="replace")
    except OSError:
        declares = False
    if declares or (root / "setup.py").is_file() or (root / "setup.cfg").is_file():
        return LIBRARY
    return APP


def _hashed(root: Path, rel: str) -> bool:
    if not rel.endswith(".txt"):
        return False
    try:
        return "--hash=" in (root / rel).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
