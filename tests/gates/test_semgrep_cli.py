"""semgrep's native command line (`scan --experimental`) against the classic one.

mlgate runs the native one by default (seconds of CPU less per run) and falls back to the
classic one. These tests run the real semgrep both ways over the rule pack's annotated test
files and both examples (notebooks converted as the gate converts them) and require the same
report; and they check the fallback and the report's record of which command line ran.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlgate.gates import GATES, GateContext
from mlgate.gates.sast import (
    SEMGREP_CLASSIC,
    SEMGREP_NATIVE,
    _semgrep_arguments,
    convert_notebooks,
    semgrep_json,
)
from mlgate.repo import open_repo
from mlgate.resources import rule_pack_dir

from ..conftest import EXAMPLES, choose_semgrep_cli, write


def _targets(tmp: Path) -> list[str]:
    """Every file the sast gate would give semgrep: the annotated tests, both examples."""
    targets = [str(p) for p in sorted(rule_pack_dir().glob("*.py"))]
    for name in ("insecure-ml", "churn-model"):
        root = EXAMPLES / name
        repo = open_repo(root)
        files = GATES["sast"].inputs(repo, {}).files
        assert files, f"examples/{name} has no Python files"
        targets += [str(root / f) for f in files if not f.endswith(".ipynb")]
        notebooks = [f for f in files if f.endswith(".ipynb")]
        targets += convert_notebooks(root, notebooks, tmp / name).targets
    assert any(t.endswith(".ipynb.py") for t in targets), "no notebook was converted"
    return targets


def _normalised(report: dict[str, Any]) -> dict[str, Any]:
    """The report's content; rule ids lose the config-path prefix each CLI spells its own way."""
    results = [
        {
            **item,
            "check_id": str(item["check_id"]).rsplit(".", 1)[-1],
            "extra": {k: v for k, v in item["extra"].items() if k != "fingerprint"},
        }
        for item in report["results"]
    ]
    return {
        "results": sorted(results, key=lambda r: json.dumps(r, sort_keys=True)),
        "errors": report["errors"],
        "scanned": sorted(report["paths"]["scanned"]),
    }


@pytest.fixture(scope="module")
def both_reports(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("semgrep-cli")
    options = _semgrep_arguments([rule_pack_dir()], _targets(tmp))
    reports = {}
    for cli in (SEMGREP_NATIVE, SEMGREP_CLASSIC):
        choose_semgrep_cli(cli)
        run = semgrep_json(options, tmp, 600)
        assert run.cli == cli and not run.notes
        assert isinstance(run.data, dict), run.data
        reports[cli] = run.data
    choose_semgrep_cli("auto")
    return reports


def test_native_and_classic_semgrep_report_the_same(
    both_reports: dict[str, dict[str, Any]],
) -> None:
    native = _normalised(both_reports[SEMGREP_NATIVE])
    classic = _normalised(both_reports[SEMGREP_CLASSIC])
    assert len(native["results"]) >= 60 and native["scanned"]
    assert any(r["path"].endswith(".ipynb.py") for r in native["results"])
    assert native == classic


def test_native_semgrep_honours_the_options(both_reports: dict[str, dict[str, Any]]) -> None:
    native = both_reports[SEMGREP_NATIVE]
    # --json gave a report; --config DIR loaded every rule of the pack; no telemetry key
    rules = {str(r["check_id"]).rsplit(".", 1)[-1] for r in native["results"]}
    pack = {p.stem for p in rule_pack_dir().glob("*.py")}
    assert len(rules) >= len(pack)
    assert native["version"] == both_reports[SEMGREP_CLASSIC]["version"]


def test_broken_native_cli_falls_back_to_classic(tmp_path: Path) -> None:
    """A native run that does not produce a report (here: an option only the classic
    command line knows is rejected) makes the classic one run; the note says why."""
    write(tmp_path, "a.py", "import pickle\npickle.loads(b)\n")
    choose_semgrep_cli("auto")
    options = _semgrep_arguments([rule_pack_dir()], ["a.py"])
    run = semgrep_json(["--no-such-option-anywhere", *options], tmp_path, 300)
    assert run.cli == SEMGREP_CLASSIC and isinstance(run.data, str)  # both reject it
    assert run.notes and "native command line failed" in run.notes[0]
    run = semgrep_json(options, tmp_path, 300)
    assert run.cli == SEMGREP_NATIVE and isinstance(run.data, dict) and not run.notes
    choose_semgrep_cli(SEMGREP_NATIVE)
    run = semgrep_json(["--no-such-option-anywhere", *options], tmp_path, 300)
    assert run.cli == SEMGREP_NATIVE and isinstance(run.data, str) and not run.notes


def test_gate_records_which_semgrep_ran(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "import pickle\npickle.loads(b)\n")
    choose_semgrep_cli("auto")
    repo = open_repo(tmp_path)
    gate = GATES["sast"]
    result = gate.run(GateContext(repo, gate.inputs(repo, {}), 300))
    assert not result.errors, result.errors
    assert result.properties["semgrep_cli"] == SEMGREP_NATIVE
    assert {f.rule_id for f in result.findings} >= {"ml-pickle-load"}
