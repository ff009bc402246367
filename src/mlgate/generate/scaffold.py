"""`mlgate init`: the files it writes (.mlgate.yml, the policy, the pipelines), planned first.

The plan renders every file in memory and loads the config and policy it would write (so
they are valid by construction); applying it writes all of them or none. An existing
policy is the user's: init keeps it (and uses it) rather than planning a new one.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlgate import __version__
from mlgate.config import CONFIG_FILE, MAX_SHARDS, RepoConfig, load_config, shardable_gates
from mlgate.detect import INSTALL_TOOLS, PYTHON_VERSIONS, RepoFacts, describe, detect
from mlgate.errors import ConfigError, UsageError
from mlgate.gates import GATES
from mlgate.generate.files import write_all
from mlgate.generate.install import install_lines
from mlgate.generate.project import render, repo_root
from mlgate.generate.render import render_template, templates_dir
from mlgate.generate.spec import (
    DEFAULT_ENVIRONMENT,
    DEFAULT_SCHEDULE,
    DEPLOY_PLACEHOLDER,
    TRAIN_PLACEHOLDER,
    default_train_command,
)
from mlgate.policy import REPO_POLICY, Policy, find_policy, load_policy

# What init's .mlgate.yml excludes: GitLab keeps its pip cache inside the checkout.
DEFAULT_EXCLUDE = (".cache/*",)
# Sizing: a notebook costs the scanners about as much as this many .py files, and one shard
# takes this many such units within the default 600 s gate timeout with room to spare
# (a 1,500-notebook repository timed out unsharded). At most MAX_INIT_SHARDS.
NOTEBOOK_WEIGHT = 10
UNITS_PER_SHARD = 1500
MAX_INIT_SHARDS = 8
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
    kept: tuple[str, ...] = ()  # existing files init leaves as they are (the policy)
    sizing: str = ""  # what init chose for the pipeline's size, in words

    @property
    def conflicts(self) -> list[str]:
        return [f.path for f in self.files if f.exists]

    @property
    def config_text(self) -> str:
        return self.files[0].text


def plan_init(path: Path, targets: Sequence[str], level: int) -> InitPlan:
    """Detect, render .mlgate.yml and the policy, and render each target's pipeline.

    From an existing valid .mlgate.yml, what detection cannot know is kept (commands,
    environment, exclude, policy path, gate settings); an existing policy is kept as is.
    """
    root = repo_root(path)
    previous = _previous(root)
    exclude = tuple(dict.fromkeys((*DEFAULT_EXCLUDE, *previous.exclude)))
    facts = detect(root, exclude)
    config_text = render_template(
        templates_dir(INIT_TEMPLATES), "mlgate.yml.j2", _config_context(facts, level, previous)
    )
    config = _load_config_text(config_text)
    planned = {CONFIG_FILE: config_text}
    policy, kept = _policy(root, config, planned)
    for target in dict.fromkeys(targets):
        planned.update(render(root, target, config, policy, facts).files)
    files = tuple(PlannedFile(p, t, (root / p).exists()) for p, t in planned.items())
    return InitPlan(root, facts, files, kept, _describe_sizing(config, policy, facts))


def apply_init(plan: InitPlan, force: bool) -> list[str]:
    """Write every planned file, or none: existing files need `force`."""
    if plan.conflicts and not force:
        raise UsageError(
            f"{', '.join(plan.conflicts)}: already exist{'s' if len(plan.conflicts) == 1 else ''}"
            "; nothing was written",
            hint="--force overwrites them (keeping what you wrote in .mlgate.yml: commands, "
            "gate settings, exclude); `mlgate generate --ci github|gitlab` renders a pipeline "
            "from the existing .mlgate.yml",
        )
    write_all(plan.root, {f.path: f.text for f in plan.files})
    return [f.path for f in plan.files]


def _previous(root: Path) -> RepoConfig:
    """The existing .mlgate.yml if it is valid (an invalid one is replaced whole)."""
    try:
        return load_config(root)
    except ConfigError:
        return RepoConfig()


def _config_context(facts: RepoFacts, level: int, previous: RepoConfig) -> dict[str, object]:
    kept = previous.pipeline
    train = kept.train_command or default_train_command(facts)
    return {
        "version": __version__,
        "described": [line.replace("\r", " ").replace("\n", " ") for line in describe(facts)],
        "facts": facts,
        "python": facts.python,
        "python_versions": PYTHON_VERSIONS,
        "level": level,
        "environment": kept.environment or DEFAULT_ENVIRONMENT,
        "install_tools": INSTALL_TOOLS,
        "install_lines": install_lines(facts.installer, facts.install_files, facts.buildable),
        "train_command": train.strip("\n").splitlines(),
        "train_source": _train_source(facts, train, kept.train_command is not None),
        "deploy_command": (kept.deploy_command or DEPLOY_PLACEHOLDER).strip("\n").splitlines(),
        "deploy_placeholder": DEPLOY_PLACEHOLDER,
        "test_markers_note": "detected in the tests" if facts.test_markers else "none detected",
        "exclude": tuple(dict.fromkeys((*DEFAULT_EXCLUDE, *previous.exclude))),
        "policy": previous.policy,
        "gate_sections": _gate_sections(previous, facts),
        "kept_gates": sorted(previous.gate_options),
        "max_shards": MAX_SHARDS,
        "mlgate_install": kept.mlgate_install or f"mlgate=={__version__}",
        "schedule": kept.schedule or DEFAULT_SCHEDULE,
    }


def suggested_shards(facts: RepoFacts) -> int:
    """How many jobs each shardable gate needs for this repository's size."""
    units = len(facts.python_files) + NOTEBOOK_WEIGHT * len(facts.notebooks)
    return max(1, min(MAX_INIT_SHARDS, math.ceil(units / UNITS_PER_SHARD)))


def sizing(facts: RepoFacts, previous: RepoConfig) -> dict[str, int]:
    """Shards per shardable gate: the previous .mlgate.yml's, else sized from the facts."""
    size = suggested_shards(facts)
    return {name: previous.pipeline.shards.get(name, size) for name in shardable_gates()}


def _describe_sizing(config: RepoConfig, policy: Policy, facts: RepoFacts) -> str:
    shards = ", ".join(
        f"{name} in {config.pipeline.shards.get(name, 1)} job(s)" for name in shardable_gates()
    )
    timeout = max(policy.settings(name).timeout for name in shardable_gates())
    return (
        f"{shards} for {len(facts.python_files)} Python file(s) and {len(facts.notebooks)} "
        f"notebook(s); each gate job times out after the policy's gate timeout ({timeout:.0f} s) "
        f"plus 10 minutes to install ({', '.join(f'{n}.shards' for n in shardable_gates())} "
        "in .mlgate.yml)"
    )


def _gate_sections(previous: RepoConfig, facts: RepoFacts) -> str:
    """The per-gate sections: shards, plus the gate settings of the previous file."""
    sections: dict[str, dict[str, Any]] = {
        name: dict(previous.gate_options.get(name, {})) for name in GATES
    }
    shards = sizing(facts, previous)
    for name in shardable_gates():
        if name in sections:
            sections[name] = {"shards": shards[name], **sections[name]}
    dumped = {name: options for name, options in sections.items() if options}
    return yaml.safe_dump(dumped, sort_keys=False, default_flow_style=False) if dumped else ""


def _train_source(facts: RepoFacts, train: str, kept: bool) -> str:
    if kept:
        return "kept from the previous .mlgate.yml"
    if train == TRAIN_PLACEHOLDER:
        return "none detected: a placeholder that fails until you set it"
    return "DVC pipeline detected" if facts.dvc else "train.py detected"


def _load_config_text(text: str) -> RepoConfig:
    """Load .mlgate.yml text exactly as `generate` will load the file later."""
    with tempfile.TemporaryDirectory(prefix="mlgate-init-") as tmp:
        (Path(tmp) / CONFIG_FILE).write_text(text, encoding="utf-8")
        return load_config(Path(tmp))


def _policy(
    root: Path, config: RepoConfig, planned: dict[str, str]
) -> tuple[Policy, tuple[str, ...]]:
    """The repo's existing policy (kept), else a new one extending the default (planned)."""
    env = config.pipeline.environment or DEFAULT_ENVIRONMENT
    where = find_policy(root, None, config.policy)
    if where != "default":
        kept = (
            Path(where).relative_to(root).as_posix()
            if Path(where).is_relative_to(root)
            else str(where)
        )
        return load_policy(where, env), (kept,)
    text = render_template(templates_dir(INIT_TEMPLATES), "policy.yml.j2", {"version": __version__})
    planned[REPO_POLICY.as_posix()] = text
    with tempfile.TemporaryDirectory(prefix="mlgate-init-") as tmp:
        scratch = Path(tmp) / REPO_POLICY
        scratch.parent.mkdir(parents=True)
        scratch.write_text(text, encoding="utf-8")
        return load_policy(scratch, env), ()
