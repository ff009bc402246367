"""Packaged data: `policies/` and `pipeline_templates/`.

In a wheel they live in `mlgate/_data/`; in a source checkout (editable install) they are
read from the repository's top level, which is their source of truth.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_SOURCE_ROOT = Path(__file__).resolve().parents[2]


def data_dir(name: str) -> Path:
    """The directory of a packaged data folder (`policies` or `pipeline_templates`)."""
    packaged = resources.files("mlgate") / "_data" / name
    if packaged.is_dir():
        return Path(str(packaged))
    return _SOURCE_ROOT / name


def policies_dir() -> Path:
    return data_dir("policies")


def rule_pack_dir() -> Path:
    return policies_dir() / "semgrep" / "rules"


def schema_path(name: str) -> Path:
    """A JSON Schema shipped inside the package (`policy`, `config`)."""
    return Path(str(resources.files("mlgate") / "schemas" / f"{name}.schema.json"))
