"""How CI installs the project, one recipe per installer (`config.INSTALL_TOOLS`).

Every recipe installs into the job's one Python with pip, so one pip cache serves all of
them. Lock files are exported to a hash-pinned requirements file first: pip then installs
exactly what the lock says, and refuses anything whose hash differs.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence

# The runner's temporary directory (a CI scratch file, never inside the scanned checkout).
EXPORTED = '"${TMPDIR:-/tmp}/mlgate-requirements.txt"'  # quoted for the shell
Recipe = Callable[[Sequence[str], bool], tuple[str, ...]]


def _pip(files: Sequence[str], buildable: bool) -> tuple[str, ...]:
    lines = [f"python -m pip install -r {shlex.quote(f)}" for f in files if f.endswith(".txt")]
    if buildable:
        lines.append("python -m pip install .")
    return tuple(lines)


def _locked(*export: str) -> Recipe:
    def recipe(files: Sequence[str], buildable: bool) -> tuple[str, ...]:
        install = [*export, f"python -m pip install -r {EXPORTED}"]
        return tuple(install + (["python -m pip install --no-deps ."] if buildable else []))

    return recipe


def _conda(files: Sequence[str], buildable: bool) -> tuple[str, ...]:
    return (
        'echo "mlgate: set install.command in .mlgate.yml to install this conda project" >&2',
        "exit 1",
    )


def _none(files: Sequence[str], buildable: bool) -> tuple[str, ...]:
    return ()


RECIPES: dict[str, Recipe] = {
    "pip": _pip,
    "uv": _locked(
        "python -m pip install uv",
        "uv export --frozen --all-groups --no-emit-project --format requirements-txt"
        f" --output-file {EXPORTED}",
    ),
    "poetry": _locked(
        "python -m pip install poetry poetry-plugin-export",
        f"poetry export --all-groups --format requirements.txt --output {EXPORTED}",
    ),
    "pdm": _locked(
        "python -m pip install pdm",
        f"pdm export --group :all --format requirements --output {EXPORTED}",
    ),
    "conda": _conda,
    "none": _none,
}


def install_lines(tool: str, files: Sequence[str], buildable: bool) -> tuple[str, ...]:
    """The shell lines that install the project with `tool` (see RECIPES)."""
    return RECIPES[tool](files, buildable)
