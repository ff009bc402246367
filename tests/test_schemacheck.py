"""The fast schema check never calls valid what jsonschema calls invalid (differential
fuzzing over mlgate's own schemas), and recognises the documents mlgate writes."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from mlgate.config import config_schema
from mlgate.findings import Finding, Severity
from mlgate.gates import GateResult
from mlgate.policy import decide, load_policy, policy_schema
from mlgate.repo import Repo
from mlgate.report import Report
from mlgate.resources import schema_path
from mlgate.runner import RunResult
from mlgate.schemacheck import _rows_check, checker

ROOT = Path(__file__).resolve().parents[1]
VALUES: list[Any] = [None, True, False, 0, 1, 1.0, 1.5, -1, "", "x", "high", [], {}, ["x"]]


def _report(count: int = 4) -> dict[str, Any]:
    findings = tuple(
        Finding(
            gate="sast",
            tool="semgrep",
            rule_id=f"r{i}",
            severity=Severity.HIGH if i % 2 else Severity.LOW,
            message=f"m{i}",
            path=f"p{i}.py",
            line=i + 1,
            fingerprint=f"{i:032x}",
            properties={"k": i},
        )
        for i in range(count)
    )
    repo = Repo(root=ROOT, files=(), is_git=True, commit="0123456789abcdef")
    run = RunResult(repo, (GateResult("sast", findings=findings),), "2026-01-01T00:00:00", 1.0)
    policy = load_policy("default")
    report = Report(run, policy, decide(policy, run.results, scope=["sast"]), {"kind": "full"})
    data: dict[str, Any] = json.loads(json.dumps(report.to_dict()))
    return data


def _cases() -> list[tuple[str, dict[str, Any], Any]]:
    report_schema = json.loads(schema_path("report").read_text(encoding="utf-8"))
    policies = [yaml.safe_load(p.read_text()) for p in sorted((ROOT / "policies").glob("*.yml"))]
    config = yaml.safe_load((ROOT / "examples/churn-model/.mlgate.yml").read_text())
    return [
        *[("policy", policy_schema(), p) for p in policies],
        ("config", config_schema(), config),
        ("report", report_schema, _report()),
        # long enough for the column-wise check of a report's findings (`_rows_check`)
        ("report with 64 findings", report_schema, _report(64)),
    ]


def _paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [here]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*here, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _paths(item, (*here, index))
    return out


def _mutate(doc: Any, rng: random.Random) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(_paths(doc))
        if not path:
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        last = path[-1]
        action = rng.random()
        if action < 0.15 and isinstance(parent, dict):
            del parent[last]
        elif action < 0.3 and isinstance(parent, dict):
            parent[rng.choice(["bogus", "enabled", "fail_on", "gates"])] = rng.choice(VALUES)
        else:
            parent[last] = copy.deepcopy(rng.choice(VALUES))
    return doc


@pytest.mark.parametrize("index", range(5))
def test_never_valid_where_jsonschema_says_invalid(index: int) -> None:
    cases = _cases()
    assert len(cases) >= 5
    rng = random.Random(1000 + index)
    outcomes = set()
    for what, schema, doc in cases:
        check = checker(schema)
        assert check is not None, what  # every schema of mlgate's is supported
        reference = jsonschema.Draft202012Validator(schema)
        assert check(doc) and reference.is_valid(doc), what  # the real documents pass
        long = len(doc.get("findings") or ()) > 10  # the column-wise case: slow to mutate
        for _ in range(20 if long else 150):
            mutated = _mutate(doc, rng)
            fast, real = check(mutated), reference.is_valid(mutated)
            assert not fast or real, (what, mutated)
            outcomes.add((fast, real))
    assert (False, False) in outcomes and (True, True) in outcomes


def test_json_semantics_of_jsonschema() -> None:
    check = checker({"properties": {"a": {"const": 1}, "b": {"type": "integer"}}})
    assert check is not None
    assert check({"a": 1, "b": 2.0})
    assert not check({"a": True})  # true is not 1
    assert not check({"b": True})  # booleans are not integers
    assert not check({"b": 2.5})
    assert checker({"$ref": "#/x"}) is None  # unsupported keyword: no fast answer
    assert checker({"properties": {"a": {"format": "date"}}}) is None


def test_long_arrays_of_findings_are_checked_by_column_as_item_by_item() -> None:
    schema = json.loads(schema_path("report").read_text(encoding="utf-8"))
    check = checker(schema)
    assert check is not None
    reference = jsonschema.Draft202012Validator(schema)
    doc = _report(64)
    by_column = _rows_check(schema["properties"]["findings"]["items"])
    assert by_column is not None and by_column(doc["findings"])  # the fast path is taken
    edits: list[tuple[str, Any]] = [
        ("line", -1), ("line", 2.0), ("line", True), ("gate", ""), ("severity", "HIGH"),
        ("also_reported_by", ["ok", 3]), ("properties", []), ("message", None), ("cell", 0),
    ]  # fmt: skip
    for key, value in edits:
        for index in (0, 63):
            mutated = copy.deepcopy(doc)
            mutated["findings"][index][key] = value
            assert check(mutated) == reference.is_valid(mutated), (key, value, index)
    dropped = copy.deepcopy(doc)
    del dropped["findings"][33]["fingerprint"]
    assert not check(dropped) and not reference.is_valid(dropped)
