"""Dependency sources: one module per kind of dependency file, behind `DependencySource`.

`SOURCES` is the one registry: the same entries decide whether a path is a dependency file
(`source_for`, `is_dependency_file`, `is_lock_file`) and read it (`read_dependency_file`).
Order matters only for a file named explicitly: the first source that `reads_named` it wins,
and requirements (last) read whatever no other kind claims.
"""

from __future__ import annotations

import functools
from pathlib import Path, PurePosixPath

from mlgate.deps.sources.common import normalise
from mlgate.deps.sources.conda import CondaSource
from mlgate.deps.sources.interface import (
    LOCAL_OR_URL,
    DependencySource,
    DepFileProblem,
    Reading,
    Requirement,
)
from mlgate.deps.sources.locks import PackageLockSource, PyLockSource
from mlgate.deps.sources.pyproject import PyProjectSource
from mlgate.deps.sources.requirements import RequirementsSource
from mlgate.deps.sources.setup_cfg import SetupCfgSource
from mlgate.deps.sources.setup_py import SetupPySource

SOURCES: tuple[DependencySource, ...] = (
    PyProjectSource(),
    PyLockSource(),
    PackageLockSource(),
    SetupCfgSource(),
    SetupPySource(),
    CondaSource(),
    RequirementsSource(),
)


def _path(relpath: str) -> PurePosixPath | None:
    path = PurePosixPath(normalise(relpath))
    return path.with_name(path.name.lower()) if path.name else None


# Every ending a dependency file's (lower-cased) name may have: most files of a tree are
# ruled out by one string test, without a path object (2,000 files: 40 ms -> 2 ms).
_ENDINGS = tuple(sorted({ending for source in SOURCES for ending in source.endings}))
_UNNORMAL_ENDS = ("/", "\\", ".")  # a path `normalise` may give another last part


@functools.lru_cache(maxsize=1 << 16)  # asked for every file of the tree, by several gates
def source_for(relpath: str) -> DependencySource | None:
    """The source that recognises a repository-relative path as a dependency file, if any."""
    lowered = relpath.lower()
    if not lowered.endswith(_ENDINGS) and not lowered.endswith(_UNNORMAL_ENDS):
        return None  # normalising changes only a last part that is empty, "." or ".."
    if not normalise(relpath).lower().endswith(_ENDINGS):
        return None
    path = _path(relpath)
    return next((s for s in SOURCES if s.recognises(path)), None) if path else None


def is_dependency_file(relpath: str) -> bool:
    """Whether a repo-relative path names a dependency file a source reads."""
    return source_for(relpath) is not None


def is_lock_file(relpath: str) -> bool:
    source = source_for(relpath)
    return source is not None and source.lock


def is_manifest(relpath: str) -> bool:
    """pyproject.toml, setup.cfg, setup.py: a build manifest, whose ranges are a library's."""
    source = source_for(relpath)
    return source is not None and source.manifest


def read_dependency_file(
    root: Path, relpath: str
) -> tuple[list[Requirement], list[DepFileProblem]]:
    """Requirements and problems of one file; `-r` includes are followed (cycles guarded)."""
    rel = normalise(relpath)
    reading = Reading()
    path = _path(rel)
    source = next((s for s in SOURCES if path and s.reads_named(path)), SOURCES[-1])
    source.read(root, rel, reading)
    return reading.requirements, reading.problems


__all__ = [
    "LOCAL_OR_URL",
    "SOURCES",
    "DepFileProblem",
    "DependencySource",
    "Requirement",
    "is_dependency_file",
    "is_lock_file",
    "is_manifest",
    "read_dependency_file",
    "source_for",
]
