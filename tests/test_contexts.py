"""Path contexts: tests, examples, docs and notebooks set a rule's severity; reports say where."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping
from pathlib import Path

from mlgate.findings import Finding, Severity
from mlgate.gates import GateResult
from mlgate.policy import decide, finding_context, load_policy

from .conftest import run_cli, write


def _finding(rule: str, path: str, severity: Severity = Severity.HIGH) -> Finding:
    return Finding("sast", "semgrep", rule, severity, "m", path=path, line=1, fingerprint=path)


def test_default_contexts_match_paths() -> None:
    contexts = load_policy("default").contexts
    assert finding_context("tests/test_io.py", contexts) == "tests"
    assert finding_context("pkg/tests/unit/helpers.py", contexts) == "tests"
    assert finding_context("test_model.py", contexts) == "tests"
    assert finding_context("pkg/model_test.py", contexts) == "tests"
    assert finding_context("examples/train.py", contexts) == "examples"
    assert finding_context("docs/source/conf.py", contexts) == "docs"
    assert finding_context("notebooks/eda.ipynb", contexts) == "notebooks"
    assert finding_context("src/pkg/model.py", contexts) is None
    assert finding_context("src/pkg/latest.py", contexts) is None


def test_contexts_are_what_fnmatch_says_of_each_glob_in_order() -> None:
    """The compiled matcher (one regex, and a pre-check for each glob's plain part) gives
    what `fnmatch.fnmatchcase` gives glob by glob, `**/x` also matching `x`."""
    default = load_policy("default").contexts
    odd = {"odd": ("a?c/**", "**/Weird*Case/*")}  # plain parts: the pre-check applies
    classes = {"classes": ("*.[ch]", "x[!y]z.py")}  # no pre-check
    dirs = ["", "tests/", "pkg/tests/", "src/test/", "doc/", "docs/x/", "examples/", "abc/"]
    dirs += ["a/Weird-Case/", "aXc/", "nb/", "TESTS/", "pkg/testsx/"]
    names = ["m.py", "test_a.py", "a_test.py", "conftest.py", "setup.py", "noxfile.py"]
    names += ["conf.py", "e.ipynb", "x.c", "x.h", "xaz.py", "xyz.py", "latest.py", "TEST_x.py"]
    paths = [d + n for d in dirs for n in names]

    def expected(path: str, chosen: Mapping[str, tuple[str, ...]]) -> str | None:
        for name, globs in chosen.items():
            variants = [v for g in globs for v in (g, g[3:] if g.startswith("**/") else g)]
            if any(fnmatch.fnmatchcase(path, v) for v in variants):
                return name
        return None

    every = {**default, **odd, **classes, "any": ("*",)}
    for chosen in (default, {**default, **odd}, {**default, **odd, **classes}, every):
        for path in paths:
            assert finding_context(path, chosen) == expected(path, chosen), path


def test_first_context_in_order_wins_when_several_match() -> None:
    # every context's globs are one regex: its alternatives must keep the contexts' order
    first_tests = {"tests": ("tests/**",), "python": ("**/*.py",), "empty": ()}
    first_python = {"python": ("**/*.py",), "tests": ("tests/**",)}
    assert finding_context("tests/a.py", first_tests) == "tests"
    assert finding_context("tests/a.py", first_python) == "python"
    assert finding_context("tests/a.txt", first_python) == "tests"
    assert finding_context("a.py", first_tests) == "python"  # `**/x` also matches `x`
    assert finding_context("a.txt", first_tests) is None
    assert finding_context("a.py", {}) is None


def test_context_sets_severity_and_is_recorded() -> None:
    policy = load_policy("default", "production")
    results = [
        GateResult(
            "sast",
            findings=(
                _finding("ml-pickle-load", "tests/test_net.py"),
                _finding("ml-pickle-load", "src/net.py"),
                _finding("notebook-unpinned-pip-install", "nb/eda.ipynb", Severity.MEDIUM),
            ),
        )
    ]
    decision = decide(policy, results, scope=["sast"])
    by_path = {f.path: f for f in decision.findings}
    test = by_path["tests/test_net.py"]
    assert test.severity is Severity.LOW and test.properties["context"] == "tests"
    assert test.properties["severity_outside_context"] == "high"
    assert by_path["src/net.py"].severity is Severity.HIGH
    assert "context" not in by_path["src/net.py"].properties
    assert by_path["nb/eda.ipynb"].severity is Severity.LOW
    assert decision.verdicts["sast"].blocking == 1  # only the pickle load in src/


def test_policy_overrides_contexts_and_severities(tmp_path: Path) -> None:
    policy_file = tmp_path / "policy.yml"
    policy_file.write_text(
        "extends: default\n"
        "contexts:\n  tests: ['qa/**']\n  scripts: ['scripts/**']\n"
        "context_severity:\n  tests: {ml-pickle-load: medium}\n  scripts: {B602: info}\n",
        encoding="utf-8",
    )
    policy = load_policy(policy_file)
    assert finding_context("tests/test_x.py", policy.contexts) is None  # replaced
    assert finding_context("qa/test_x.py", policy.contexts) == "tests"
    results = [
        GateResult(
            "sast",
            findings=(_finding("ml-pickle-load", "qa/t.py"), _finding("B602", "scripts/r.py")),
        )
    ]
    severities = {f.path: f.severity.value for f in decide(policy, results, ["sast"]).findings}
    assert severities == {"qa/t.py": "medium", "scripts/r.py": "info"}


def test_json_report_records_context_of_a_real_run(tmp_path: Path) -> None:
    write(
        tmp_path,
        "tests/test_roundtrip.py",
        "import pickle\n\ndef t(f):\n    return pickle.load(f)\n",
    )
    write(tmp_path, "src/app.py", "import pickle\n\ndef t(f):\n    return pickle.load(f)\n")
    done = run_cli(
        ["run", str(tmp_path), "sast", "--format", "json", "--no-cache"],
        env={"MLGATE_CACHE_DIR": str(tmp_path.parent / f"{tmp_path.name}-c")},
    )
    report = json.loads(done.stdout)
    loads = {f["path"]: f for f in report["findings"] if f["rule_id"] == "ml-pickle-load"}
    assert loads["tests/test_roundtrip.py"]["severity"] == "low"
    assert loads["tests/test_roundtrip.py"]["properties"]["context"] == "tests"
    assert loads["src/app.py"]["severity"] == "high"
    assert done.returncode == 1  # the pickle load in src/ still blocks


def test_one_finding_per_pip_install_line_listing_the_packages(tmp_path: Path) -> None:
    cells = [
        {
            "cell_type": "code",
            "metadata": {},
            "outputs": [],
            "source": ["!pip install -q transformers datasets==2.19.0 accelerate evaluate\n"],
        }
    ]
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}
    write(tmp_path, "nb/eda.ipynb", json.dumps(nb))
    done = run_cli(
        ["run", str(tmp_path), "sast", "--format", "json", "--no-cache"],
        env={"MLGATE_CACHE_DIR": str(tmp_path.parent / f"{tmp_path.name}-c")},
    )
    report = json.loads(done.stdout)
    [pip] = [f for f in report["findings"] if f["rule_id"] == "notebook-unpinned-pip-install"]
    assert pip["properties"]["packages"] == ["transformers", "accelerate", "evaluate"]
    assert pip["severity"] == "low" and pip["properties"]["context"] == "notebooks"
    assert pip["fix"] == "pin transformers==X, accelerate==X, evaluate==X"


def test_build_scripts_exec_of_own_files_is_low() -> None:
    policy = load_policy("default")
    assert finding_context("setup.py", policy.contexts) == "build"
    result = GateResult("sast", findings=(_finding("ml-eval-exec-dynamic", "setup.py"),))
    [item] = decide(policy, [result], ["sast"]).findings
    assert item.severity is Severity.LOW and item.properties["context"] == "build"
