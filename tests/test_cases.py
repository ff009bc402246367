"""Golden repositories, discovered: `tests/cases/<gate>/{pass,fail}/<case>/` (see its README)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlgate.gates import GATES

from .conftest import REPO_ROOT, fixture_path, git_init, run_cli

CASES = REPO_ROOT / "tests" / "cases"
OUTCOMES = {"pass": 0, "fail": 1}
# Fake credentials are assembled at run time, so the case files hold none.
FAKES = {"{{FAKE_HF_TOKEN}}": "hf_" + "ZqeLmVtRbXwKpNcHyTfGdJsQeUaBoPwXcR"}


@dataclass(frozen=True)
class Case:
    gate: str
    outcome: str
    path: Path

    def __str__(self) -> str:
        return f"{self.gate}/{self.outcome}/{self.path.name}"

    @property
    def expected(self) -> set[str]:
        """The rule ids that must block, exactly (none for a pass case)."""
        if self.outcome == "pass":
            return set()
        expect = fixture_path(self.path.with_name(self.path.name + ".expect"))
        return {line.strip() for line in expect.read_text().splitlines() if line.strip()}


def discover() -> list[Case]:
    return [
        Case(gate.name, outcome.name, case)
        for gate in sorted(fixture_path(CASES).iterdir())
        if gate.is_dir()
        for outcome in sorted(gate.iterdir())
        if outcome.is_dir()
        for case in sorted(outcome.iterdir())
        if case.is_dir()
    ]


def test_every_gate_has_cases_that_pass_and_fail() -> None:
    found = {(case.gate, case.outcome) for case in discover()}
    assert found == {(gate, outcome) for gate in GATES for outcome in OUTCOMES}
    expects = {p.with_suffix("") for p in CASES.glob("*/fail/*.expect")}
    assert expects == {case.path for case in discover() if case.outcome == "fail"}
    assert all(case.expected for case in discover() if case.outcome == "fail")


def _copy(case: Case, dest: Path) -> Path:
    root = dest / case.path.name
    shutil.copytree(case.path, root)
    for path in (p for p in root.rglob("*") if p.is_file() and p.suffix in (".py", ".yml")):
        text = path.read_text(encoding="utf-8")
        for marker, value in FAKES.items():
            text = text.replace(marker, value)
        path.write_text(text, encoding="utf-8")
    git_init(root)
    return root


@pytest.mark.slow
@pytest.mark.parametrize("case", discover(), ids=str)
def test_case(case: Case, tmp_path: Path, advisory_db: Path) -> None:
    root = _copy(case, tmp_path)
    options = ["--advisory-db", str(advisory_db), "--format", "json", "--quiet", "--no-cache"]
    done = run_cli(["run", str(root), case.gate, *options])
    report = json.loads(done.stdout)
    (gate,) = report["gates"]
    assert gate["errors"] == [] and gate["skipped"] is None, gate
    assert done.returncode == OUTCOMES[case.outcome], done.stderr[-2000:]
    blocking = {f["rule_id"] for f in report["findings"] if f["blocking"]}
    assert blocking == case.expected
