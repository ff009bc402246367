"""pyproject.toml: PEP 621 `[project]` dependencies and optional dependencies, PEP 735
`[dependency-groups]`, and Poetry's `[tool.poetry]` tables."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from mlgate.deps.sources.common import LineFinder, as_dict, load_toml, pep508
from mlgate.deps.sources.interface import DependencySource, Reading
from mlgate.deps.sources.poetry import read_poetry


class PyProjectSource(DependencySource):
    kind = "pyproject"
    manifest = True

    endings = ("pyproject.toml",)

    def recognises(self, path: PurePosixPath) -> bool:
        return path.name == "pyproject.toml"

    def read(self, root: Path, rel: str, reading: Reading) -> None:
        loaded = load_toml(root, rel, reading)
        if loaded is None:
            return
        text, data = loaded
        finder = LineFinder(text)
        project = as_dict(data.get("project"))
        groups = [("project.dependencies", project.get("dependencies"))]
        groups += [
            (f"project.optional-dependencies.{extra}", specs)
            for extra, specs in as_dict(project.get("optional-dependencies")).items()
        ]
        groups += [
            (f"dependency-groups.{group}", specs)
            for group, specs in as_dict(data.get("dependency-groups")).items()
        ]
        for where, specs in groups:
            _pep508_list(rel, where, specs, finder, reading)
        read_poetry(rel, as_dict(as_dict(data.get("tool")).get("poetry")), finder, reading)


def _pep508_list(rel: str, where: str, specs: Any, finder: LineFinder, reading: Reading) -> None:
    if specs is None:
        return
    if not isinstance(specs, list):
        reading.problem(rel, 0, f"{where} is not a list")
        return
    for spec in specs:
        if isinstance(spec, str):
            pep508(spec.strip(), rel, finder.quoted(spec), reading)
        elif not (isinstance(spec, dict) and "include-group" in spec):
            reading.problem(rel, 0, f"{where}: not a requirement string: {spec!r}")
