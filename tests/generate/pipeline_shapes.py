"""The repository shapes the generated pipelines are generated for and run on (issue 11):
builders `build(root)` that write a repository into an empty folder (git init is the
caller's). Shared by tests/generate/test_pipeline_runs.py (executed) and tests/generate/test_pipeline_matrix.py
(every shape x level x runner generated and checked)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

from ..conftest import EXAMPLES, REPO_ROOT, fixture_path, write


def example(name: str) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        shutil.copytree(EXAMPLES / name, root)

    return build


SHAPE_DATA = REPO_ROOT / "tests" / "data" / "shapes"
NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Explore"]},
        {
            "cell_type": "code",
            "execution_count": 1,
            "metadata": {},
            "outputs": [{"name": "stdout", "output_type": "stream", "text": ["3\n"]}],
            "source": ["values = [1, 2, 3]\n", "print(max(values))"],
        },
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}
OWN_PIPELINE = """\
# The project's own pipeline, written before mlgate.
stages: [build, test]

own-check:
  stage: build
  script:
    - echo "own job ran for $CI_COMMIT_SHORT_SHA"
"""


def notebooks(root: Path) -> None:
    """Notebooks only: no .py, no dependency file."""
    write(root, "notebooks/explore.ipynb", json.dumps(NOTEBOOK, indent=1))


OWN_WORKFLOW = """\
# The project's own GitHub workflow, written before mlgate.
name: ci
on: [push]
permissions: {}
jobs:
  check:
    runs-on: ubuntu-24.04
    steps:
      - run: echo "own workflow"
"""


def notebooks_with_own_ci(root: Path) -> None:
    """Notebooks only, and a CI of its own: .gitlab-ci.yml and a GitHub workflow."""
    notebooks(root)
    write(root, ".gitlab-ci.yml", OWN_PIPELINE)
    write(root, ".github/workflows/ci.yml", OWN_WORKFLOW)


def add_include(root: Path, init_output: str) -> None:
    """What the user does after init: add the include: lines init printed."""
    assert (root / ".gitlab-ci.yml").read_text() == OWN_PIPELINE  # init left it alone
    lines = init_output.split("add these lines to .gitlab-ci.yml:\n", 1)[1].splitlines()[:2]
    assert lines == ["include:", "  - local: .gitlab/mlgate.yml"], init_output
    with (root / ".gitlab-ci.yml").open("a") as host:
        host.write("\n" + "\n".join(lines) + "\n")


# DVC with a local remote: the raw data is in the remote only (its .dvc file is committed).
RAW = "feature,label\n1,0\n2,1\n3,1\n"
DVC_TRAIN = """\
import json
import os
import pickle

rows = [line.split(",") for line in open("data/raw.csv").read().splitlines()[1:]]
mean = sum(float(r[0]) for r in rows) / len(rows)
os.makedirs("models", exist_ok=True)
with open("models/model.pkl", "wb") as out:
    pickle.dump({"threshold": mean}, out)
with open("metrics.json", "w") as out:
    json.dump({"rows": len(rows)}, out)
"""
DVC_YAML = """\
stages:
  train:
    cmd: python train.py
    deps: [data/raw.csv, train.py]
    outs: [models/model.pkl]
    metrics:
      - metrics.json:
          cache: false
"""


def dvc_remote(root: Path) -> Path:
    """The DVC shape's local remote: beside the repository."""
    return root.parent / "dvc-remote"


def dvc_repo(root: Path) -> None:
    """A DVC pipeline (dvc.yaml) whose raw data is in a local remote only."""
    remote = dvc_remote(root)
    digest = hashlib.md5(RAW.encode(), usedforsecurity=False).hexdigest()  # DVC's address
    stored = remote / "files" / "md5" / digest[:2] / digest[2:]
    stored.parent.mkdir(parents=True)
    stored.write_text(RAW)
    write(root, "train.py", DVC_TRAIN)
    write(root, "dvc.yaml", DVC_YAML)
    write(root, "data/.gitignore", "/raw.csv\n")
    write(
        root,
        "data/raw.csv.dvc",
        f"outs:\n- md5: {digest}\n  size: {len(RAW)}\n  hash: md5\n  path: raw.csv\n",
    )
    write(root, ".dvc/.gitignore", "/config.local\n/tmp\n/cache\n")
    write(
        root,
        ".dvc/config",
        f"[core]\n    remote = store\n    analytics = false\n"
        f"['remote \"store\"']\n    url = {remote}\n",
    )


UV_MODEL_TEST = """\
import pytest
import six


@pytest.mark.model
def test_runs_in_the_locked_environment():
    assert six.__version__ == "1.17.0"
"""


def uv_repo(root: Path) -> None:
    shutil.copytree(fixture_path(SHAPE_DATA / "uv-lock"), root)
    write(root, "tests/test_model.py", UV_MODEL_TEST)
    write(root, "serve.py", "def predict(x):\n    return x\n")


MLPROJECT = """\
name: churn
conda_env: conda.yaml
entry_points:
  main:
    parameters:
      rows: {type: float, default: 3}
    command: "python train.py --rows {rows}"
"""
CONDA_YAML = """\
name: churn
channels: [conda-forge]
dependencies:
  - python=3.11
  - pip
  - tomli=2.0.1
  - pip:
      - six==1.17.0
"""
MLFLOW_TRAIN = """\
import json
import os
import pickle
import sys

import six  # from conda.yaml's pip list
import tomli  # from conda.yaml's conda list

rows = int(float(sys.argv[sys.argv.index("--rows") + 1]))
os.makedirs("models", exist_ok=True)
with open("models/model.pkl", "wb") as out:
    pickle.dump({"rows": rows, "six": six.__version__, "tomli": tomli.__name__}, out)
"""


def mlflow_repo(root: Path) -> None:
    write(root, "MLproject", MLPROJECT)
    write(root, "conda.yaml", CONDA_YAML)
    write(root, "train.py", MLFLOW_TRAIN)


REQUIREMENTS_MODEL_TEST = """\
import pytest
import six


@pytest.mark.model
def test_runs_with_the_pinned_requirements():
    assert six.__version__ == "1.17.0"
"""


def requirements(root: Path) -> None:
    """A plain project: requirements.txt, a `model`-marked test that imports from it."""
    write(root, "app.py", "def predict(x):\n    return x\n")
    write(root, "requirements.txt", "six==1.17.0\n")
    write(root, "tests/test_model.py", REQUIREMENTS_MODEL_TEST)
    write(root, "pytest.ini", "[pytest]\nmarkers =\n    model: model checks\n")


# name -> builder: the two examples and the six shapes of issue 11.
SHAPES: dict[str, Callable[[Path], None]] = {
    "churn-model": example("churn-model"),
    "insecure-ml": example("insecure-ml"),
    "requirements": requirements,
    "uv-lock": uv_repo,
    "dvc": dvc_repo,
    "mlflow": mlflow_repo,
    "notebooks": notebooks,
    "own-gitlab-ci": notebooks_with_own_ci,
}
