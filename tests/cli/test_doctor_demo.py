"""`mlgate doctor` tests the deps gate's data; the demo's bundled advisory subset works."""

from __future__ import annotations

import json
from pathlib import Path

from ..conftest import EXAMPLES, REPO_ROOT, run_cli

SUBSET = EXAMPLES / "advisory-db"


def test_bundled_subset_is_attributed_and_covers_the_examples() -> None:
    assert "Attribution 4.0 International" in (SUBSET / "LICENSE").read_text()
    assert "pypa/advisory-database" in (SUBSET / "README.md").read_text()
    packages = {p.name for p in (SUBSET / "vulns").iterdir()}
    assert {"pyyaml", "requests", "torch", "numpy", "pandas", "scikit-learn"} <= packages


def test_doctor_checks_that_the_offline_database_answers(tmp_path: Path) -> None:
    done = run_cli(["doctor"], env={"MLGATE_ADVISORY_DB": str(SUBSET)})
    assert "deps   offline database loads: pyyaml 5.3.1 has" in done.stdout, done.stdout
    empty = tmp_path / "empty-db"
    empty.mkdir()
    broken = run_cli(["doctor"], env={"MLGATE_ADVISORY_DB": str(empty)})
    assert "deps   offline database does not load" in broken.stdout
    assert broken.returncode == 3
    assert "no vulnerability data" in broken.stderr


def test_insecure_example_deps_with_the_bundled_subset() -> None:
    done = run_cli(
        [
            "run",
            str(EXAMPLES / "insecure-ml"),
            "deps",
            "--advisory-db",
            str(SUBSET),
            "--format",
            "json",
        ]
    )
    report = json.loads(done.stdout)
    assert report["gates"][0]["status"] == "fail" and not report["gates"][0]["errors"]
    packages = {f["properties"].get("package") for f in report["findings"]}
    assert {"pyyaml", "requests"} <= {str(p).lower() for p in packages}, packages


def test_demo_script_checks_each_example_exit_code() -> None:
    script = (REPO_ROOT / "scripts" / "demo.sh").read_text()
    assert "insecure-ml:1 churn-model:0" in script and 'exit "$status"' in script
