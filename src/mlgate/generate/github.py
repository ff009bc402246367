"""GitHub Actions: `.github/workflows/mlgate.yml`, plus `mlgate-train.yml` from level 1."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate.generate.base import GenerateError, Output
from mlgate.generate.spec import PipelineSpec
from mlgate.yamlimport import yaml

WORKFLOW = ".github/workflows/mlgate.yml"
TRAIN_WORKFLOW = ".github/workflows/mlgate-train.yml"
SCHEDULED_WORKFLOW = ".github/workflows/mlgate-scheduled.yml"
PINS = "pins.yml"
_SHA = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class Pin:
    """An action pinned to a full commit SHA; `version` is the release tag it was cut from."""

    action: str
    sha: str
    version: str

    @property
    def uses(self) -> str:
        return f"{self.action}@{self.sha} # {self.version}"


def load_pins(path: Path) -> dict[str, Pin]:
    """The pins table; an entry without a 40-hex SHA or a version is a GenerateError."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise GenerateError(f"{path}: cannot read the action pins: {exc}") from None
    pins = {}
    for action, entry in (raw or {}).items():
        sha = str((entry or {}).get("sha", ""))
        version = str((entry or {}).get("version", ""))
        if not _SHA.match(sha) or not version:
            raise GenerateError(f"{path}: {action}: a pin needs a 40-hex sha and a version")
        pins[str(action)] = Pin(str(action), sha, version)
    return pins


class GitHubTarget:
    name: str = "github"
    paths: tuple[str, ...] = (WORKFLOW, TRAIN_WORKFLOW, SCHEDULED_WORKFLOW)

    def outputs(self, spec: PipelineSpec) -> tuple[Output, ...]:
        main = Output(WORKFLOW, "mlgate.yml.j2")
        if spec.level < 1:
            return (main,)
        outputs = [main, Output(TRAIN_WORKFLOW, "train.yml.j2")]
        if spec.scheduled_gates:
            outputs.append(Output(SCHEDULED_WORKFLOW, "scheduled.yml.j2"))
        return tuple(outputs)

    def template_globals(self, folder: Path, spec: PipelineSpec) -> Mapping[str, Any]:
        pins = load_pins(folder / PINS)

        def uses(action: str) -> str:
            if action not in pins:
                raise GenerateError(f"{folder / PINS}: no pin for {action}")
            return pins[action].uses

        return {"uses": uses}
