"""The deps engine's one registry: the source that recognises a file is the one that reads it."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from mlgate.deps.services.interface import ServiceError
from mlgate.deps.services.osv import OsvDatabaseService
from mlgate.deps.sources import SOURCES, Requirement, is_lock_file, is_manifest, source_for

RECOGNISED = {
    "requirements.txt": "requirements",
    "ci/dev-requirements.txt": "requirements",
    "requirements/base.txt": "requirements",
    "pkg/pyproject.toml": "pyproject",
    "pylock.dev.toml": "pylock",
    "uv.lock": "package-lock",
    "sub/poetry.lock": "package-lock",
    "setup.cfg": "setup.cfg",
    "Setup.py": "setup.py",
    "envs/environment.yml": "conda",
    "conda.yaml": "conda",
}


@pytest.mark.parametrize(("path", "kind"), sorted(RECOGNISED.items()))
def test_the_source_that_recognises_a_file_reads_it(path: str, kind: str) -> None:
    source = source_for(path)
    assert source is not None and source.kind == kind
    lowered = PurePosixPath(path.lower())
    reader = next(s for s in SOURCES if s.reads_named(lowered))
    assert reader is source


@pytest.mark.parametrize(
    "path", ["notes.txt", "requirements.in", "env/other.yml", "README.md", "setup.py.bak", "x.toml"]
)
def test_other_files_are_not_dependency_files(path: str) -> None:
    assert source_for(path) is None


def test_named_files_fall_back_by_extension() -> None:
    """A file named explicitly (files:, MLproject, dvc.yaml) is read even if no source
    recognises its name: `.yml` as a conda environment, anything else as requirements."""
    kinds = [
        next(s for s in SOURCES if s.reads_named(PurePosixPath(p))).kind
        for p in ("env/other.yml", "requirements.in", "deps/base.pip")
    ]
    assert kinds == ["conda", "requirements", "requirements"]


def test_lock_and_manifest_traits_come_from_the_registry() -> None:
    assert [is_lock_file(p) for p in ("uv.lock", "pylock.toml", "requirements.txt")] == [
        True,
        True,
        False,
    ]
    assert [is_manifest(p) for p in ("a/pyproject.toml", "setup.py", "uv.lock")] == [
        True,
        True,
        False,
    ]


def test_a_service_that_cannot_answer_raises_service_error(tmp_path: Path) -> None:
    service = OsvDatabaseService(tmp_path / "missing")
    with pytest.raises(ServiceError, match=r"advisory database: .* does not exist"):
        service.query([Requirement("jinja2", "2.10", "jinja2==2.10", "requirements.txt", 1)])


# More names sources recognise (the registry's string prefilter must let every one through).
NAMES = [
    "requirements.txt",
    "requirements-dev.txt",
    "dev-requirements.txt",
    "ci_requirements.txt",
    "requirements/base.txt",
    "Requirements/Base.TXT",
    "pyproject.toml",
    "sub/PyProject.toml",
    "pylock.toml",
    "pylock.web.toml",
    "uv.lock",
    "poetry.lock",
    "pdm.lock",
    "setup.cfg",
    "setup.py",
    "SETUP.PY",
    "environment.yml",
    "conda.yaml",
    "a\\b\\requirements.txt",
    "./x/../requirements.txt",
]


@pytest.mark.parametrize("name", [*NAMES, *sorted(RECOGNISED)])
def test_every_recognised_name_passes_the_endings_prefilter(name: str) -> None:
    from mlgate.deps.sources import _path

    path = _path(name)
    assert path is not None
    owners = [s for s in SOURCES if s.recognises(path)]
    assert owners, name  # the list holds dependency files only
    assert path.name.endswith(owners[0].endings)
    assert source_for(name) is owners[0]
