"""Packaged data: `policies/` and `pipeline_templates/`.

In a wheel they live in `mlgate/_data/`; in a source checkout (editable install) they are
read from the repository's top level, which is their source of truth.
"""

from __future__ import annotations

from pathlib import Path

# The package's own directory: its data is handed to scanners by path, so mlgate runs from
# files on disk (never a zip), where this is what `importlib.resources.files` answers,
# without loading importlib's resource readers and zipfile on every run.
_PACKAGE = Path(__file__).resolve().parent
_SOURCE_ROOT = _PACKAGE.parents[1]


def data_dir(name: str) -> Path:
    """The directory of a packaged data folder (`policies` or `pipeline_templates`)."""
    packaged = _PACKAGE / "_data" / name
    if packaged.is_dir():
        return packaged
    return _SOURCE_ROOT / name


def policies_dir() -> Path:
    return data_dir("policies")


def rule_pack_dir() -> Path:
    return policies_dir() / "semgrep" / "rules"


def schema_path(name: str) -> Path:
    """A JSON Schema shipped inside the package (`policy`, `config`)."""
    return _PACKAGE / "schemas" / f"{name}.schema.json"
