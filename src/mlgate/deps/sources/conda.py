"""conda environment files (`environment.yml`, `conda.yaml`, and any `.yml`/`.yaml` named
explicitly): `name=1.2.3`/`name==1.2.3` conda entries and the `pip:` list (PEP 508).
`python` and `pip` themselves are not packages to audit."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from packaging.utils import canonicalize_name

from mlgate.deps.sources.common import LineFinder, pep508, read_text
from mlgate.deps.sources.interface import DependencySource, Reading
from mlgate.yamlimport import yaml

CONDA_FILES = frozenset({"environment.yml", "environment.yaml", "conda.yaml", "conda.yml"})
_CONDA_SKIP = frozenset({"python", "pip"})
_CONDA_SPEC = re.compile(r"^(?:[\w.-]+::)?([A-Za-z0-9][\w.-]*)\s*(.*)$")


class CondaSource(DependencySource):
    kind = "conda"

    endings = tuple(sorted(CONDA_FILES))

    def recognises(self, path: PurePosixPath) -> bool:
        return path.name in CONDA_FILES

    def reads_named(self, path: PurePosixPath) -> bool:
        return path.name.endswith((".yml", ".yaml"))

    def read(self, root: Path, rel: str, reading: Reading) -> None:
        text = read_text(root, rel, reading)
        if text is None:
            return
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            reading.problem(rel, mark.line + 1 if mark else 0, f"invalid YAML: {exc}")
            return
        finder = LineFinder(text)
        deps = data.get("dependencies") if isinstance(data, dict) else None
        if not isinstance(deps, list):
            reading.problem(rel, 0, "conda environment has no `dependencies:` list")
            return
        for entry in deps:
            if isinstance(entry, str):
                _conda_entry(rel, entry.strip(), finder, reading)
            elif isinstance(entry, dict) and isinstance(entry.get("pip"), list):
                for spec in entry["pip"]:
                    if isinstance(spec, str) and not spec.startswith("-"):
                        pep508(spec.strip(), rel, finder.bare(spec.strip()), reading)


def _conda_entry(rel: str, entry: str, finder: LineFinder, reading: Reading) -> None:
    match = _CONDA_SPEC.match(entry)
    if match is None:
        reading.problem(rel, finder.bare(entry), f"unrecognised conda dependency: {entry!r}")
        return
    name, rest = match.group(1), match.group(2).strip()
    if canonicalize_name(name) in _CONDA_SKIP:
        return
    version = rest.lstrip("=").split("=", 1)[0].strip() if rest.startswith("=") else None
    exact = version if version and _conda_exact(rest, version) else None
    reading.add(canonicalize_name(name), exact, f"{name}{rest}", rel, finder.bare(entry))


def _conda_exact(rest: str, version: str) -> bool:
    """`==1.2.3`, `=1.2.3=build`, or `=1.2.3` with a full three-part version pin one version."""
    if any(c in version for c in "*<>!,|"):
        return False
    if rest.startswith("=="):
        return True
    return rest.count("=") >= 2 or version.count(".") >= 2
