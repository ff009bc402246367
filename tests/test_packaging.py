"""An installed (non-editable) wheel finds its policies and pipeline templates."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path


def test_wheel_contains_the_data_folders(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "mlgate/_data/policies/default.yml" in names
    assert any(
        n.startswith("mlgate/_data/policies/semgrep/rules/") and n.endswith(".yaml") for n in names
    )
    assert any(n.startswith("mlgate/_data/pipeline_templates/") for n in names)
    assert "mlgate/schemas/policy.schema.json" in names
    assert "mlgate/modelfiles/model_globals.json" in names  # the models gate's allowlist data
    assert "mlgate/py.typed" in names


def test_installed_wheel_reads_its_packaged_data(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import mlgate, mlgate.resources as r, mlgate.policy as p;"
        "assert mlgate.__file__.startswith(sys.argv[1]), mlgate.__file__;"
        "assert str(r.policies_dir()).startswith(sys.argv[1]), r.policies_dir();"
        "assert (r.rule_pack_dir() / 'pickle-load.yaml').is_file();"
        "assert r.data_dir('pipeline_templates').is_dir();"
        "import mlgate.modelfiles.allowlist as a;"
        "assert a.defined_in('sklearn.linear_model._logistic', 'LogisticRegression', 'classes');"
        "print(p.load_policy('strict').source)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(target)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(str(target))
