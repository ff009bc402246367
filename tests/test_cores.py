"""Each command's core returns data and prints nothing; the CLI alone prints and exits.

The merge and verify cores are tested in test_merge_verify.py, beside the real runs they
reuse; here: doctor, init/generate and `data infer`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlgate.doctor import DoctorOptions, check, deps_data
from mlgate.generate.project import render_repo
from mlgate.generate.scaffold import plan_init
from mlgate.toollock import TOOLS

from .conftest import EXAMPLES, git_init

SUBSET = EXAMPLES / "advisory-db"


def test_doctor_core_returns_checks_and_prints_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = check(DoctorOptions(advisory_db=SUBSET, tools_problem="a bad pin", services=()))
    assert found.tools == () and found.tools_dir is None
    assert found.missing >= len(TOOLS)  # every pinned scanner counts as missing
    assert found.deps.ok and "pyyaml 5.3.1 has" in found.deps.state
    assert found.advisory_db == SUBSET and not found.healthy
    assert {(g.gate, g.tool) for g in found.gate_tools} >= {("model", "pytest")}
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = deps_data(empty)
    assert not broken.ok and broken.state.startswith("offline database does not load")
    assert capsys.readouterr() == ("", "")


def test_init_and_generate_cores_plan_without_writing_or_printing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "churn"
    shutil.copytree(EXAMPLES / "churn-model", repo)
    git_init(repo)
    before = sorted(p.relative_to(repo) for p in repo.rglob("*") if ".git" not in p.parts)
    plan = plan_init(repo, ["github"], 0)
    paths = [f.path for f in plan.files]
    assert ".mlgate.yml" in paths and ".github/workflows/mlgate.yml" in paths
    assert "datasets" in plan.config_text or "data" in plan.config_text
    rendered = render_repo(repo, "gitlab")
    assert list(rendered.files) == [".gitlab-ci.yml"]
    assert "mlgate" in rendered.files[".gitlab-ci.yml"]
    after = sorted(p.relative_to(repo) for p in repo.rglob("*") if ".git" not in p.parts)
    assert after == before  # planned and rendered, nothing written
    assert capsys.readouterr() == ("", "")


def test_data_infer_core_returns_the_contract(capsys: pytest.CaptureFixture[str]) -> None:
    from mlgate.tabular.infer import infer_contract

    text = infer_contract(EXAMPLES / "churn-model" / "data" / "churn.csv", None, 50)
    assert "schema_type: dataframe" in text and "from its first 50 rows" in text
    assert "  tenure_months:\n    dtype: int64" in text
    assert capsys.readouterr() == ("", "")


def test_run_core_returns_the_decided_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlgate.core import RunOptions, run
    from mlgate.errors import UsageError

    (tmp_path / "app.py").write_text("x = 1\n", encoding="utf-8")
    done = run(RunOptions(tmp_path, ("data", "model"), use_cache=False))
    assert done.report.mode == {"kind": "full", "gates": ["data", "model"]}
    assert [r.gate for r in done.report.run.results] == ["data", "model"]
    assert all(r.skipped for r in done.report.run.results)  # nothing configured
    assert done.repo.files == ("app.py",) and done.cache_problem is None
    with pytest.raises(UsageError, match="unknown gate 'nope'"):
        run(RunOptions(tmp_path, ("nope",)))
    assert capsys.readouterr() == ("", "")
