"""What every dependency source is: one kind of dependency file, recognised by its path and
read without executing anything.

Every entry of a file comes back either as a `Requirement` (pinned or not) or as a
`DepFileProblem`: nothing is dropped silently. A problem with line 0 concerns the whole file.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import ClassVar

LOCAL_OR_URL = "cannot audit a local/URL requirement"


@dataclass(frozen=True)
class Requirement:
    """One dependency as written in a file."""

    name: str
    version: str | None
    spec: str
    path: str
    line: int


@dataclass(frozen=True)
class DepFileProblem:
    """An entry that could not be read or audited (line 0: the whole file)."""

    path: str
    line: int
    message: str
    severity: str = "medium"  # "low": a file that is fine but cannot be read statically


@dataclass
class Reading:
    """What the reading of one file (and the files it includes) has found so far."""

    requirements: list[Requirement] = field(default_factory=list)
    problems: list[DepFileProblem] = field(default_factory=list)

    def problem(self, path: str, line: int, message: str, severity: str = "medium") -> None:
        self.problems.append(DepFileProblem(path, line, message, severity))

    def add(self, name: str, version: str | None, spec: str, path: str, line: int) -> None:
        self.requirements.append(Requirement(name, version, spec, path, line))


class DependencySource(ABC):
    """One kind of dependency file: whether a path is one, and how to read it.

    `recognises` decides what a search of the repository finds (by file name);
    `reads_named` what this source reads when a file is named explicitly (`files:`, an
    MLproject's `conda_env`, a dvc.yaml stage), which may be looser (any `.yml` is read as a
    conda environment). The registry (`sources.SOURCES`) asks them in order.
    """

    kind: ClassVar[str]
    lock: ClassVar[bool] = False  # every version in it is pinned (a lock file)
    manifest: ClassVar[bool] = False  # a build manifest (its ranges are a library's)
    # How every file name `recognises` accepts ends (lower-cased): the registry rejects
    # the other files of a tree by one string test (`tests/deps` checks each source's).
    endings: ClassVar[tuple[str, ...]]

    @abstractmethod
    def recognises(self, path: PurePosixPath) -> bool:
        """Whether `path` (repository-relative, lower-cased name) is a file of this kind."""

    def reads_named(self, path: PurePosixPath) -> bool:
        return self.recognises(path)

    @abstractmethod
    def read(self, root: Path, rel: str, reading: Reading) -> None:
        """Add the requirements and problems of `rel` (normalised, relative to `root`)."""
