"""Repo detection: files are read as text/TOML/YAML, never imported or run."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlgate.detect import DEFAULT_PYTHON, RepoFacts, describe, detect
from mlgate.errors import UsageError

from .conftest import EXAMPLES, git_init, write


def _facts(root: Path) -> RepoFacts:
    return detect(root)


def test_requirements_only(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "numpy==1.26.4\n")
    write(tmp_path, "requirements-dev.txt", "pytest==8.3.3\n")
    write(tmp_path, "src/app.py", "print('hi')\n")
    facts = _facts(tmp_path)
    assert facts.installer == "pip"
    assert facts.install_files == ("requirements-dev.txt", "requirements.txt")
    assert facts.python == DEFAULT_PYTHON and facts.python_source == "default"
    assert not facts.buildable and not facts.dvc and not facts.mlflow
    assert facts.has_python and facts.notes == ()


def test_requirements_in_src_install_the_project(tmp_path: Path) -> None:
    """No root requirements: src/requirements.txt (or requirements/*.txt) is the installer's
    file; deeper ones (docs/, tests/) never are."""
    write(tmp_path, "src/requirements.txt", "numpy==1.26.4\n")
    write(tmp_path, "docs/requirements.txt", "sphinx==8.1.3\n")
    write(tmp_path, "src/train.py", "print('hi')\n")
    facts = _facts(tmp_path)
    assert facts.installer == "pip" and facts.install_files == ("src/requirements.txt",)
    write(tmp_path, "requirements.txt", "pandas==2.2.3\n")
    assert _facts(tmp_path).install_files == ("requirements.txt",)  # the root wins


def test_pyproject_with_uv_lock_picks_python_from_requires_python(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pyproject.toml",
        '[project]\nname = "x"\nversion = "0"\nrequires-python = ">=3.10,<3.12"\n'
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n',
    )
    write(tmp_path, "uv.lock", "version = 1\n")
    facts = _facts(tmp_path)
    assert facts.installer == "uv" and facts.install_files == ("pyproject.toml", "uv.lock")
    assert facts.python == "3.11"  # the preferred 3.12 is excluded: the highest allowed
    assert facts.python_source == "requires-python '>=3.10,<3.12'"
    assert facts.buildable


def test_poetry_caret_constraint_and_python_version_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pyproject.toml",
        '[tool.poetry]\nname = "x"\n[tool.poetry.dependencies]\npython = "^3.10"\n'
        '[build-system]\nrequires = ["poetry-core"]\nbuild-backend = "poetry.core.masonry.api"\n',
    )
    write(tmp_path, "poetry.lock", "# lock\n")
    assert _facts(tmp_path).python == DEFAULT_PYTHON
    write(tmp_path, ".python-version", "3.11.9\n")
    facts = _facts(tmp_path)
    assert facts.installer == "poetry"
    assert (facts.python, facts.python_source) == ("3.11", ".python-version")


def test_version_file_outside_the_declared_range_is_ignored(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[project]\nname = "x"\nrequires-python = ">=3.12"\n')
    write(tmp_path, "runtime.txt", "python-3.10.12\n")
    assert _facts(tmp_path).python == "3.12"
    (tmp_path / "pyproject.toml").unlink()
    facts = _facts(tmp_path)
    assert (facts.python, facts.python_source) == ("3.10", "runtime.txt")


def test_pdm_conda_and_nothing(tmp_path: Path) -> None:
    write(tmp_path, "environment.yml", "name: x\ndependencies: [python=3.11]\n")
    conda = _facts(tmp_path)
    assert conda.installer == "conda" and conda.install_files == ("environment.yml",)
    assert any("install.command" in note for note in conda.notes)
    write(tmp_path, "pyproject.toml", '[project]\nname = "x"\n[tool.pdm]\n')
    write(tmp_path, "pdm.lock", "# lock\n")
    assert _facts(tmp_path).installer == "pdm"
    assert _facts(_empty(tmp_path)).installer == "none"


def _empty(tmp_path: Path) -> Path:
    empty = tmp_path / "empty"
    empty.mkdir()
    return empty


def test_ml_artifacts_dvc_mlflow_and_notebooks(tmp_path: Path) -> None:
    write(tmp_path, "dvc.yaml", "stages: {}\n")
    write(tmp_path, "data/raw.csv.dvc", "outs: []\n")
    write(tmp_path, "data/train.csv", "a,b\n1,2\n")
    write(tmp_path, "datasets/x/part.parquet", "PAR1")
    write(tmp_path, "results.csv", "a\n")  # not under a data folder
    write(tmp_path, "models/clf.joblib", "x")
    write(tmp_path, "weights/net.safetensors", "x")
    write(tmp_path, "notebooks/explore.ipynb", "{}")
    write(tmp_path, "MLproject", "name: x\n")
    (tmp_path / "mlruns" / "0").mkdir(parents=True)
    facts = _facts(tmp_path)
    assert facts.dvc_files == ("data/raw.csv.dvc", "dvc.yaml")
    assert facts.data_files == ("data/train.csv", "datasets/x/part.parquet")
    assert facts.model_files == ("models/clf.joblib", "weights/net.safetensors")
    assert facts.notebooks == ("notebooks/explore.ipynb",)
    assert facts.mlflow_files == ("MLproject", "mlruns/")
    assert facts.has_python  # a notebook is Python


def test_test_markers_from_use_and_declaration(tmp_path: Path) -> None:
    write(tmp_path, "tests/test_data.py", "import pytest\n\n@pytest.mark.data\ndef test_x(): ...\n")
    write(tmp_path, "tests/test_plain.py", "def test_y(): ...\n")
    facts = _facts(tmp_path)
    assert facts.test_files == ("tests/test_data.py", "tests/test_plain.py")
    assert facts.test_markers == ("data",)
    write(tmp_path, "pytest.ini", "[pytest]\nmarkers =\n    model: model quality tests\n")
    assert _facts(tmp_path).test_markers == ("data", "model")


def test_markers_declared_in_pyproject(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pyproject.toml",
        '[tool.pytest.ini_options]\nmarkers = ["model: slow model checks", "other"]\n',
    )
    assert _facts(tmp_path).test_markers == ("model",)


def test_default_branch_from_git(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "")
    assert _facts(tmp_path).default_branch_source.startswith("default")
    git_init(tmp_path)
    subprocess.run(["git", "branch", "-m", "trunk"], cwd=tmp_path, check=True)
    facts = _facts(tmp_path)
    assert (facts.default_branch, facts.default_branch_source) == ("trunk", "current branch")
    subprocess.run(["git", "branch", "master"], cwd=tmp_path, check=True)
    assert _facts(tmp_path).default_branch == "master"


def test_no_python_is_said(tmp_path: Path) -> None:
    write(tmp_path, "README.md", "# docs only\n")
    facts = _facts(tmp_path)
    assert not facts.has_python
    assert any("no Python found" in note for note in facts.notes)
    assert any(line.startswith("note: no Python found") for line in describe(facts))


def test_unprintable_file_names_are_never_used(tmp_path: Path) -> None:
    write(tmp_path, "requirements\n.txt", "x==1\n")
    write(tmp_path, "requirements.txt", "x==1\n")
    assert _facts(tmp_path).install_files == ("requirements.txt",)


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        detect(tmp_path / "missing")
    with pytest.raises(UsageError):
        detect(write(tmp_path, "f.txt", ""))


def test_examples() -> None:
    churn = detect(EXAMPLES / "churn-model")
    assert churn.installer == "pip" and "data/churn.csv" in churn.data_files
    assert churn.test_markers == ("data", "model")
    insecure = detect(EXAMPLES / "insecure-ml")
    assert insecure.notebooks == ("explore.ipynb",)
    assert len(describe(insecure)) >= 11
