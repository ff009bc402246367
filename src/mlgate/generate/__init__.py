"""Pipeline generation: detect -> configure -> render templates; and the drift check.

One module per CI target (`github`, `gitlab`), each with its template folder in
`pipeline_templates/<name>/`; `TARGETS` is the registry.
"""

from __future__ import annotations

from mlgate.generate.base import GenerateError, Output, Target, is_generated
from mlgate.generate.github import GitHubTarget
from mlgate.generate.gitlab import GitLabTarget

TARGETS: dict[str, Target] = {target.name: target for target in (GitHubTarget(), GitLabTarget())}

__all__ = ["TARGETS", "GenerateError", "Output", "Target", "is_generated"]
