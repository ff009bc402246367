"""What the repository is, read from its files as text, TOML or YAML; never imported or run.

`detect(root)` returns `RepoFacts`: the Python version CI should use and where it came from,
the dependency files and the installer they imply, notebooks, data and model files, DVC and
MLflow, tests and their `data`/`model` pytest markers, and the default branch.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from mlgate import git
from mlgate.config import BRANCH_PATTERN, PYTHON_VERSIONS, test_markers
from mlgate.deps.sources import is_dependency_file
from mlgate.deps.sources.common import parse_toml
from mlgate.repo import Repo, open_repo, read_text
from mlgate.training import TrainingFacts, training_facts

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

# The preferred Python of a generated pipeline (`config.PYTHON_VERSIONS`), used when the
# repo allows it.
DEFAULT_PYTHON = "3.12"
DEFAULT_BRANCH = "main"

MODEL_SUFFIXES = (
    ".pkl",
    ".joblib",
    ".pt",
    ".pth",
    ".ckpt",
    ".h5",
    ".keras",
    ".onnx",
    ".safetensors",
)
DATA_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq", ".jsonl", ".ndjson")
DATA_DIRS = frozenset({"data", "datasets", "dataset"})
DVC_NAMES = ("dvc.yaml", "dvc.lock")
MLFLOW_NAMES = ("MLproject",)
CONDA_FILES = ("environment.yml", "environment.yaml")
_MAX_TEST_FILE = 1_000_000
_MARK_USE = re.compile(r"\bmark\.([A-Za-z_][A-Za-z0-9_]*)\b")
_VERSION_FILE = re.compile(r"(?:python-)?(3\.\d+)")


@dataclass(frozen=True)
class RepoFacts:
    """Everything `mlgate init` and `generate` need to know about a repository."""

    python: str
    python_source: str
    installer: str
    install_files: tuple[str, ...]
    buildable: bool
    dependency_files: tuple[str, ...]
    python_files: tuple[str, ...]
    notebooks: tuple[str, ...]
    data_files: tuple[str, ...]
    model_files: tuple[str, ...]
    dvc_files: tuple[str, ...]
    mlflow_files: tuple[str, ...]
    test_files: tuple[str, ...]
    test_markers: tuple[str, ...]
    default_branch: str
    default_branch_source: str
    notes: tuple[str, ...] = field(default=())
    training: TrainingFacts = field(default_factory=TrainingFacts)

    @property
    def has_python(self) -> bool:
        return bool(self.python_files or self.notebooks or self.installer != "none")

    @property
    def dvc(self) -> bool:
        return bool(self.dvc_files)

    @property
    def mlflow(self) -> bool:
        return bool(self.mlflow_files)


def detect(root: Path, exclude: Sequence[str] = ()) -> RepoFacts:
    """Detect the facts of the repository at `root` (a UsageError if it is not a directory)."""
    listed = open_repo(root, exclude)
    # A name with a line break could break out of a YAML line or comment: never use one.
    repo = Repo(**{**listed.__dict__, "files": tuple(f for f in listed.files if f.isprintable())})
    pyproject = _pyproject(repo)
    installer, install_files = _installer(repo, pyproject)
    python, python_source = _python(repo, pyproject)
    branch, branch_source = _default_branch(repo)
    tests = tuple(f for f in repo.files if _is_test_file(f))
    facts = RepoFacts(
        python=python,
        python_source=python_source,
        installer=installer,
        install_files=install_files,
        buildable=_buildable(pyproject, installer),
        dependency_files=tuple(f for f in repo.files if _is_dependency(f)),
        python_files=tuple(f for f in repo.files if f.endswith(".py")),
        notebooks=tuple(f for f in repo.files if f.endswith(".ipynb")),
        data_files=tuple(f for f in repo.files if _is_data_file(f)),
        model_files=tuple(f for f in repo.files if f.lower().endswith(MODEL_SUFFIXES)),
        dvc_files=tuple(f for f in repo.files if f in DVC_NAMES or f.endswith(".dvc")),
        mlflow_files=_mlflow(repo),
        test_files=tests,
        test_markers=_test_markers(repo, tests, pyproject),
        default_branch=branch,
        default_branch_source=branch_source,
        training=training_facts(repo, install_files),
    )
    return RepoFacts(**{**facts.__dict__, "notes": _notes(facts)})


def describe(facts: RepoFacts) -> list[str]:
    """The facts as short human-readable lines (the CLI prints them)."""
    return [
        f"python          {facts.python} ({facts.python_source})",
        f"installer       {facts.installer}" + _listing(facts.install_files, " from "),
        f"dependencies    {_listing(facts.dependency_files) or 'none'}",
        f"python files    {len(facts.python_files)}",
        f"notebooks       {_count(facts.notebooks)}",
        f"data files      {_count(facts.data_files)}",
        f"model files     {_count(facts.model_files)}",
        f"DVC             {_listing(facts.dvc_files) or 'no'}",
        f"MLflow          {_listing(facts.mlflow_files) or 'no'}"
        + (f" (environment {facts.training.mlflow_env})" if facts.training.mlflow_env else ""),
        *(
            [f"DVC remotes     {_listing(facts.training.dvc_remotes)}"]
            if facts.training.dvc_remotes
            else []
        ),
        f"tests           {len(facts.test_files)} file(s); pytest markers: "
        + (", ".join(facts.test_markers) or "none of data, model"),
        f"default branch  {facts.default_branch} ({facts.default_branch_source})",
        *(f"note: {note}" for note in facts.notes),
    ]


def _listing(items: Sequence[str], prefix: str = "", limit: int = 4) -> str:
    if not items:
        return ""
    shown = ", ".join(items[:limit]) + (
        f", ... ({len(items)} in all)" if len(items) > limit else ""
    )
    return prefix + shown


def _count(items: Sequence[str]) -> str:
    return f"{len(items)}" + (f" ({_listing(items)})" if items else "")


def _notes(facts: RepoFacts) -> tuple[str, ...]:
    notes = []
    if not facts.has_python:
        notes.append(
            "no Python found (no .py, .ipynb or Python dependency file): the code gates are "
            "generated anyway, so Python added later is checked from its first commit"
        )
    if facts.installer == "conda":
        notes.append(
            "conda environment file: set `install.command` in .mlgate.yml to how CI installs "
            "the project; the jobs that need it (training, data and model gates) stop until then"
        )
    return tuple(notes)


# --- python version ---------------------------------------------------------------------------


def _python(repo: Repo, pyproject: Mapping[str, Any]) -> tuple[str, str]:
    """An exact version file wins when the declared range allows it; else the best of the range."""
    spec_text, spec_source = _requires_python(pyproject)
    spec = _specifier(spec_text)
    for name in (".python-version", "runtime.txt"):
        if name in repo.files:
            found = _VERSION_FILE.search(read_text(repo.root, name))
            if found and found.group(1) in PYTHON_VERSIONS and _allows(spec, found.group(1)):
                return found.group(1), name
    if spec is not None:
        allowed = [v for v in PYTHON_VERSIONS if _allows(spec, v)]
        if allowed:
            best = DEFAULT_PYTHON if DEFAULT_PYTHON in allowed else allowed[-1]
            return best, f"{spec_source} {spec_text!r}"
        return DEFAULT_PYTHON, f"default: {spec_source} {spec_text!r} allows no supported version"
    return DEFAULT_PYTHON, "default"


def _requires_python(pyproject: Mapping[str, Any]) -> tuple[str | None, str]:
    project = _table(pyproject, "project")
    if isinstance(project.get("requires-python"), str):
        return project["requires-python"], "requires-python"
    poetry_python = _table(pyproject, "tool", "poetry", "dependencies").get("python")
    if isinstance(poetry_python, str):
        return poetry_python, "tool.poetry.dependencies.python"
    return None, ""


def _specifier(text: str | None) -> SpecifierSet | None:
    if not text:
        return None
    # packaging's specifier grammar (and configparser, `_ini_markers`): loaded when a
    # pipeline is written, not with this module
    from packaging.specifiers import InvalidSpecifier, SpecifierSet  # noqa: PLC0415

    try:
        return SpecifierSet(_poetry_to_pep440(text))
    except InvalidSpecifier:
        return None


def _poetry_to_pep440(text: str) -> str:
    """Poetry's `^3.10` and `~3.10` constraints as PEP 440 ranges; PEP 440 text unchanged."""
    parts = []
    for raw in text.replace("||", ",").split(","):
        item = raw.strip()
        match = re.fullmatch(r"([\^~])(\d+)\.(\d+)(?:\.\d+)?", item)
        if match is None:
            parts.append(item)
            continue
        op, major, minor = match.groups()
        upper = f"{int(major) + 1}.0" if op == "^" else f"{major}.{int(minor) + 1}"
        parts.append(f">={major}.{minor},<{upper}")
    return ",".join(p for p in parts if p)


def _allows(spec: SpecifierSet | None, minor: str) -> bool:
    return spec is None or any(spec.contains(f"{minor}.{patch}") for patch in (0, 99))


# --- dependencies and installer -----------------------------------------------------------


def _pyproject(repo: Repo) -> Mapping[str, Any]:
    if "pyproject.toml" not in repo.files:
        return {}
    try:
        return parse_toml(read_text(repo.root, "pyproject.toml"))
    except ValueError:  # tomllib.TOMLDecodeError
        return {}


def _table(doc: Mapping[str, Any], *keys: str) -> Mapping[str, Any]:
    node: Any = doc
    for key in keys:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else {}


def _is_dependency(path: str) -> bool:
    name = PurePosixPath(path).name
    return is_dependency_file(path) or name in ("uv.lock", "poetry.lock", "pdm.lock", *CONDA_FILES)


# Where a project keeps the requirements that install it, when not at the root.
REQUIREMENTS_DIRS = ("src", "requirements")


def _root_requirements(repo: Repo) -> tuple[str, ...]:
    """Requirements files at the root; else those directly in src/ or requirements/."""
    found = [f for f in repo.files if f.endswith(".txt") and is_dependency_file(f)]
    root = tuple(f for f in found if "/" not in f)
    if root:
        return root
    return tuple(f for f in found if f.count("/") == 1 and f.split("/")[0] in REQUIREMENTS_DIRS)


def _is_buildable(pyproject: Mapping[str, Any]) -> bool:
    return bool(_table(pyproject, "project") or _table(pyproject, "build-system"))


def _buildable(pyproject: Mapping[str, Any], installer: str) -> bool:
    """Whether `pip install .` installs the project itself (not a virtual/non-package project)."""
    if _table(pyproject, "tool", "poetry").get("package-mode") is False:
        return False
    if _table(pyproject, "tool", "uv").get("package") is False:
        return False
    return "build-system" in pyproject or (installer == "pip" and "project" in pyproject)


def _lock_installer(lock: str) -> Callable[[Repo, Mapping[str, Any]], tuple[str, ...] | None]:
    def check(repo: Repo, pyproject: Mapping[str, Any]) -> tuple[str, ...] | None:
        return ("pyproject.toml", lock) if lock in repo.files and pyproject else None

    return check


def _pip(repo: Repo, pyproject: Mapping[str, Any]) -> tuple[str, ...] | None:
    files = _root_requirements(repo) + (("pyproject.toml",) if _is_buildable(pyproject) else ())
    return files or None


def _conda(repo: Repo, pyproject: Mapping[str, Any]) -> tuple[str, ...] | None:
    found = tuple(f for f in CONDA_FILES if f in repo.files)
    return found[:1] or None


# First match wins: a lock file names its tool; plain requirements or a buildable pyproject
# mean pip; a conda environment file alone means conda.
INSTALLER_DETECTORS: tuple[
    tuple[str, Callable[[Repo, Mapping[str, Any]], tuple[str, ...] | None]], ...
] = (
    ("uv", _lock_installer("uv.lock")),
    ("poetry", _lock_installer("poetry.lock")),
    ("pdm", _lock_installer("pdm.lock")),
    ("pip", _pip),
    ("conda", _conda),
)


def _installer(repo: Repo, pyproject: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    for name, check in INSTALLER_DETECTORS:
        files = check(repo, pyproject)
        if files:
            return name, files
    return "none", ()


# --- ML artifacts -------------------------------------------------------------------------


def _is_data_file(path: str) -> bool:
    parts = PurePosixPath(path).parts
    in_data_dir = any(part.lower() in DATA_DIRS for part in parts[:-1])
    return in_data_dir and path.lower().endswith(DATA_SUFFIXES)


def _mlflow(repo: Repo) -> tuple[str, ...]:
    found = [f for f in repo.files if PurePosixPath(f).name in MLFLOW_NAMES]
    if (repo.root / "mlruns").is_dir():  # never listed: repo.SKIP_DIRS leaves it out
        found.append("mlruns/")
    return tuple(found)


# --- tests --------------------------------------------------------------------------------


def _is_test_file(path: str) -> bool:
    pure = PurePosixPath(path)
    if pure.suffix != ".py":
        return False
    return (
        pure.name.startswith("test_")
        or pure.name.endswith("_test.py")
        or ("tests" in pure.parts[:-1] and pure.name == "conftest.py")
    )


def _test_markers(
    repo: Repo, tests: Iterable[str], pyproject: Mapping[str, Any]
) -> tuple[str, ...]:
    """The gates' markers (`data`, `model`) used in the tests (`@pytest.mark.data`) or
    declared in config."""
    found: set[str] = set(_declared_markers(repo, pyproject))
    for path in tests:
        full = repo.root / path
        if full.stat().st_size <= _MAX_TEST_FILE:
            found.update(_MARK_USE.findall(read_text(repo.root, path)))
    return tuple(m for m in test_markers() if m in found)


def _declared_markers(repo: Repo, pyproject: Mapping[str, Any]) -> list[str]:
    declared = _table(pyproject, "tool", "pytest", "ini_options").get("markers")
    lines = [str(m) for m in declared] if isinstance(declared, list) else []
    for name, section in (
        ("pytest.ini", "pytest"),
        ("setup.cfg", "tool:pytest"),
        ("tox.ini", "pytest"),
    ):
        if name in repo.files:
            lines.extend(_ini_markers(read_text(repo.root, name), section))
    return [line.split(":", 1)[0].strip() for line in lines]


def _ini_markers(text: str, section: str) -> list[str]:
    import configparser  # noqa: PLC0415

    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    value = parser.get(section, "markers", fallback="")
    return [line.strip() for line in value.splitlines() if line.strip()]


# --- git ----------------------------------------------------------------------------------


def _git(repo: Repo, *args: str) -> str | None:
    return git.output_or_none(repo.root, *args)


def _default_branch(repo: Repo) -> tuple[str, str]:
    """origin's HEAD, else a local main/master, else the current branch, else `main`."""
    if not repo.is_git:
        return DEFAULT_BRANCH, "default: not a git repository"
    remote = _git(repo, "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD")
    if remote and "/" in remote and _safe_branch(remote.split("/", 1)[1]):
        return remote.split("/", 1)[1], "origin/HEAD"
    for name in ("main", "master"):
        if _git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{name}"):
            return name, "local branch"
    current = _git(repo, "symbolic-ref", "--quiet", "--short", "HEAD")
    if current and _safe_branch(current):
        return current, "current branch"
    return DEFAULT_BRANCH, "default"


def _safe_branch(name: str) -> bool:
    return re.match(BRANCH_PATTERN, name) is not None
