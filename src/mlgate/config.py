"""`.mlgate.yml`: facts about the repository (what to exclude, where things are)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate.confine import check_config, is_inside
from mlgate.errors import ConfigError
from mlgate.gates import GATES
from mlgate.toollock import TOOLS
from mlgate.yamlfile import YamlDoc, load_yaml, validate

CONFIG_FILE = ".mlgate.yml"
# The Python versions a generated pipeline can use (mlgate itself needs 3.10+); each has a
# pinned CI image (`detect.DEFAULT_PYTHON` is preferred).
PYTHON_VERSIONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
# How CI installs the project; `generate.install.RECIPES` holds one recipe per name.
INSTALL_TOOLS = ("pip", "poetry", "uv", "pdm", "conda", "none")
# Branch names that are safe inside CI expressions and YAML without quoting tricks.
BRANCH_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]*$"
MAX_SHARDS = 32
SHARDS_SCHEMA: Mapping[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_SHARDS}
_COMMANDS = ("train_command", "deploy_command")


def test_markers() -> tuple[str, ...]:
    """The pytest markers of repository tests a gate runs (`PipelineTraits.test_marker`)."""
    return tuple(g.pipeline.test_marker for g in GATES.values() if g.pipeline.test_marker)


@dataclass(frozen=True)
class PipelineSettings:
    """What `.mlgate.yml` says about the generated CI pipeline; None: detect it."""

    python: str | None = None
    level: int | None = None
    default_branch: str | None = None
    environment: str | None = None
    install_tool: str | None = None
    install_files: tuple[str, ...] | None = None
    install_command: str | None = None
    train_command: str | None = None
    train_outputs: tuple[str, ...] | None = None
    deploy_command: str | None = None
    test_markers: tuple[str, ...] | None = None
    shards: Mapping[str, int] = field(default_factory=dict)
    mlgate_install: str | None = None
    schedule: str | None = None
    gitlab: str | None = None  # GITLAB_LAYOUTS: where the GitLab pipeline lives
    signing: str | None = None  # SIGNING_MODES: how GitLab's level-2 decide signs the receipt


# `pipeline.gitlab`: `standalone` writes `.gitlab-ci.yml`; `include` writes `.gitlab/mlgate.yml`
# for the repository's own `.gitlab-ci.yml` to include; `merge` keeps mlgate's jobs in a marked
# block appended to it.
GITLAB_LAYOUTS = ("standalone", "include", "merge")
# `pipeline.signing` (GitLab, level 2): `sigstore` signs the receipt keyless (the pipeline's
# OIDC identity); `key` signs it with the Ed25519 key in the protected file variable
# MLGATE_SIGNING_KEY and deploy verifies it with the public key in MLGATE_PUBLIC_KEY.
SIGNING_MODES = ("sigstore", "key")
# `pipeline.mlgate_install`: where the generated jobs get mlgate from. A version pinned on the
# package index, a VCS URL pinned to a full commit, or a wheel file.
MLGATE_INSTALL_PATTERN = (
    r"^(mlgate==[0-9][0-9A-Za-z.+!-]*"
    r"|git\+https://[^\s@#]+@[0-9a-f]{40}"
    r"|[^\s\[\]'\"$`;&|<>]+\.whl)$"
)
# Five cron fields (GitHub's `on.schedule`).
CRON_PATTERN = r"^[0-9*/,-]+( [0-9A-Za-z*/,-]+){4}$"


@dataclass(frozen=True)
class RepoConfig:
    path: Path | None = None
    exclude: tuple[str, ...] = ()
    policy: str | None = None
    gate_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    tools: Mapping[str, str] = field(default_factory=dict)  # tool -> system | pinned | version

    def options_for(self, gate: str) -> Mapping[str, Any]:
        return self.gate_options.get(gate, {})


def shardable_gates() -> tuple[str, ...]:
    """The gates whose `.mlgate.yml` section may split their job (`shards: N`)."""
    return tuple(name for name, gate in GATES.items() if gate.pipeline.shardable)


def pipeline_gate_keys(name: str) -> Mapping[str, Any]:
    """Keys of a gate's section that shape the generated pipeline, not the gate's options."""
    return {"shards": SHARDS_SCHEMA} if GATES[name].pipeline.shardable else {}


def config_schema() -> dict[str, Any]:
    """The JSON Schema of .mlgate.yml, built from the gate registry."""
    gates = {
        name: {
            "type": "object",
            "additionalProperties": False,
            "properties": {**gate.options_schema, **pipeline_gate_keys(name)},
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
            "tools": _tools_schema(),
            **_pipeline_schema(),
            **gates,
        },
    }


def _tools_schema() -> dict[str, Any]:
    """`tools: {semgrep: system | pinned | "1.180.0"}`: where each scanner comes from."""
    choice = {"type": "string", "pattern": "^(system|pinned|[0-9][0-9A-Za-z.+!-]*)$"}
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {name: choice for name in TOOLS},
    }


def _pipeline_schema() -> dict[str, Any]:
    """The keys `mlgate init` writes and `mlgate generate` reads."""
    command = {"type": "string", "minLength": 1}
    return {
        "python": {"enum": list(PYTHON_VERSIONS)},
        "level": {"enum": [0, 1, 2]},
        "default_branch": {"type": "string", "pattern": BRANCH_PATTERN},
        "environment": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_-]*$"},
        "install": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "tool": {"enum": list(INSTALL_TOOLS)},
                "files": {"type": "array", "items": {"type": "string", "pattern": "^[^\\r\\n]+$"}},
                "command": command,
            },
        },
        "train_command": command,
        "train_outputs": {
            "type": "array",
            "items": {"type": "string", "pattern": "^(?!/)(?!\\.\\./)(?!.*\\$\\{\\{)[^\\r\\n]+$"},
        },
        "deploy_command": command,
        "test_markers": {"type": "array", "items": {"enum": list(test_markers())}},
        "pipeline": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "mlgate_install": {"type": "string", "pattern": MLGATE_INSTALL_PATTERN},
                "schedule": {"type": "string", "pattern": CRON_PATTERN},
                "gitlab": {"enum": list(GITLAB_LAYOUTS)},
                "signing": {"enum": list(SIGNING_MODES)},
            },
        },
    }


def load_config(root: Path) -> RepoConfig:
    """Read `<root>/.mlgate.yml` if present; an invalid file is a ConfigError (exit 2).

    Every path it names must stay inside `root` (see confine.py).
    """
    path = root / CONFIG_FILE
    if not path.is_file():
        return RepoConfig()
    if not is_inside(path, root):
        raise ConfigError(f"{path}: a symlink to a file outside the repository")
    doc = load_yaml(path)
    return config_from_doc(doc, root)


def config_from_doc(doc: YamlDoc, root: Path | None = None) -> RepoConfig:
    """Validate a parsed `.mlgate.yml` and build the RepoConfig (ConfigError: file:line: key).

    Paths it names must be relative and stay inside the repository; with `root`, also once
    symlinks are resolved.
    """
    validate(doc, config_schema(), "config")
    _check_commands(doc)
    check_config(doc, root)
    data: Mapping[str, Any] = doc.data
    return RepoConfig(
        path=doc.path,
        exclude=tuple(data.get("exclude") or ()),
        policy=data.get("policy"),
        gate_options={
            name: {k: v for k, v in data[name].items() if k not in pipeline_gate_keys(name)}
            for name in GATES
            if isinstance(data.get(name), dict)
        },
        pipeline=_pipeline_settings(data),
        tools=dict(data.get("tools") or {}),
    )


def _check_commands(doc: YamlDoc) -> None:
    """A GitHub expression in a command would be expanded into the script: refuse it."""
    install = doc.data.get("install") if isinstance(doc.data.get("install"), dict) else {}
    found = [(key, doc.data.get(key)) for key in _COMMANDS]
    found.append(("install.command", install.get("command")))
    for key, value in found:
        if isinstance(value, str) and "${{" in value:
            raise ConfigError(
                f"{doc.where(key.split('.'))}: config: {key}: contains a GitHub expression '${{{{'",
                hint="pass values through environment variables ($NAME) instead",
            )


def _pipeline_settings(data: Mapping[str, Any]) -> PipelineSettings:
    install: Mapping[str, Any] = data.get("install") or {}
    pipeline: Mapping[str, Any] = data.get("pipeline") or {}
    files = install.get("files")
    markers = data.get("test_markers")
    return PipelineSettings(
        python=data.get("python"),
        level=data.get("level"),
        default_branch=data.get("default_branch"),
        environment=data.get("environment"),
        install_tool=install.get("tool"),
        install_files=tuple(files) if files is not None else None,
        install_command=install.get("command"),
        train_command=data.get("train_command"),
        train_outputs=tuple(outputs)
        if (outputs := data.get("train_outputs")) is not None
        else None,
        deploy_command=data.get("deploy_command"),
        test_markers=tuple(markers) if markers is not None else None,
        shards={
            name: int(data[name]["shards"])
            for name in shardable_gates()
            if isinstance(data.get(name), dict) and "shards" in data[name]
        },
        mlgate_install=pipeline.get("mlgate_install"),
        schedule=pipeline.get("schedule"),
        gitlab=pipeline.get("gitlab"),
        signing=pipeline.get("signing"),
    )
