"""GitLab CI: `.gitlab-ci.yml`, or `.gitlab/mlgate.yml` beside the repository's own pipeline."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlgate.generate.base import GenerateError, Output
from mlgate.generate.gitlab_host import HOST, INCLUDED
from mlgate.generate.spec import PipelineSpec
from mlgate.yamlimport import yaml

PIPELINE = HOST
PINS = "pins.yml"


def load_images(path: Path) -> dict[str, str]:
    """Python version -> pinned image (exact tag, optionally @sha256 digest)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise GenerateError(f"{path}: cannot read the image pins: {exc}") from None
    images = (raw or {}).get("images") or {}
    return {str(version): str(image) for version, image in images.items()}


class GitLabTarget:
    name: str = "gitlab"
    paths: tuple[str, ...] = (PIPELINE, INCLUDED)

    def outputs(self, spec: PipelineSpec) -> tuple[Output, ...]:
        path = INCLUDED if spec.gitlab_layout == "include" else PIPELINE
        return (Output(path, "gitlab-ci.yml.j2"),)

    def template_globals(self, folder: Path, spec: PipelineSpec) -> Mapping[str, Any]:
        images = load_images(folder / PINS)
        if spec.python not in images:
            raise GenerateError(
                f"{folder / PINS}: no pinned image for Python {spec.python}",
                hint=f"use one of {', '.join(sorted(images))} (`python:` in .mlgate.yml)",
            )
        image = images[spec.python]
        # the image (without a digest) in the scanner cache's key: it fixes the Python
        key = re.sub(r"[^A-Za-z0-9._-]+", "-", image.split("@", 1)[0])
        return {"image": image, "image_key": key, "embedded": spec.embedded}
