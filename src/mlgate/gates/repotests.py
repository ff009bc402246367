"""The repository's own marked tests (`pytest -m data`, `pytest -m model`), run in a subprocess.

The data and model gates both call this module, the one place pytest is started. pytest
writes a JUnit XML report into a temporary directory; each failing test becomes a finding,
a collection error or an unusable run becomes a gate error, and no test carrying the
marker means this part of the gate is skipped, not passed.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mlgate.findings import Finding, Severity
from mlgate.gates.base import Collector
from mlgate.lifecycle import temp_dir
from mlgate.repo import Repo, read_text
from mlgate.tools import run_tool

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET  # nosec B405

    from mlgate.gates.base import GateContext

# pytest's exit codes
_OK, _FAILED, _NO_TESTS = 0, 1, 5
_TEST_FILE = re.compile(r"(^|/)(test_[^/]*|[^/]*_test|conftest)\.py$")
_MESSAGE_LIMIT = 300


@dataclass(frozen=True)
class FailedTest:
    nodeid: str
    path: str | None
    line: int | None
    message: str


@dataclass(frozen=True)
class MarkedRun:
    """`status` is passed, failed, skipped (no marked tests) or error (`error` says why)."""

    status: str
    marker: str
    failures: tuple[FailedTest, ...] = ()
    counts: tuple[tuple[str, int], ...] = ()
    error: str | None = None
    python: tuple[str, str] | None = None  # the interpreter, and where it was found


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def repo_python(root: Path, configured: str | None = None) -> tuple[str, str]:
    """The repository's interpreter, and where it was found: a `.venv`/`venv` in the repo,
    else the active virtual environment (`$VIRTUAL_ENV`, as the generated pipelines set it
    for the project's own environment), else `test_python` from `.mlgate.yml`, else `python`
    on PATH, else the one running mlgate. The repo's tests need its packages there; mlgate's
    own scanners live elsewhere (toolenv.py)."""
    for name in (".venv", "venv"):
        python = _venv_python(root / name)
        if python.is_file():
            return str(python), f"the repository's {name}"
    venv = os.environ.get("VIRTUAL_ENV")
    if venv and _venv_python(Path(venv)).is_file():
        return str(_venv_python(Path(venv))), "$VIRTUAL_ENV"
    if configured:
        return configured, "test_python in .mlgate.yml"
    on_path = shutil.which("python") or shutil.which("python3")
    if on_path:
        return on_path, "python on PATH"
    return sys.executable, "mlgate's interpreter"


def default_command(root: Path | None = None, configured: str | None = None) -> list[str]:
    """`<the repository's python> -m pytest` (see repo_python)."""
    return [repo_python(root or Path.cwd(), configured)[0], "-m", "pytest"]


def find_test_files(repo: Repo) -> list[str]:
    return [f for f in repo.files if _TEST_FILE.search(f)]


def has_marked_tests(repo: Repo, marker: str) -> bool:
    """A cheap look for `mark.MARKER` in the test files, so code-only repos never start pytest."""
    name = re.escape(marker)
    needle = re.compile(rf"\bmark\.{name}\b|add_marker\(\s*[\"']{name}[\"']")
    return any(needle.search(read_text(repo.root, f)) for f in find_test_files(repo))


def run_marked_tests(root: Path, marker: str, command: Sequence[str], timeout: float) -> MarkedRun:
    with temp_dir("mlgate-pytest-") as tmp:
        report = Path(tmp) / "junit.xml"
        argv = [
            *command,
            "-m",
            marker,
            "-q",
            "-p",
            "no:cacheprovider",  # leave no .pytest_cache behind in the scanned repo
            "-o",
            "junit_family=xunit1",  # xunit1 records each test's file and line
            f"--junitxml={report}",
        ]
        run = run_tool(argv, timeout, cwd=root, env={"PYTHONDONTWRITEBYTECODE": "1"})
        if not run.ok:
            return MarkedRun("error", marker, error=f"pytest -m {marker}: {run.describe()}")
        if run.returncode == _NO_TESTS:
            return MarkedRun("skipped", marker)
        if run.returncode not in (_OK, _FAILED) or not report.is_file():
            return MarkedRun("error", marker, error=_unusable(marker, run.describe()))
        return _parse_report(report, marker, run.returncode)


def _unusable(marker: str, description: str) -> str:
    if "No module named pytest" in description:
        return (
            f"pytest -m {marker} could not start: pytest is not installed for the interpreter "
            "that runs the tests (install mlgate[data], or set the gate's test command)"
        )
    return (
        f"pytest -m {marker} did not run the tests (collection error or bad setup): {description}"
    )


def _parse_report(report: Path, marker: str, returncode: int | None = _OK) -> MarkedRun:
    # nosec B405: parses the report pytest just wrote for us (loaded only when tests ran)
    import xml.etree.ElementTree as ET  # noqa: PLC0415  # nosec B405

    try:
        tree = ET.parse(report)  # noqa: S314  # nosec B314: pytest's own report, in our temp dir
    except ET.ParseError as exc:
        return MarkedRun(
            "error", marker, error=f"pytest -m {marker}: unreadable JUnit report: {exc}"
        )
    failures: list[FailedTest] = []
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for case in tree.iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")  # an error in a fixture: the test did not pass
        if problem is not None:
            counts["failed"] += 1
            failures.append(_failure(case, problem))
        else:
            counts["skipped" if case.find("skipped") is not None else "passed"] += 1
    status = "failed" if failures else "passed"
    inconsistent = _inconsistent(returncode, sum(counts.values()), bool(failures))
    if inconsistent:
        return MarkedRun("error", marker, error=f"pytest -m {marker}: {inconsistent}")
    return MarkedRun(status, marker, tuple(failures), tuple(counts.items()))


def _inconsistent(returncode: int | None, tests: int, failed: bool) -> str | None:
    """Why the exit code and the JUnit report contradict each other (fail closed), or None."""
    if not tests:
        return f"exited {returncode} but its report ran no test: not a pytest run of the tests"
    if (returncode == _FAILED) != failed:
        state = "failures" if failed else "no failure"
        return f"exited {returncode} but its report shows {state}: not a pytest run"
    return None


def _failure(case: ET.Element, problem: ET.Element) -> FailedTest:
    classname = case.get("classname", "")
    name = case.get("name", "")
    path = case.get("file")
    line = case.get("line")
    nodeid = f"{path}::{name}" if path else f"{classname}::{name}"
    return FailedTest(
        nodeid=nodeid,
        path=path,
        line=int(line) + 1 if line and line.isdigit() else None,  # xunit1 lines are 0-based
        message=_short(problem),
    )


def _short(problem: ET.Element) -> str:
    text = (problem.get("message") or problem.text or "").strip().splitlines()
    first = text[0] if text else "failed"
    return first[:_MESSAGE_LIMIT]


def failure_findings(gate: str, outcome: MarkedRun) -> list[Finding]:
    return [
        Finding(
            gate=gate,
            tool="pytest",
            rule_id=f"{outcome.marker}-test-failed",
            severity=Severity.HIGH,
            confidence="high",
            message=f"test marked `{outcome.marker}` failed: {f.nodeid}: {f.message}",
            path=f.path,
            line=f.line,
            properties={"nodeid": f.nodeid, "marker": outcome.marker},
        )
        for f in outcome.failures
    ]


# --- what a gate does with them -----------------------------------------------------------


# The options every gate that runs the repository's marked tests declares (data, model): their
# JSON Schemas here, their defaults in the gate's options dataclass.
RUN_TESTS_SCHEMA: Mapping[str, Any] = {"type": "boolean"}
TEST_MARKER_SCHEMA: Mapping[str, Any] = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"}
TEST_COMMAND_SCHEMA: Mapping[str, Any] = {
    "type": "array",
    "items": {"type": "string", "minLength": 1},
    "minItems": 1,
}
TEST_PYTHON_SCHEMA: Mapping[str, Any] = {"type": "string", "minLength": 1}


class MarkedTestOptions(Protocol):
    """The marked-test fields of a gate's typed options."""

    @property
    def run_tests(self) -> bool: ...
    @property
    def test_marker(self) -> str | None: ...  # None: the gate's name
    @property
    def test_command(self) -> tuple[str, ...] | None: ...  # None: the repository's pytest
    @property
    def test_python(self) -> str | None: ...


def marker_of(options: MarkedTestOptions, default: str) -> str:
    return options.test_marker or default


def tests_wanted(repo: Repo, options: MarkedTestOptions, default_marker: str) -> bool:
    """`run_tests` is on (the default) and some test file mentions the marker."""
    marker = marker_of(options, default_marker)
    return options.run_tests and has_marked_tests(repo, marker)


def run_for_gate(
    ctx: GateContext, options: MarkedTestOptions, default_marker: str
) -> MarkedRun | None:
    """The gate's marked tests; None when there are none (so that part is skipped)."""
    if not tests_wanted(ctx.repo, options, default_marker):
        return None
    python = repo_python(ctx.root, options.test_python)
    command = list(options.test_command or [python[0], "-m", "pytest"])
    marked = run_marked_tests(ctx.root, marker_of(options, default_marker), command, ctx.timeout)
    if not options.test_command:
        marked = dataclasses.replace(marked, python=python)
    return None if marked.status == "skipped" else marked


def report_parts(gate: str, marked: MarkedRun | None) -> tuple[list[Finding], list[str], list[str]]:
    """(findings, notes, errors) for a gate's result; nothing when no tests ran."""
    if marked is None:
        return [], [], []
    if marked.error is not None:
        return [], [], [marked.error]
    counts = ", ".join(f"{n} {k}" for k, n in marked.counts if n)
    return (
        failure_findings(gate, marked),
        [f"pytest -m {marked.marker}: {counts or 'no tests ran'}"],
        [],
    )


def summary(marked: MarkedRun | None) -> dict[str, Any] | None:
    if marked is None:
        return None
    found = {"marker": marked.marker, "status": marked.status, "counts": dict(marked.counts)}
    if marked.python is not None:
        found["python"], found["python_from"] = marked.python
    return found


def collect(out: Collector, gate: str, marked: MarkedRun | None) -> None:
    """Add a marked test run's findings, notes, errors and summary to a gate's collector."""
    findings, notes, errors = report_parts(gate, marked)
    for finding in findings:
        out.add(finding, str(finding.properties.get("nodeid")))
    out.notes += notes
    out.errors += errors
    if marked is not None:
        out.properties["tests"] = summary(marked)
