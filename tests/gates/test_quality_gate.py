"""The model gate: metrics and baselines (files, git refs, MLflow), budgets, model card, tests."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from mlgate.findings import Finding
from mlgate.gates import GATES, GateContext, GateResult
from mlgate.gates.quality import card_sections, flatten, parse_metrics, percentile
from mlgate.repo import open_repo

from ..conftest import git_init, write

METRICS = {"accuracy": 0.91, "eval": {"auc": 0.88, "loss": 0.31, "split": "test"}, "ok": True}
BASELINE = {"accuracy": 0.93, "eval": {"auc": 0.87, "loss": 0.25}}


def _run(root: Path, timeout: float = 120, **options: Any) -> GateResult:
    repo = open_repo(root)
    gate = GATES["model"]
    return gate.run(GateContext(repo, gate.inputs(repo, options), timeout))


def _rules(result: GateResult) -> list[str]:
    return sorted(f.rule_id for f in result.findings)


def _one(result: GateResult, rule: str) -> Finding:
    (found,) = [f for f in result.findings if f.rule_id == rule]
    return found


@pytest.fixture(scope="session")
def metrics_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repo whose committed metrics are BASELINE; the work tree has METRICS."""
    root = tmp_path_factory.mktemp("metrics")
    write(root, "metrics.json", json.dumps(BASELINE))
    write(root, "eval/extra.yaml", "f1: 0.7\n")
    git_init(root)
    write(root, "metrics.json", json.dumps(METRICS))
    write(root, "baseline.json", json.dumps(BASELINE))
    return root


# --- reading metrics ----------------------------------------------------------------------


def test_metrics_are_flattened_by_dotted_path() -> None:
    assert flatten(METRICS) == {"accuracy": 0.91, "eval.auc": 0.88, "eval.loss": 0.31}
    assert parse_metrics("a:\n  b: 2\n", "m.yaml") == {"a.b": 2.0}


def test_thresholds_each_violated_check_is_one_finding(metrics_repo: Path) -> None:
    result = _run(
        metrics_repo,
        metrics_files=["metrics.json", "eval/extra.yaml"],
        metrics={
            "accuracy": {"min": 0.95},
            "eval.loss": {"max": 0.3},
            "f1": {"min": 0.5, "max": 0.9},
            "recall": {"min": 0.5},
        },
    )
    assert not result.errors
    assert _rules(result) == ["metric-above-max", "metric-below-min", "metric-missing"]
    assert "metric recall is missing" in _one(result, "metric-missing").message
    rows = {r["metric"]: r for r in result.properties["metrics"]}
    assert rows["f1"]["violations"] == [] and rows["f1"]["current"] == 0.7
    assert rows["accuracy"]["threshold"] == {"min": 0.95}


def test_regression_against_a_baseline_file_reports_every_row(metrics_repo: Path) -> None:
    result = _run(
        metrics_repo,
        metrics_files=["metrics.json"],
        baseline="baseline.json",
        metrics={"accuracy": {"max_drop": 0.01}, "eval.loss": {"max_rise": 0.1}},
    )
    assert _rules(result) == ["metric-regression"]
    finding = _one(result, "metric-regression")
    assert finding.properties["metric"] == "accuracy"
    assert finding.properties["baseline"] == 0.93 and finding.properties["delta"] == -0.02
    assert finding.path == "metrics.json"
    rows = {r["metric"]: r for r in result.properties["metrics"]}
    assert rows["eval.auc"] == {
        "metric": "eval.auc",
        "current": 0.88,
        "baseline": 0.87,
        "delta": 0.01,
        "threshold": {},
        "violations": [],
    }
    assert result.properties["baseline"] == "baseline.json"
    assert any(n.startswith("accuracy = 0.91 (baseline 0.93, delta -0.02)") for n in result.notes)


def test_baseline_at_a_git_ref_reads_the_committed_metrics(metrics_repo: Path) -> None:
    result = _run(
        metrics_repo,
        metrics_files=["metrics.json"],
        baseline="git:HEAD",
        metrics={"eval.loss": {"max_rise": 0.05}, "accuracy": {"max_drop": 0.05}},
    )
    assert not result.errors
    finding = _one(result, "metric-regression")
    assert finding.properties["metric"] == "eval.loss" and finding.properties["check"] == "max_rise"
    assert result.properties["baseline"] == "git:HEAD"


def test_a_baseline_without_the_metric_is_a_medium_finding(metrics_repo: Path) -> None:
    result = _run(
        metrics_repo,
        metrics_files=["metrics.json", "eval/extra.yaml"],
        baseline="git:HEAD:metrics.json",
        metrics={"f1": {"max_drop": 0.1}},
    )
    finding = _one(result, "baseline-metric-missing")
    assert finding.severity.value == "medium" and "lacks it" in finding.message


@pytest.mark.parametrize(
    ("baseline", "expected"),
    [
        ("git:no-such-ref", "git ref 'no-such-ref' does not exist"),
        ("git:HEAD:nothing.json", "nothing.json does not exist at git ref 'HEAD'"),
        ("nothing.json", "nothing.json: metrics file not found"),
    ],
)
def test_a_baseline_that_cannot_be_read_is_a_gate_error(
    metrics_repo: Path, baseline: str, expected: str
) -> None:
    result = _run(
        metrics_repo,
        metrics_files=["metrics.json"],
        baseline=baseline,
        metrics={"accuracy": {"max_drop": 0.01}},
    )
    assert len(result.errors) == 1 and expected in result.errors[0]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("metrics.json", "accuracy: 0.9\n", "metrics.json: not valid JSON"),
        ("metrics.json", "[1, 2]", "expected a mapping"),
        ("metrics.yaml", "a: [1\n", "metrics.yaml: not valid YAML"),
    ],
)
def test_an_unreadable_metrics_file_is_a_finding(
    tmp_path: Path, name: str, content: str, expected: str
) -> None:
    write(tmp_path, name, content)
    result = _run(tmp_path, metrics_files=[name], metrics={"accuracy": {"min": 0.5}})
    assert _rules(result) == ["metric-missing", "metrics-unreadable"]
    assert expected in _one(result, "metrics-unreadable").message


def test_a_missing_metrics_file_is_a_finding(tmp_path: Path) -> None:
    result = _run(tmp_path, metrics_files=["metrics.json"])
    assert "metrics.json: metrics file not found" in _one(result, "metrics-unreadable").message


def test_thresholds_without_a_metrics_source_are_a_gate_error(tmp_path: Path) -> None:
    result = _run(tmp_path, metrics={"accuracy": {"min": 0.5}})
    assert "no `metrics_files` or `mlflow_run`" in result.errors[0]


def test_an_mlflow_run_directory_is_read_without_mlflow(tmp_path: Path) -> None:
    run = tmp_path / "mlruns" / "0" / "abc123"
    write(run, "metrics/accuracy", "1700000000000 0.80 0\n1700000001000 0.90 1\n")
    write(run, "metrics/val/loss", "1700000000000 0.4 3\n1700000009000 0.9 1\n")
    write(run, "meta.yaml", "run_id: abc123\n")
    result = _run(tmp_path, mlflow_run="mlruns/0/*", metrics={"accuracy": {"min": 0.85}})
    rows = {r["metric"]: r["current"] for r in result.properties["metrics"]}
    assert rows == {"accuracy": 0.9, "val/loss": 0.4}  # the latest step, not the latest line
    assert not result.findings
    failing = _run(tmp_path, mlflow_run="mlruns/0/*", metrics={"accuracy": {"min": 0.95}})
    assert _one(failing, "metric-below-min").path == "mlruns/0/abc123/metrics/accuracy"


# --- inference budgets --------------------------------------------------------------------

ALLOCATE = "import time; x = bytearray(150 * 1024 * 1024); time.sleep(0.05)"


def test_percentile_interpolates_like_numpy() -> None:
    assert percentile([10, 20, 30, 40], 50) == 25
    assert percentile([10, 20, 30, 40, 50], 95) == pytest.approx(48)
    assert percentile([7], 95) == 7


def test_budgets_measure_latency_and_the_memory_of_the_process_tree(tmp_path: Path) -> None:
    child = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {ALLOCATE!r}])"
    predict = {"command": [sys.executable, "-c", child], "runs": 3, "warmup": 1}
    result = _run(tmp_path, predict=predict, latency_p95_ms=1, peak_rss_mb=100)
    assert _rules(result) == ["latency-budget", "memory-budget"]
    budgets = result.properties["budgets"]
    assert budgets["runs"] == 3 and len(budgets["latency_ms"]) == 3
    assert budgets["latency_p50_ms"] <= budgets["latency_p95_ms"]
    assert budgets["peak_rss_mb"] > 150  # the grandchild's allocation is counted
    assert "exceeds the budget of 100 MB" in _one(result, "memory-budget").message
    roomy = _run(tmp_path, predict=predict, latency_p95_ms=60_000, peak_rss_mb=4096)
    assert roomy.ran and not roomy.findings


def test_a_failing_predict_command_is_a_finding(tmp_path: Path) -> None:
    command = f"{sys.executable} -c 'import sys; sys.exit(\"model file missing\")'"
    result = _run(tmp_path, predict={"command": command}, latency_p95_ms=1000)
    finding = _one(result, "predict-failed")
    assert "model file missing" in finding.message and finding.properties["runs_completed"] == 0


def test_a_hanging_predict_command_times_out_as_a_finding(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "import time; time.sleep(60)"]
    result = _run(tmp_path, predict={"command": command, "timeout": 1}, latency_p95_ms=1000)
    assert "timed out after 1s" in _one(result, "predict-timeout").message
    assert result.properties.get("budgets") is None


def test_budgets_without_a_predict_command_are_a_gate_error(tmp_path: Path) -> None:
    result = _run(tmp_path, latency_p95_ms=100)
    assert "no `predict` command" in result.errors[0]


# --- model card ---------------------------------------------------------------------------

CARD = """\
# Model card
## Intended use
Ranking.
```
## Limitations (inside a code block: not a heading)
```
## Training data and metrics
"""


def test_card_sections_are_headings_outside_code() -> None:
    assert card_sections(CARD, whole_file=True) == [
        "Model card",
        "Intended use",
        "Training data and metrics",
    ]
    readme = "# Project\n## Model card\n### Intended use\n## Install\n### Limitations\n"
    assert card_sections(readme, whole_file=False) == ["Intended use"]
    assert card_sections("# Project\n", whole_file=False) is None


def test_each_missing_card_section_is_a_finding(tmp_path: Path) -> None:
    write(tmp_path, "MODEL_CARD.md", CARD)
    result = _run(tmp_path, model_card=True)
    (finding,) = result.findings
    assert finding.rule_id == "model-card-section-missing" and "'Limitations'" in finding.message
    assert result.properties["model_card"] == {
        "path": "MODEL_CARD.md",
        "found": True,
        "missing": ["Limitations"],
    }


def test_a_missing_card_is_a_finding_only_when_required(tmp_path: Path) -> None:
    write(tmp_path, "README.md", "# Project\n")
    result = _run(tmp_path, model_card=True)
    assert _rules(result) == ["model-card-missing"]
    assert "README.md has no 'Model card' section" in result.findings[0].message
    assert _run(tmp_path, model_card=False).skipped is not None


def test_a_card_inside_the_readme_counts(tmp_path: Path) -> None:
    sections = "".join(f"### {s}\ntext\n" for s in ("Intended use", "Training data", "Metrics"))
    write(tmp_path, "README.md", f"# Project\n## Model card\n{sections}### Limitations\n")
    assert _run(tmp_path, model_card=True).findings == ()


# --- the repository's own tests -----------------------------------------------------------


def test_model_tests_run_and_failures_are_findings(tmp_path: Path) -> None:
    write(tmp_path, "pytest.ini", "[pytest]\nmarkers =\n    model: model checks\n")
    write(
        tmp_path,
        "tests/test_model.py",
        "import pytest\n\n@pytest.mark.model\ndef test_fast_enough():\n    assert 1 + 1 == 3\n\n"
        "@pytest.mark.model\ndef test_ok():\n    pass\n",
    )
    result = _run(tmp_path)
    (finding,) = result.findings
    assert finding.rule_id == "model-test-failed" and "test_fast_enough" in finding.message
    assert result.properties["tests"]["counts"]["passed"] == 1
    disabled = _run(tmp_path, run_tests=False)
    assert disabled.skipped is not None


def test_nothing_configured_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "x = 1\n")
    result = _run(tmp_path)
    assert result.skipped is not None and "no metrics" in result.skipped
