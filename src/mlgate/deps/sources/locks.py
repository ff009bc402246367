"""Lock files: pylock.toml (PEP 751, `[[packages]]`) and uv.lock, poetry.lock, pdm.lock (which
share one `[[package]]` shape). Every version in them is pinned."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from packaging.utils import canonicalize_name

from mlgate.deps.sources.common import LineFinder, as_dict, toml_array
from mlgate.deps.sources.interface import LOCAL_OR_URL, DependencySource, Reading

PACKAGE_LOCKS = frozenset({"uv.lock", "poetry.lock", "pdm.lock"})


class _TomlLock(DependencySource):
    """A TOML lock file: an array of package tables (`[[KEY]]`), each read by `entry`."""

    lock = True
    key: ClassVar[str]
    what: ClassVar[str]

    def read(self, root: Path, rel: str, reading: Reading) -> None:
        found = toml_array(root, rel, reading, self.key, self.what)
        if found is None:
            return
        finder, packages = found
        for package in packages:
            self.entry(rel, as_dict(package), finder, reading)

    @abstractmethod
    def entry(
        self, rel: str, package: Mapping[str, Any], finder: LineFinder, reading: Reading
    ) -> None:
        """Add one package table's requirement (or problem)."""


class PyLockSource(_TomlLock):
    kind = "pylock"
    key = "packages"
    what = "pylock file"

    endings = (".toml",)

    def recognises(self, path: PurePosixPath) -> bool:
        return path.name == "pylock.toml" or fnmatch(path.name, "pylock.*.toml")

    def entry(
        self, rel: str, package: Mapping[str, Any], finder: LineFinder, reading: Reading
    ) -> None:
        name, version = package.get("name"), package.get("version")
        if not isinstance(name, str) or not name:
            reading.problem(rel, 0, "a [[packages]] entry has no name")
            return
        line = finder.name_line(name)
        if not isinstance(version, str):
            kind = next((k for k in ("vcs", "directory", "archive") if k in package), None)
            message = f"{LOCAL_OR_URL}: {name} ({kind})" if kind else f"{name} has no version"
            reading.problem(rel, line, message)
            return
        marker = package.get("marker")
        spec = f"{name}=={version}" + (f"; {marker}" if isinstance(marker, str) and marker else "")
        reading.add(canonicalize_name(name), version, spec, rel, line)


class PackageLockSource(_TomlLock):
    """`[[package]]` tables with `name` and `version` (uv, Poetry and PDM share the shape)."""

    kind = "package-lock"
    key = "package"
    what = "lock file"

    endings = tuple(sorted(PACKAGE_LOCKS))

    def recognises(self, path: PurePosixPath) -> bool:
        return path.name in PACKAGE_LOCKS

    def entry(
        self, rel: str, package: Mapping[str, Any], finder: LineFinder, reading: Reading
    ) -> None:
        name, version = package.get("name"), package.get("version")
        if not isinstance(name, str) or not name:
            return
        line = finder.name_line(name)
        source = as_dict(package.get("source"))
        if {"editable", "virtual", "path", "directory", "git"} & source.keys():
            return  # the project itself or a local/VCS package: nothing to audit by version
        if isinstance(version, str):
            reading.add(canonicalize_name(name), version, f"{name}=={version}", rel, line)
