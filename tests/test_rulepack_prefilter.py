"""The rule pack's literal prefilter (`mlgate.rulepack_prefilter`) is sound: it says "may
match" for every rule's annotated test file, and a test file with one clause's literals
made absent gets no finding of that rule from the real semgrep."""

from __future__ import annotations

import ast
import json
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from mlgate import tools
from mlgate.gates import sast as sast_gate
from mlgate.resources import rule_pack_dir
from mlgate.rulepack_prefilter import (
    Clause,
    RuleFilter,
    may_match,
    pack_filters,
    rule_cnf,
    string_start,
    string_value,
)

from .conftest import git_init, write

ANNOTATION = re.compile(r"#\s*ruleid:\s*([\w,\- ]+)")
NONSENSE = b"Q8"  # in no atom: inserting it cannot make a new match


def _filters() -> dict[str, RuleFilter]:
    return {f.rule_id: f for f in pack_filters(rule_pack_dir())}


def _rule_files() -> list[tuple[Path, list[str]]]:
    """Each rule file of the pack with the ids of its rules."""
    found = []
    for path in sorted(rule_pack_dir().glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        found.append((path, re.findall(r"^\s*- id:\s*(\S+)", text, re.MULTILINE)))
    return found


def _annotated(path: Path) -> set[str]:
    ids: set[str] = set()
    for match in ANNOTATION.finditer(path.read_text(encoding="utf-8")):
        ids |= {x.strip() for x in match.group(1).split(",") if x.strip()}
    return ids


def test_every_rule_has_a_prefilter_and_may_match_its_annotated_test_file() -> None:
    filters = _filters()
    files = _rule_files()
    assert len(files) >= 20 and sum(len(ids) for _, ids in files) == len(filters)
    for rule_file, ids in files:
        test_file = rule_file.with_suffix(".py")
        assert test_file.is_file(), f"{rule_file.name}: no annotated test file"
        annotated, data = _annotated(test_file), test_file.read_bytes()
        for rule_id in ids:
            assert rule_id in annotated, f"{test_file.name}: no `# ruleid: {rule_id}` line"
            # a rule without clauses would make every file "may match": no file skips semgrep
            assert filters[rule_id].clauses, f"{rule_id}: no prefilter derived"
            assert filters[rule_id].may_match(data), rule_id
            assert may_match(list(filters.values()), data)


def test_string_atoms_follow_semgreps_constant_folding() -> None:
    """The folded constants semgrep matches (checked against semgrep 1.185): pieces joined
    with `+`, adjacent literals, f-strings; each piece's text as written (no escapes decoded,
    but a line continuation inside a string disappears)."""
    value, start = string_value("trust_remote_code"), string_start("/")
    for text in (
        b'{"trust_remote_code": True}',
        b'k = "trust_" + "remote_code"',
        b"{'trust_' 'remote_code': True}",
        b'{f"{e}trust_{e}remote_code": True}',
        b'{"trust\\x5fremote_code": True}',
        b'{"trust_\\\nremote_code": True}',
    ):
        assert value.search(text), text
    for text in (
        b'"/tmp"',
        b'"/t" + "mp"',
        b'f"{x}/tmp"',
        b'f"{{/tmp"',
        b'"\\\n/tmp"',
        b"'''/x'''",
    ):
        assert start.search(text), text
    for text in (b'k = "trust_remotely"', b'"a/tmp"', b"x = a / b", b'"\\n"'):
        assert not value.search(text) and not start.search(text), text


def test_names_are_whole_identifiers_and_regex_parts_substrings() -> None:
    rule = {"id": "x", "languages": ["python"], "message": "m", "severity": "ERROR"}
    calls = RuleFilter("x", rule_cnf({**rule, "pattern": "eval($X)"}))
    assert calls.may_match(b"eval(x)") and calls.may_match(b"from builtins import eval as e")
    assert not calls.may_match(b"model.evaluate(x)\nmy_eval(y)")

    def named(regex: str) -> RuleFilter:
        spec = {"metavariable": "$F", "regex": regex}
        patterns = [{"pattern": "$M.$F(...)"}, {"metavariable-regex": spec}]
        return RuleFilter("x", rule_cnf({**rule, "patterns": patterns}))

    assert named("^(load|loads)$").may_match(b"pickle.loads(b)")
    assert not named("^(load|loads)$").may_match(b"yaml.safe_load(b)")
    # part of a name: `get_data` holds the literal, though not as a whole word
    assert named("^(get|post)_data$").may_match(b"client.get_data()")
    assert not named("^(get|post)_data$").may_match(b"client.fetch()")


def test_unknown_constructs_give_no_prefilter() -> None:
    rule = {"id": "x", "languages": ["python"], "message": "m", "severity": "ERROR"}
    assert rule_cnf({**rule, "pattern": "$F(...)"}) == ()
    assert rule_cnf({**rule, "pattern": '"=~/tmp/"'}) == ()  # not anchored: any piece
    assert rule_cnf({**rule, "pattern-either": [{"pattern": "eval(...)"}, {"match": "x"}]}) == ()
    assert rule_cnf({**rule, "mode": "join", "pattern": "eval(...)"}) == ()
    assert rule_cnf({**rule, "options": {"symbolic_propagation": True}, "pattern": "a.b()"}) == ()
    assert rule_cnf({**rule, "pattern": "eval($X)"}) != ()


# --- the real semgrep on test files with a clause's literals made absent ------------------


def _without(data: bytes, clause: Clause) -> bytes:
    """`data` with every atom of `clause` broken by a nonsense insertion after the first
    byte of each occurrence (identifiers stay identifiers, strings stay strings)."""
    for _ in range(10_000):
        hits = [m for atom in clause if (m := atom.search(data))]
        if not hits:
            return data
        first = min(hits, key=lambda m: m.start())
        if first.end() - first.start() < 2:
            pytest.fail(f"cannot break a one-character atom: {first.group()!r}")
        cut = first.start() + 1
        data = data[:cut] + NONSENSE + data[cut:]
    pytest.fail("atoms keep matching")


def _parses(data: bytes) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ast.parse(data)
        except SyntaxError:
            return False
    return True


@pytest.fixture(scope="module")
def mutated_scan(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Any]:
    """One semgrep run over every rule's test file as is (`orig-<rule>.py`) and once per
    clause with that clause's literals made absent (`<rule>--<n>.py`)."""
    folder = tmp_path_factory.mktemp("mutated")
    filters = _filters()
    expected: dict[str, str] = {}  # file name -> the rule that must not match it
    for rule_file, ids in _rule_files():
        data = rule_file.with_suffix(".py").read_bytes()
        for rule_id in ids:
            (folder / f"orig-{rule_id}.py").write_bytes(data)
            expected[f"orig-{rule_id}.py"] = ""
            for number, clause in enumerate(filters[rule_id].clauses):
                mutated = _without(data, clause)
                assert not filters[rule_id].may_match(mutated), (rule_id, number)
                assert _parses(mutated), f"{rule_id}: clause {number} broke the syntax"
                name = f"{rule_id}--{number}.py"
                (folder / name).write_bytes(mutated)
                expected[name] = rule_id
    options = sast_gate._semgrep_arguments([rule_pack_dir()], sorted(expected))
    run = sast_gate.semgrep_json(options, folder, 600)
    assert not isinstance(run.data, str), run.data
    return expected, run.data


def test_no_finding_once_a_clause_is_absent(mutated_scan: tuple[dict[str, str], Any]) -> None:
    expected, report = mutated_scan
    assert sorted(report["paths"]["scanned"]) == sorted(expected)
    assert not [e for e in report["errors"] if e.get("level") == "error"], report["errors"]
    found = {(r["path"], str(r["check_id"]).rsplit(".", 1)[-1]) for r in report["results"]}
    rules = {r for name, r in expected.items() if r}
    # every rule finds something in its own test file: the run proves the rules work here
    assert {rule for path, rule in found if path == f"orig-{rule}.py"} == rules
    leaks = sorted((path, rule) for path, rule in found if expected.get(path) == rule)
    assert not leaks, leaks


# --- the gate: warm cache, one changed file -----------------------------------------------


@contextmanager
def _scans(calls: list[list[str]]) -> Iterator[None]:
    """Record the command line of every tool the gate starts."""
    real = tools.run_tool

    def run_tool(
        argv: Sequence[str], timeout: float, cwd: Path | None = None, env: Any = None
    ) -> tools.ToolRun:
        calls.append(list(argv))
        return real(argv, timeout, cwd, env)

    with (
        mock.patch.object(tools, "run_tool", run_tool),
        mock.patch.object(sast_gate, "run_tool", run_tool),
    ):
        yield


def _sast_run(repo: Path, cache: Path, calls: list[list[str]]) -> tuple[dict[str, Any], set[Any]]:
    """The sast gate's part of the report of `mlgate run`, and its findings."""
    from mlgate.cli import run_main

    out = cache.parent / "out"
    with mock.patch.dict("os.environ", {"MLGATE_CACHE_DIR": str(cache)}), _scans(calls):
        run_main(["run", str(repo), "sast", "--quiet", "--format", "json", "--output", str(out)])
    report = json.loads((out / "mlgate.json").read_text(encoding="utf-8"))
    found = {(f["path"], f["rule_id"]) for f in report["findings"]}
    return next(g for g in report["gates"] if g["name"] == "sast"), found


def _semgrep_started(calls: list[list[str]]) -> bool:
    return any(Path(argv[0]).name == "semgrep" and "scan" in argv for argv in calls)


def test_warm_run_starts_semgrep_only_for_a_file_a_rule_may_match(tmp_path: Path) -> None:
    repo, cache = tmp_path / "repo", tmp_path / "cache"
    write(repo, "a.py", "import pickle\n\n\ndef f(b):\n    return pickle.loads(b)\n")
    write(repo, "b.py", "def add(x, y):\n    return x + y\n")
    git_init(repo)
    cold: list[list[str]] = []
    first, before = _sast_run(repo, cache, cold)
    assert _semgrep_started(cold) and first["properties"]["semgrep_prefiltered_files"] == 0

    write(repo, "b.py", "def add(x, y):\n    return x + y + 1\n")
    warm: list[list[str]] = []
    skipped, after = _sast_run(repo, cache, warm)
    assert not _semgrep_started(warm), warm
    assert any(Path(argv[0]).name == "bandit" for argv in warm), warm
    assert skipped["status"] == first["status"] and skipped["properties"]["cached_files"] == 1
    assert skipped["properties"]["semgrep_prefiltered_files"] == 1
    assert after == before and ("a.py", "ml-pickle-load") in after
    assert any("skipped for 1 file(s) by the literal prefilter" in n for n in skipped["notes"])

    write(repo, "b.py", "import yaml\n\n\ndef read(s):\n    return yaml.unsafe_load(s)\n")
    changed: list[list[str]] = []
    ran, found = _sast_run(repo, cache, changed)
    assert _semgrep_started(changed), changed
    assert ran["properties"]["semgrep_prefiltered_files"] == 0
    assert ("b.py", "ml-yaml-unsafe-load") in found, found


def test_semgrep_is_skipped_only_for_the_rule_pack_alone(tmp_path: Path) -> None:
    write(tmp_path, "calc.py", "def add(x, y):\n    return x + y\n")
    write(tmp_path, "tmp.py", 'BASE = "/t" + "mp"\n')
    write(tmp_path, "rules.yml", "rules: []\n")
    (tmp_path / "nul.py").write_bytes(b"x = 1\0\n")
    pack = rule_pack_dir()
    assert sast_gate._prefiltered(tmp_path, ["calc.py"], [pack])
    assert not sast_gate._prefiltered(tmp_path, ["calc.py"], [pack, tmp_path / "rules.yml"])
    assert not sast_gate._prefiltered(tmp_path, ["calc.py"], [])
    assert not sast_gate._prefiltered(tmp_path, ["calc.py", "tmp.py"], [pack])
    assert not sast_gate._prefiltered(tmp_path, ["calc.py", "nul.py"], [pack])
    assert not sast_gate._prefiltered(tmp_path, ["calc.py", "gone.py"], [pack])
