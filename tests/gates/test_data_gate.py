"""The data gate: real pandera validation, real drift statistics, real pytest and git runs."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlgate.findings import Finding
from mlgate.gates import GATES, GateContext, GateResult
from mlgate.repo import open_repo
from mlgate.tabular import missing_data_stack

from ..conftest import EXAMPLES, git_init, run_cli, write

CONTRACT = """\
schema_type: dataframe
columns:
  id: {dtype: int64, unique: true}
  age:
    dtype: int64
    checks: {in_range: {min_value: 0, max_value: 120}}
  city:
    dtype: str
    nullable: false
    checks: {isin: [Paris, Rome, Oslo]}
  email:
    dtype: str
    checks: {str_matches: '^[^@]+@[^@]+$'}
metadata: {min_rows: 3}
"""
GOOD_ROWS = ["1,30,Paris,a@b.c", "2,41,Rome,d@e.f", "3,52,Oslo,g@h.i"]
# row 4: age out of range; row 5: duplicate id 2, unknown city; row 6: bad email, null city;
# rows 7-12: six more bad ages (only five samples are kept).
BAD_ROWS = [
    "4,-5,Paris,j@k.l",
    "2,33,Berlin,m@n.o",
    "6,44,,not-an-email",
    *[f"{i},{200 + i},Rome,x{i}@y.z" for i in range(7, 13)],
]


def _csv(rows: list[str]) -> str:
    return "id,age,city,email\n" + "\n".join(rows) + "\n"


def _run(root: Path, timeout: float = 120, **options: Any) -> GateResult:
    repo = open_repo(root)
    gate = GATES["data"]
    return gate.run(GateContext(repo, gate.inputs(repo, options), timeout))


def _dataset(path: str = "data/people.csv", **extra: Any) -> dict[str, Any]:
    return {"datasets": [{"path": path, "contract": "people.schema.yml", **extra}]}


def _by_check(result: GateResult) -> dict[tuple[Any, Any], Finding]:
    return {(f.properties.get("column"), f.properties.get("check")): f for f in result.findings}


@pytest.fixture(scope="session")
def people(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("people")
    write(root, "people.schema.yml", CONTRACT)
    write(root, "data/people.csv", _csv(GOOD_ROWS + BAD_ROWS))
    return root


@pytest.fixture(scope="session")
def people_result(people: Path) -> GateResult:
    return _run(people, **_dataset(), redact_columns=["email"])


# --- contracts ----------------------------------------------------------------------------


def test_each_failing_check_is_one_finding_with_samples(people_result: GateResult) -> None:
    assert not people_result.errors
    found = _by_check(people_result)
    assert set(found) == {
        ("age", "in_range(0, 120)"),
        ("city", "isin(['Paris', 'Rome', 'Oslo'])"),
        ("city", "not_nullable"),
        ("email", "str_matches('^[^@]+@[^@]+$')"),
        ("id", "field_uniqueness"),
    }
    age = found[("age", "in_range(0, 120)")]
    assert age.properties["failing_rows"] == 7
    assert age.properties["samples"] == ["-5", "207", "208", "209", "210"]
    assert age.properties["first_row"] == 4 and age.line == 5  # CSV line: header + row
    assert age.path == "data/people.csv" and age.severity.value == "high"
    assert "7 row(s), e.g. -5, 207" in age.message
    assert found[("id", "field_uniqueness")].properties["failing_rows"] == 2
    assert len({f.fingerprint for f in people_result.findings}) == 5


def test_failing_values_of_redacted_columns_are_never_shown(people_result: GateResult) -> None:
    email = _by_check(people_result)[("email", "str_matches('^[^@]+@[^@]+$')")]
    assert email.properties["redacted"] is True
    assert email.properties["samples"] == ["<redacted>"]
    assert "not-an-email" not in email.message
    assert "not-an-email" not in json.dumps(people_result.properties)


def test_chunks_give_the_same_answer_as_one_read(people: Path, people_result: GateResult) -> None:
    chunked = _run(people, **_dataset(), redact_columns=["email"], chunk_rows=2)
    summary = {k: v.properties["failing_rows"] for k, v in _by_check(chunked).items()}
    whole = {k: v.properties["failing_rows"] for k, v in _by_check(people_result).items()}
    assert summary == whole  # the duplicate ids sit in different chunks and are still found
    uniq = _by_check(chunked)[("id", "field_uniqueness")]
    assert uniq.properties["samples"] == ["2"] and uniq.properties["first_row"] == 2


def test_row_count_bounds_come_from_the_contract_metadata(tmp_path: Path) -> None:
    write(tmp_path, "people.schema.yml", CONTRACT.replace("min_rows: 3", "min_rows: 10"))
    write(tmp_path, "data/people.csv", _csv(GOOD_ROWS))
    result = _run(tmp_path, **_dataset())
    (finding,) = result.findings
    assert finding.properties["check"] == "min_rows(10)"
    assert "found 3" in finding.message


def test_parquet_and_jsonl_are_validated_too(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.read_csv(io.StringIO(_csv(GOOD_ROWS + BAD_ROWS[:1])))
    (tmp_path / "data").mkdir()
    frame.to_parquet(tmp_path / "data" / "people.parquet", index=False)
    frame.to_json(tmp_path / "data" / "people.jsonl", orient="records", lines=True)
    write(tmp_path, "people.schema.yml", CONTRACT)
    result = _run(tmp_path, **_dataset("data/people.*"), chunk_rows=2)
    assert not result.errors
    assert sorted((f.path, f.line) for f in result.findings) == [
        ("data/people.jsonl", 4),
        ("data/people.parquet", None),
    ]
    assert {d["format"] for d in result.properties["datasets"]} == {"parquet", "jsonl"}


def test_a_clean_file_passes(tmp_path: Path) -> None:
    write(tmp_path, "people.schema.yml", CONTRACT)
    write(tmp_path, "data/people.csv", _csv(GOOD_ROWS))
    result = _run(tmp_path, **_dataset())
    assert result.ran and not result.findings
    assert result.properties["datasets"][0]["rows"] == 3


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("contract", "expected"),
    [
        ("columns: [1, 2", "not valid YAML"),
        ("columns:\n  a: {dtype: notatype}", "not a valid pandera YAML schema"),
        ("columns:\n  a: {checks: {no_such_check: 1}}", "no_such_check"),
        ("- a\n- b\n", "not a valid pandera YAML schema"),
    ],
)
def test_an_invalid_contract_is_a_gate_error(tmp_path: Path, contract: str, expected: str) -> None:
    write(tmp_path, "people.schema.yml", contract)
    write(tmp_path, "data/people.csv", _csv(GOOD_ROWS))
    result = _run(tmp_path, **_dataset())
    assert len(result.errors) == 1 and expected in result.errors[0]
    assert "people.schema.yml" in result.errors[0]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"id,age,city,email\n1,30,Paris,a@b.c\n2,41,Rome,d@e.f,EXTRA\n", "Expected 4 fields"),
        (b"id,age,city,email\n1,30,Par\xefs\xff,a@b.c\n", "not valid utf-8"),
        (b"", "not valid CSV"),
    ],
)
def test_an_unreadable_csv_is_a_finding(tmp_path: Path, content: bytes, expected: str) -> None:
    write(tmp_path, "people.schema.yml", CONTRACT)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "people.csv").write_bytes(content)
    result = _run(tmp_path, **_dataset())
    (finding,) = result.findings
    assert finding.rule_id == "dataset-unreadable" and expected in finding.message
    assert not result.errors


def test_a_dataset_that_matches_nothing_is_a_finding(tmp_path: Path) -> None:
    write(tmp_path, "people.schema.yml", CONTRACT)
    result = _run(tmp_path, **_dataset("data/*.csv"))
    (finding,) = result.findings
    assert finding.rule_id == "dataset-missing" and "matches no file" in finding.message


def test_a_dataset_outside_the_repository_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "people.schema.yml", CONTRACT)
    result = _run(tmp_path, **_dataset("../elsewhere.csv"))
    assert "inside the repository" in result.errors[0]


def test_without_the_data_stack_the_gate_errors_with_the_install_command(
    people: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pandera.pandas", None)  # import now raises ImportError
    assert "install mlgate[data]" in (missing_data_stack() or "")
    result = _run(people, **_dataset())
    (error,) = result.errors
    assert "pip install 'mlgate[data]'" in error and not result.findings


def test_nothing_configured_is_skipped_not_passed(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "x = 1\n")
    result = _run(tmp_path)
    assert result.skipped == "no datasets configured and no tests marked `data`"


# --- drift --------------------------------------------------------------------------------


def _numbers(shift: float, seed: int, rows: int = 2000) -> str:
    import numpy as np

    rng = np.random.default_rng(seed)
    lines = ["amount,clicks,plan,user"]
    plans = rng.choice(["free", "pro", "team"], size=rows, p=[0.6, 0.3, 0.1])
    for i, (amount, clicks, plan) in enumerate(
        zip(rng.normal(100 + shift, 15, rows), rng.poisson(3, rows), plans, strict=True)
    ):
        lines.append(f"{amount:.2f},{clicks},{plan},u{seed}-{i}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def drift_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repo whose committed data/events.csv is the reference for a shifted copy."""
    root = tmp_path_factory.mktemp("drift")
    write(root, "data/events.csv", _numbers(0, seed=1))
    git_init(root)
    write(root, "data/events.csv", _numbers(25, seed=2))  # amount moves, the rest does not
    write(root, "data/events_ref.csv", _numbers(0, seed=3))
    return root


def test_drift_against_a_git_ref_names_the_column_that_moved(drift_repo: Path) -> None:
    result = _run(drift_repo, datasets=[{"path": "data/events.csv", "reference": "git:HEAD"}])
    assert not result.errors
    (finding,) = result.findings
    assert finding.rule_id == "drift" and finding.properties["column"] == "amount"
    assert finding.properties["psi"] > 0.2 and finding.properties["ks_pvalue"] < 0.01
    assert "git:HEAD:data/events.csv" in finding.message
    drift = result.properties["datasets"][0]["drift"]
    columns = {c["column"]: c for c in drift["columns"]}
    assert set(columns) == {"amount", "clicks", "plan", "user"}  # every column is listed
    assert not columns["clicks"]["drifted"] and not columns["plan"]["drifted"]
    assert columns["plan"]["kind"] == "categorical" and columns["plan"]["psi"] < 0.05
    assert columns["user"]["psi"] is None and "distinct values" in columns["user"]["note"]


def test_git_ref_with_an_explicit_path_and_a_plain_path_reference(drift_repo: Path) -> None:
    same = _run(
        drift_repo,
        datasets=[{"path": "data/events_ref.csv", "reference": "git:HEAD:data/events.csv"}],
    )
    assert not same.errors and not same.findings
    plain = _run(
        drift_repo, datasets=[{"path": "data/events.csv", "reference": "data/events_ref.csv"}]
    )
    assert [f.properties["column"] for f in plain.findings] == ["amount"]


def test_thresholds_come_from_the_options(drift_repo: Path) -> None:
    spec = {"path": "data/events.csv", "reference": "data/events_ref.csv"}
    lenient = _run(drift_repo, datasets=[spec], psi=5.0, ks_pvalue=0.0)
    assert not lenient.findings and lenient.ran


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("git:no-such-branch", "git ref 'no-such-branch' does not exist"),
        ("git:HEAD:data/nothing.csv", "data/nothing.csv does not exist at git ref 'HEAD'"),
        ("data/nothing.csv", "must name one existing file"),
    ],
)
def test_a_reference_that_does_not_exist_is_a_gate_error(
    drift_repo: Path, reference: str, expected: str
) -> None:
    result = _run(drift_repo, datasets=[{"path": "data/events.csv", "reference": reference}])
    assert len(result.errors) == 1 and expected in result.errors[0]


# --- the repository's own tests -----------------------------------------------------------

MARKED_TESTS = """\
import pytest

@pytest.mark.data
def test_rows_are_fine():
    assert True

@pytest.mark.data
def test_labels_are_balanced():
    assert 0.9 < 0.5, "churn rate out of range"

def test_unmarked_is_not_run():
    assert False
"""
PYTEST_INI = "[pytest]\nmarkers =\n    data: data checks\n"


def test_failing_marked_tests_are_findings(tmp_path: Path) -> None:
    write(tmp_path, "pytest.ini", PYTEST_INI)
    write(tmp_path, "tests/test_data.py", MARKED_TESTS)
    result = _run(tmp_path)
    (finding,) = result.findings
    assert finding.rule_id == "data-test-failed" and finding.tool == "pytest"
    assert finding.path == "tests/test_data.py" and finding.line == 7  # its decorator
    assert "test_labels_are_balanced" in finding.message and "churn rate" in finding.message
    assert result.properties["tests"]["counts"] == {"passed": 1, "failed": 1, "skipped": 0}
    assert not (tmp_path / ".pytest_cache").exists()


def test_a_collection_error_is_a_gate_error(tmp_path: Path) -> None:
    write(tmp_path, "tests/test_data.py", "import pytest\n@pytest.mark.data\ndef test_x(:\n")
    result = _run(tmp_path)
    (error,) = result.errors
    assert "collection error" in error and "test_data.py" in error


def test_marker_mentioned_but_no_test_collected_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, "tests/test_other.py", "# not yet: pytest.mark.data\ndef test_x():\n    pass\n")
    result = _run(tmp_path)
    assert result.skipped is not None


# --- mlgate data infer --------------------------------------------------------------------


def test_infer_writes_a_contract_that_the_file_passes(people: Path, tmp_path: Path) -> None:
    source = tmp_path / "good.csv"
    source.write_text(_csv(GOOD_ROWS), encoding="utf-8")
    out = tmp_path / "good.schema.yml"
    done = run_cli(["data", "infer", str(source), "-o", str(out)])
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Data contract for good.csv") and "index:" not in text
    assert "dtype: str" in text and "dtype: int64" in text
    result = _run(tmp_path, datasets=[{"path": "good.csv", "contract": "good.schema.yml"}])
    assert result.ran and not result.findings
    again = run_cli(["data", "infer", str(source), "-o", str(out)])
    assert again.returncode == 2 and "exists" in again.stderr


def test_infer_of_an_unreadable_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"a,b\n1,\xff\n")
    done = run_cli(["data", "infer", str(bad)])
    assert done.returncode == 2 and "not valid utf-8" in done.stderr


# --- the churn example and its drifted, regressed variant ---------------------------------


def test_churn_example_passes_the_data_and_model_gates(
    churn_run: tuple[int, dict[str, Any], str],
) -> None:
    code, report, _ = churn_run
    gates = {g["name"]: g for g in report["gates"]}
    assert gates["data"]["status"] == "pass" and gates["model"]["status"] == "pass"
    dataset = gates["data"]["properties"]["datasets"][0]
    assert dataset["rows"] == 200 and dataset["violations"] == 0
    assert {c["column"] for c in dataset["drift"]["columns"]} >= {"tenure_months", "churned"}
    assert gates["data"]["properties"]["tests"]["counts"]["passed"] == 2
    metrics = {m["metric"]: m for m in gates["model"]["properties"]["metrics"]}
    assert metrics["accuracy"]["baseline"] == 0.925 and metrics["accuracy"]["threshold"]["min"]
    assert gates["model"]["properties"]["budgets"]["runs"] == 3
    assert code == 0


@pytest.fixture(scope="session")
def regressed_churn(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any]]:
    """A copy of the churn example whose charges drifted and whose accuracy dropped."""
    root = tmp_path_factory.mktemp("churn") / "churn-model"
    shutil.copytree(EXAMPLES / "churn-model", root)
    csv_path = root / "data" / "churn.csv"
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    drifted = [lines[0]]
    for line in lines[1:]:
        cells = line.split(",")
        cells[2] = f"{float(cells[2]) * 1.6:.2f}"  # monthly_charges up 60%: still within contract
        drifted.append(",".join(cells))
    csv_path.write_text("\n".join(drifted) + "\n", encoding="utf-8")
    metrics = json.loads((root / "metrics.json").read_text(encoding="utf-8"))
    metrics["accuracy"] = 0.87  # above the minimum 0.85, but 0.055 below the baseline
    (root / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    done = run_cli(["run", str(root), "data", "model", "--format", "json"])
    return done.returncode, json.loads(done.stdout)


def test_drifted_and_regressed_variant_is_blocked_with_one_reason_each(
    regressed_churn: tuple[int, dict[str, Any]],
) -> None:
    code, report = regressed_churn
    assert code == 1
    reasons = sorted((f["gate"], f["rule_id"], f["message"]) for f in report["findings"])
    assert [r[:2] for r in reasons] == [("data", "drift"), ("model", "metric-regression")]
    assert "column monthly_charges drifted" in reasons[0][2]
    assert "metric accuracy dropped more than max_drop" in reasons[1][2]
    assert "baseline 0.925" in reasons[1][2]
    assert not any(g["errors"] for g in report["gates"])


def test_git_show_is_not_needed_for_a_plain_checkout(tmp_path: Path) -> None:
    """A reference read at a ref never touches the work tree or the index."""
    write(tmp_path, "d.csv", "a\n1\n2\n3\n")
    git_init(tmp_path)
    write(tmp_path, "d.csv", "a\n1\n2\n4\n")
    before = subprocess.run(
        ["git", "status", "--porcelain"], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    _run(tmp_path, datasets=[{"path": "d.csv", "reference": "git:HEAD"}])
    after = subprocess.run(
        ["git", "status", "--porcelain"], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert before.stdout == after.stdout == " M d.csv\n"
