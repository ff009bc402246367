"""`mlgate init`: the files it writes (.mlgate.yml, the policy, the pipelines), planned first.

The plan renders every file in memory and loads the config and policy it would write (so
they are valid by construction); applying it writes all of them or none.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mlgate import __version__
from mlgate.config import CONFIG_FILE, MAX_SHARDS, RepoConfig, load_config
from mlgate.detect import INSTALL_TOOLS, PYTHON_VERSIONS, RepoFacts, describe, detect
from mlgate.errors import UsageError
from mlgate.gates import GATES
from mlgate.generate.files import write_all
from mlgate.generate.install import install_lines
from mlgate.generate.project import render, repo_root
from mlgate.generate.render import render_template, templates_dir
from mlgate.generate.spec import (
    DEFAULT_ENVIRONMENT,
    DEPLOY_PLACEHOLDER,
    TRAIN_PLACEHOLDER,
    default_train_command,
)
from mlgate.policy import REPO_POLICY, Policy, load_policy

# What init's .mlgate.yml excludes: GitLab keeps its pip cache inside the checkout.
DEFAULT_EXCLUDE = (".cache/*",)
INIT_TEMPLATES = "init"


@dataclass(frozen=True)
class PlannedFile:
    path: str
    text: str
    exists: bool


@dataclass(frozen=True)
class InitPlan:
    root: Path
    facts: RepoFacts
    files: tuple[PlannedFile, ...]

    @property
    def conflicts(self) -> list[str]:
        return [f.path for f in self.files if f.exists]

    @property
    def config_text(self) -> str:
        return self.files[0].text


def plan_init(path: Path, targets: Sequence[str], level: int) -> InitPlan:
    """Detect, render .mlgate.yml and the policy, and render each target's pipeline."""
    root = repo_root(path)
    facts = detect(root, DEFAULT_EXCLUDE)
    config_text = render_template(
        templates_dir(INIT_TEMPLATES), "mlgate.yml.j2", _config_context(facts, level)
    )
    policy_text = render_template(
        templates_dir(INIT_TEMPLATES), "policy.yml.j2", {"version": __version__}
    )
    config, policy = _load_planned(config_text, policy_text)
    planned = {CONFIG_FILE: config_text, REPO_POLICY.as_posix(): policy_text}
    for target in dict.fromkeys(targets):
        planned.update(render(root, target, config, policy, facts).files)
    files = tuple(PlannedFile(p, t, (root / p).exists()) for p, t in planned.items())
    return InitPlan(root, facts, files)


def apply_init(plan: InitPlan, force: bool) -> list[str]:
    """Write every planned file, or none: existing files need `force`."""
    if plan.conflicts and not force:
        raise UsageError(
            f"{', '.join(plan.conflicts)}: already exist{'s' if len(plan.conflicts) == 1 else ''}"
            "; nothing was written",
            hint="--force overwrites them; `mlgate generate --ci github|gitlab` renders a "
            "pipeline from the existing .mlgate.yml",
        )
    write_all(plan.root, {f.path: f.text for f in plan.files})
    return [f.path for f in plan.files]


def _config_context(facts: RepoFacts, level: int) -> dict[str, object]:
    train = default_train_command(facts)
    return {
        "version": __version__,
        "described": [line.replace("\r", " ").replace("\n", " ") for line in describe(facts)],
        "facts": facts,
        "python": facts.python,
        "python_versions": PYTHON_VERSIONS,
        "level": level,
        "environment": DEFAULT_ENVIRONMENT,
        "install_tools": INSTALL_TOOLS,
        "install_lines": install_lines(facts.installer, facts.install_files, facts.buildable),
        "train_command": train.splitlines(),
        "train_source": _train_source(facts, train),
        "deploy_command": DEPLOY_PLACEHOLDER.splitlines(),
        "test_markers_note": "detected in the tests" if facts.test_markers else "none detected",
        "exclude": DEFAULT_EXCLUDE,
        "gates": list(GATES),
        "max_shards": MAX_SHARDS,
    }


def _train_source(facts: RepoFacts, train: str) -> str:
    if train == TRAIN_PLACEHOLDER:
        return "no training entry point detected: a placeholder that fails until you set it"
    return "DVC pipeline detected" if facts.dvc else "train.py detected"


def _load_planned(config_text: str, policy_text: str) -> tuple[RepoConfig, Policy]:
    """Load what init would write exactly as `generate` will load it later."""
    with tempfile.TemporaryDirectory(prefix="mlgate-init-") as tmp:
        scratch = Path(tmp)
        (scratch / CONFIG_FILE).write_text(config_text, encoding="utf-8")
        (scratch / REPO_POLICY).parent.mkdir(parents=True)
        (scratch / REPO_POLICY).write_text(policy_text, encoding="utf-8")
        config = load_config(scratch)
        env = config.pipeline.environment or DEFAULT_ENVIRONMENT
        return config, load_policy(scratch / REPO_POLICY, env)
