"""The gates' parsers over recorded scanner output (`tests/data/tools/`, see
`tests/tool_outputs.py` to re-record), and a slow check that the recordings are current."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from mlgate import toolenv
from mlgate.gates import sast, secrets
from mlgate.tools import JsonShape, ToolRun, json_output

from .conftest import fixture_path
from .tool_outputs import CASE, DATA, MANIFEST, record

RECORDED = DATA / CASE
SHAPES: Mapping[str, JsonShape] = {
    "bandit": sast.BANDIT_SHAPE,
    "semgrep": sast.SEMGREP_SHAPE,
    "detect-secrets": secrets.TOOL_SHAPE,
}


def _manifest(folder: Path = RECORDED) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = json.loads(fixture_path(folder / MANIFEST).read_text())["runs"]
    return runs


def _text(entry: Mapping[str, Any], folder: Path = RECORDED) -> str:
    return fixture_path(folder / entry["file"]).read_text(encoding="utf-8")


def _run(entry: Mapping[str, Any], stdout: str) -> ToolRun:
    return ToolRun(tuple(entry["argv"]), entry["returncode"], stdout, "", 1.0)


def _entries(tool: str) -> list[dict[str, Any]]:
    found = [e for e in _manifest() if e["tool"] == tool]
    assert found, f"no recording of {tool} in {RECORDED / MANIFEST}"
    return found


def _parsed(folder: Path) -> dict[str, list[tuple[str, str | None, int | None]]]:
    """Each recording of `folder` through the gate's parser: (rule, path, line), sorted."""
    parsed: dict[str, list[tuple[str, str | None, int | None]]] = {}
    for entry in _manifest(folder):
        data = json.loads(_text(entry, folder))
        if entry["tool"] == "bandit":
            items = [sast._bandit_finding(r) for r in data["results"]]
            keys = [(f.rule_id, f.path, f.line) for f in items]
        elif entry["tool"] == "semgrep":
            items = [sast._semgrep_finding(r) for r in data["results"]]
            keys = [(f.rule_id, f.path, f.line) for f in items]
        else:
            keys = [
                (kind, path, line) for path, line, kind, _ in secrets._reported(data["results"])
            ]
        parsed[entry["file"]] = sorted(keys, key=repr)
    return parsed


def test_recordings_are_of_the_pinned_tool_versions() -> None:
    """Upgrading a scanner in tools.lock makes the recordings stale: re-record them."""
    for entry in _manifest():
        assert entry["version"] == toolenv.version(entry["tool"]), (
            f"{entry['file']} was recorded with {entry['tool']} {entry['version']}; "
            f"tools.lock pins {toolenv.version(entry['tool'])}: python -m tests.tool_outputs"
        )
    assert {e["tool"] for e in _manifest()} == set(SHAPES)


def test_recordings_have_the_shape_the_gates_demand_and_lose_it_when_cut() -> None:
    for entry in _manifest():
        text = _text(entry)
        shape = SHAPES[entry["tool"]]
        assert isinstance(json_output(_run(entry, text), (0, 1), shape), dict), entry["file"]
        data = json.loads(text)
        for key in {path.split(".")[0] for path in shape}:
            cut = {k: v for k, v in data.items() if k != key}
            problem = json_output(_run(entry, json.dumps(cut)), (0, 1), shape)
            assert isinstance(problem, str) and f"no `{key}" in problem, (entry["file"], key)
        assert isinstance(json_output(_run(entry, "{}"), (0, 1), shape), str)
        assert isinstance(json_output(_run(entry, text[: len(text) // 2]), (0, 1), shape), str)


def test_bandit_results_become_findings_at_their_lines() -> None:
    for entry in _entries("bandit"):
        results = json.loads(_text(entry))["results"]
        assert results, "the insecure example gives bandit something to report"
        for item in results:
            finding = sast._bandit_finding(item)
            assert finding.tool == "bandit" and finding.rule_id == item["test_id"]
            assert finding.path == item["filename"].removeprefix("./")
            assert finding.line == item["line_number"]
            assert finding.cwe == f"CWE-{item['issue_cwe']['id']}"


def test_semgrep_results_are_rule_pack_findings_and_both_command_lines_agree() -> None:
    catalogue = sast.rule_pack_catalogue()
    reports = {e["file"]: json.loads(_text(e)) for e in _entries("semgrep")}
    assert set(reports) == {"semgrep-native.json", "semgrep-classic.json"}
    for data in reports.values():
        assert data["results"] and data["errors"] == []
        for item in data["results"]:
            finding = sast._semgrep_finding(item)
            assert finding.rule_id in catalogue, finding.rule_id
            assert finding.line == item["start"]["line"]
            assert finding.severity.name.lower() == catalogue[finding.rule_id].severity.value
    native, classic = (
        sorted((f.rule_id, f.path, f.line) for f in map(sast._semgrep_finding, data["results"]))
        for data in (reports["semgrep-native.json"], reports["semgrep-classic.json"])
    )
    assert native == classic


def test_detect_secrets_results_are_read_with_their_lines() -> None:
    reported = [
        hit
        for entry in _entries("detect-secrets")
        for hit in secrets._reported(json.loads(_text(entry))["results"])
    ]
    assert reported, "the insecure example has a hard-coded credential"
    for path, line, kind, hashed in reported:
        assert not path.startswith("/") and line > 0 and kind
        assert len(hashed) == 40 and int(hashed, 16) >= 0  # a sha1, never the secret


@pytest.mark.slow
def test_a_fresh_recording_parses_to_the_same_findings(tmp_path: Path) -> None:
    """Runs the pinned scanners again: a recording that no longer matches them fails."""
    record(tmp_path)
    assert _parsed(tmp_path) == _parsed(RECORDED)
