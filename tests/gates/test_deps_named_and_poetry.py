"""deps (issue 13): Poetry's ^/~ constraints are audited as ranges in a library, and the
requirements/conda files a dvc.yaml stage installs or depends on are read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlgate.deps.sources.poetry import poetry_specifiers

from ..conftest import run_cli, write


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        ("^1.2.3", [">=1.2.3,<2"]),
        ("^0.2.3", [">=0.2.3,<0.3"]),
        ("^0.0.3", [">=0.0.3,<0.0.4"]),
        ("~1.2.3", [">=1.2.3,<1.3"]),
        ("~1", [">=1,<2"]),
        ("1.2.*", ["==1.2.*"]),
        ("*", [""]),
        (">= 1.2 < 2.0", [">=1.2,<2.0"]),
        ("^1.2 || ^2.0", [">=1.2,<2", ">=2.0,<3"]),
        ("2.10", ["==2.10"]),
        ("~=1.4", ["~=1.4"]),
        ("latest", None),
        ("^x", None),
    ],
)
def test_poetry_constraints_as_pep440(constraint: str, expected: list[str] | None) -> None:
    assert poetry_specifiers(constraint) == expected


PYPROJECT = """\
[build-system]
requires = ["poetry-core"]
build-backend = "poetry.core.masonry.api"

[tool.poetry]
name = "lib"
version = "1.0"

[tool.poetry.dependencies]
python = "^3.10"
jinja2 = "^2.10"
requests = "~2.31"
"""
DVC_YAML = """\
stages:
  train:
    cmd: pip install -r env/train-reqs.txt && python train.py
    deps:
      - train.py
  report:
    wdir: reports
    cmd:
      - conda env create -f ../env/report-env.yml
      - python make_report.py
    deps:
      - make_report.py
      - pins.txt
"""


@pytest.fixture(scope="module")
def deps_report(tmp_path_factory: pytest.TempPathFactory, advisory_db: Path) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("poetry-dvc")
    write(root, "pyproject.toml", PYPROJECT)
    write(root, "pipelines/dvc.yaml", DVC_YAML)
    write(root, "pipelines/env/train-reqs.txt", "pyyaml==5.3\n")
    write(root, "pipelines/env/report-env.yml", "dependencies:\n  - pip:\n    - jinja2==2.10\n")
    write(root, "pipelines/reports/pins.txt", "not a requirements file the stage installs\n")
    write(root, "pipelines/env/unused.txt", "pyyaml==5.3\n")
    done = run_cli(
        ["run", str(root), "deps", "--advisory-db", str(advisory_db), "--format", "json"],
        env={"MLGATE_CACHE_DIR": str(root.parent / f"{root.name}-cache")},
    )
    assert done.stdout.strip(), done.stderr
    return dict(json.loads(done.stdout))


def test_poetry_caret_range_is_audited_in_a_library(deps_report: dict[str, Any]) -> None:
    gate = next(g for g in deps_report["gates"] if g["name"] == "deps")
    assert gate["properties"]["project"] == "library"
    ranges = {
        f["properties"]["package"]: f
        for f in deps_report["findings"]
        if f["rule_id"] == "vulnerable-range" and f["path"] == "pyproject.toml"
    }
    assert set(ranges) == {"jinja2"}  # requests ~2.31 admits no vulnerable version
    jinja = ranges["jinja2"]
    assert jinja["properties"]["range"] == ">=2.10,<3" and jinja["severity"] == "low"
    assert jinja["properties"]["safe_lower_bound"] == "2.11.3"
    assert not any("not audited" in n for n in gate["notes"]), gate["notes"]
    unpinned = [f for f in deps_report["findings"] if f["rule_id"] == "unpinned-dependency"]
    assert unpinned == []


def test_files_a_dvc_stage_installs_are_audited(deps_report: dict[str, Any]) -> None:
    paths = {f["path"] for f in deps_report["findings"] if f["rule_id"] != "vulnerable-range"}
    # The stage's `pip install -r` file and its `conda env create -f` file (relative to the
    # stage's wdir); a `deps:` entry that is no dependency file and an unnamed file are not.
    assert paths == {"pipelines/env/train-reqs.txt", "pipelines/env/report-env.yml"}, paths
