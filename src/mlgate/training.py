"""What continuous training needs to know about a repository, read from its files (never run).

- DVC: the remotes in `.dvc/config` (their URL schemes name the `dvc[...]` plugins CI
  installs; a remote means `dvc pull` before `dvc repro` and `dvc push` after), the outputs
  and metrics of the stages in `dvc.yaml` (what training produces and CI keeps), and whether
  the project installs dvc itself.
- MLflow: the environment file an `MLproject` names (`conda_env:` or `python_env:`), its pip
  requirements (conda-only here: the conda entries `name=1.2` become `name==1.2`; `python`
  and `pip` are skipped), and the `main` entry point's command with its parameter defaults.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mlgate.confine import is_inside
from mlgate.deps.sources import read_dependency_file
from mlgate.repo import Repo, read_text
from mlgate.yamlimport import yaml

DVC_CONFIG = ".dvc/config"
# URL scheme of a DVC remote -> the dvc extra that installs its plugin.
DVC_PLUGINS = {
    "s3": "s3",
    "gs": "gs",
    "gcs": "gs",
    "azure": "azure",
    "gdrive": "gdrive",
    "ssh": "ssh",
    "sftp": "ssh",
    "http": "http",
    "https": "http",
    "webdav": "webdav",
    "webdavs": "webdav",
    "oss": "oss",
    "hdfs": "hdfs",
    "webhdfs": "webhdfs",
}
# `['remote "name"']` as DVC writes it, or `remote "name"`.
_REMOTE_SECTION = re.compile(r"""^'?\s*remote\s+"(.+)"\s*'?$""")
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SKIP = frozenset({"python", "pip"})


@dataclass(frozen=True)
class TrainingFacts:
    dvc_remotes: tuple[str, ...] = ()  # remote URLs in .dvc/config
    dvc_outputs: tuple[str, ...] = ()  # outs and metrics of the dvc.yaml stages
    dvc_in_project: bool = False  # the project's own dependencies install dvc
    mlflow_env: str | None = None  # the env file MLproject names
    mlflow_requirements: tuple[str, ...] = ()  # its pip requirements
    mlflow_command: str | None = None  # the main entry point, parameters at their defaults

    @property
    def dvc_plugins(self) -> tuple[str, ...]:
        schemes = (url.split("://", 1)[0].lower() for url in self.dvc_remotes if "://" in url)
        return tuple(sorted({DVC_PLUGINS[s] for s in schemes if s in DVC_PLUGINS}))


def training_facts(repo: Repo, install_files: Sequence[str]) -> TrainingFacts:
    env, requirements, command = _mlflow(repo)
    return TrainingFacts(
        dvc_remotes=_dvc_remotes(repo),
        dvc_outputs=_dvc_outputs(repo),
        dvc_in_project=any(
            req.name == "dvc" for rel in install_files for req in _requirements(repo, rel)
        ),
        mlflow_env=env,
        mlflow_requirements=requirements,
        mlflow_command=command,
    )


def _requirements(repo: Repo, rel: str) -> list[Any]:
    return read_dependency_file(repo.root, rel)[0]


# --- DVC ----------------------------------------------------------------------------------


def _dvc_remotes(repo: Repo) -> tuple[str, ...]:
    # .dvc/ is never listed (repo.SKIP_DIRS): read the file itself, if it stays in the repo
    config = repo.root / DVC_CONFIG
    if not config.is_file() or not is_inside(config, repo.root):
        return ()
    import configparser  # noqa: PLC0415 (read only when pipelines are written)

    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(read_text(repo.root, DVC_CONFIG))
    except configparser.Error:
        return ()
    urls = []
    for section in parser.sections():
        url = parser[section].get("url", "").strip()
        if _REMOTE_SECTION.match(section) and url:
            urls.append(url)
    return tuple(urls)


def _dvc_outputs(repo: Repo) -> tuple[str, ...]:
    data = _yaml(repo, "dvc.yaml")
    stages = data.get("stages") if isinstance(data, dict) else None
    found: list[str] = []
    for stage in (stages or {}).values() if isinstance(stages, dict) else ():
        if not isinstance(stage, dict):
            continue
        base = str(stage.get("wdir") or ".")
        for key in ("outs", "metrics", "plots"):
            for entry in stage.get(key) or ():
                path = entry if isinstance(entry, str) else _single_key(entry)
                if path and "${" not in path:
                    found.append(posixpath.normpath(posixpath.join(base, path)))
    return tuple(dict.fromkeys(p for p in found if not p.startswith("..")))


def _single_key(entry: object) -> str | None:
    if isinstance(entry, dict) and len(entry) == 1:
        return str(next(iter(entry)))
    return None


# --- MLflow -------------------------------------------------------------------------------


def _mlflow(repo: Repo) -> tuple[str | None, tuple[str, ...], str | None]:
    if "MLproject" not in repo.files:
        return None, (), None
    data = _yaml(repo, "MLproject")
    if not isinstance(data, dict):
        return None, (), None
    env = next(
        (
            posixpath.normpath(str(data[key]))
            for key in ("python_env", "conda_env")
            if isinstance(data.get(key), str)
        ),
        None,
    )
    requirements = _env_requirements(repo, env) if env in repo.files else ()
    return env, requirements, _main_command(data)


def _env_requirements(repo: Repo, rel: str | None) -> tuple[str, ...]:
    data = _yaml(repo, rel or "")
    deps = data.get("dependencies") if isinstance(data, dict) else None
    found: list[str] = []
    for entry in deps or () if isinstance(deps, list) else ():
        if isinstance(entry, dict) and isinstance(entry.get("pip"), list):
            found.extend(str(s).strip() for s in entry["pip"] if not str(s).startswith("-"))
        elif isinstance(entry, str):
            spec = _conda_to_pip(entry.strip())
            if spec:
                found.append(spec)
    return tuple(dict.fromkeys(f for f in found if _safe(f)))


def _safe(text: str) -> bool:
    """Text that may go into a generated script: one line, no GitHub expression."""
    return text.isprintable() and "${{" not in text


def _conda_to_pip(entry: str) -> str | None:
    """`numpy=1.26.4=h123` -> `numpy==1.26.4`; `scikit-learn>=1.3` as is; python/pip: None."""
    bare = entry.rsplit("::", maxsplit=1)[-1]
    name = re.split(r"[=<>!~\s]", bare, maxsplit=1)[0]
    if not name or name.lower() in _SKIP:
        return None
    rest = bare[len(name) :].strip()
    if rest.startswith("=") and not rest.startswith("=="):
        return f"{name}=={rest[1:].split('=')[0]}"
    return f"{name}{rest}"


def _main_command(data: Mapping[str, Any]) -> str | None:
    points = data.get("entry_points")
    main = points.get("main") if isinstance(points, dict) else None
    if not isinstance(main, dict) or not isinstance(main.get("command"), str):
        return None
    found_params = main.get("parameters")
    params: Mapping[str, Any] = found_params if isinstance(found_params, dict) else {}
    defaults = {
        k: str(v["default"] if isinstance(v, dict) else v)
        for k, v in params.items()
        if not isinstance(v, dict) or "default" in v
    }
    command = " ".join(str(main["command"]).split())
    if any(name not in defaults for name in _PARAM.findall(command)):
        return None  # a parameter without a default: the user sets train_command
    found = _PARAM.sub(lambda m: defaults[m.group(1)], command)
    return found if _safe(found) else None


def _yaml(repo: Repo, rel: str) -> Any:
    if not rel or rel not in repo.files:
        return None
    try:
        return yaml.safe_load(read_text(repo.root, rel))
    except yaml.YAMLError:
        return None
