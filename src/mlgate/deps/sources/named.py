"""Dependency files other files name: the conda/python env of an MLflow `MLproject`, and the
requirements and conda env files a `dvc.yaml` stage installs or depends on. Read as YAML,
inside the repository; nothing is run. Whatever the name, the registry reads the file."""

from __future__ import annotations

import posixpath
import re
from typing import Any

from mlgate.deps.sources import is_dependency_file
from mlgate.repo import Repo
from mlgate.yamlimport import yaml

# In a dvc.yaml stage: `pip install -r FILE` / `--requirement FILE`, `conda env create -f FILE`.
_DVC_CMD_FILES = re.compile(
    r"(?:\s-r\s*|--requirement[=\s]\s*|conda\s+env\s+(?:create|update)\b[^;&|]*?(?:-f|--file)[=\s]\s*)"
    r"(?P<path>[^\s;&|]+)"
)


def named_dependency_files(repo: Repo) -> list[str]:
    """What MLproject and dvc.yaml files name, in the order found."""
    return [*_mlproject_envs(repo), *_dvc_named_files(repo)]


def _yaml_files(repo: Repo, names: tuple[str, ...]) -> list[tuple[str, Any]]:
    """(path, parsed YAML) of the repository's files with one of these names, if parseable."""
    found: list[tuple[str, Any]] = []
    for rel in repo.files:
        if rel.rsplit("/", 1)[-1] not in names:
            continue
        try:
            found.append((rel, yaml.safe_load((repo.root / rel).read_text(encoding="utf-8"))))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
    return found


def _base(rel: str) -> str:
    return rel.rsplit("/", 1)[0] + "/" if "/" in rel else ""


def _mlproject_envs(repo: Repo) -> list[str]:
    """The conda/python env files an MLflow `MLproject` names."""
    found: list[str] = []
    for rel, data in _yaml_files(repo, ("MLproject",)):
        for key in ("conda_env", "python_env"):
            value = data.get(key) if isinstance(data, dict) else None
            if isinstance(value, str) and value.strip():
                target = posixpath.normpath(_base(rel) + value.strip())
                if target in repo.files and target.endswith((".yml", ".yaml")):
                    found.append(target)
    return found


def _dvc_named_files(repo: Repo) -> list[str]:
    """The requirements and conda env files a `dvc.yaml` stage installs (its `cmd`) or names
    among its `deps`."""
    found: list[str] = []
    for rel, data in _yaml_files(repo, ("dvc.yaml", "dvc.yml")):
        stages = data.get("stages") if isinstance(data, dict) else None
        for stage in (stages or {}).values() if isinstance(stages, dict) else ():
            found += _dvc_stage_files(repo, _base(rel), stage)
    return found


def _dvc_stage_files(repo: Repo, base: str, stage: Any) -> list[str]:
    if not isinstance(stage, dict):
        return []
    wdir = stage.get("wdir")
    here = posixpath.normpath(base + (wdir if isinstance(wdir, str) else ".")) + "/"
    commands = stage.get("cmd")
    lines = [commands] if isinstance(commands, str) else list(commands or [])
    named = [m["path"] for c in lines if isinstance(c, str) for m in _DVC_CMD_FILES.finditer(c)]
    deps = [d for d in stage.get("deps") or [] if isinstance(d, str)]
    named += [d for d in deps if is_dependency_file(d)]
    targets = [posixpath.normpath(here + n.strip("'\"")) for n in named]
    return [t for t in targets if t in repo.files and _readable_as_deps(t)]


def _readable_as_deps(rel: str) -> bool:
    return rel.endswith((".txt", ".yml", ".yaml", ".in")) or is_dependency_file(rel)
