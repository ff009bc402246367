"""`.mlgate.yml`: facts about the repository (what to exclude, where things are)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate.gates import GATES
from mlgate.yamlfile import load_yaml, validate

CONFIG_FILE = ".mlgate.yml"


@dataclass(frozen=True)
class RepoConfig:
    path: Path | None = None
    exclude: tuple[str, ...] = ()
    policy: str | None = None
    gate_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def options_for(self, gate: str) -> Mapping[str, Any]:
        return self.gate_options.get(gate, {})


def config_schema() -> dict[str, Any]:
    """The JSON Schema of .mlgate.yml, built from the gate registry."""
    gates = {
        name: {
            "type": "object",
            "additionalProperties": False,
            "properties": dict(gate.options_schema),
        }
        for name, gate in GATES.items()
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://mlgate.dev/schemas/config.schema.json",
        "title": "mlgate repository configuration (.mlgate.yml)",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "exclude": {"type": "array", "items": {"type": "string", "minLength": 1}},
            "policy": {"type": "string", "minLength": 1},
            **gates,
        },
    }


def load_config(root: Path) -> RepoConfig:
    """Read `<root>/.mlgate.yml` if present; an invalid file is a ConfigError (exit 2)."""
    path = root / CONFIG_FILE
    if not path.is_file():
        return RepoConfig()
    doc = load_yaml(path)
    validate(doc, config_schema(), "config")
    data: Mapping[str, Any] = doc.data
    return RepoConfig(
        path=path,
        exclude=tuple(data.get("exclude") or ()),
        policy=data.get("policy"),
        gate_options={name: dict(data[name]) for name in GATES if isinstance(data.get(name), dict)},
    )
