"""Adding a gate is one module: a toy gate, declared here and registered, appears in the
policy and config schemas, in the SARIF and GitLab reports (its rule catalogue, its tool)
and in a generated pipeline (its own job, sharded as it declares), with no other change."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from mlgate.cli import run_main
from mlgate.config import config_schema
from mlgate.findings import Finding, Severity
from mlgate.gates import GATES
from mlgate.gates.base import (
    Collector,
    Gate,
    GateContext,
    GateInputs,
    GateResult,
    PipelineTraits,
    RuleInfo,
    ToolInfo,
)
from mlgate.policy import policy_schema
from mlgate.repo import Repo

from ..conftest import git_init, write

TOY = "toy"
RULE = RuleInfo(
    "toy-banana",
    "A banana is committed to the repository",
    Severity.HIGH,
    "CWE-1357",
    "https://example.org/rules/toy-banana",
    tool="toy-scanner",
)


class ToyGate(Gate):
    name = TOY
    summary = "finds the word banana"
    options_schema: ClassVar[Mapping[str, Any]] = {"word": {"type": "string"}}
    tools = (ToolInfo("toy-scanner", "toy-scanner", "https://example.org/toy", "toy_rule_id"),)
    rules = (RULE,)
    pipeline = PipelineTraits(shardable=True, extras="")
    gitlab_report = "sast"

    def inputs(self, repo: Repo, options: Mapping[str, Any]) -> GateInputs:
        return GateInputs(files=tuple(repo.matching(("*.txt",))), options=dict(options))

    def run(self, ctx: GateContext) -> GateResult:
        out = Collector()
        word = str(ctx.option("word", "banana"))
        for rel in ctx.inputs.files:
            text = (ctx.root / rel).read_text(encoding="utf-8")
            for number, line in enumerate(text.splitlines(), 1):
                if word in line:
                    finding = Finding(
                        gate=TOY,
                        tool="toy-scanner",
                        rule_id=RULE.id,
                        severity=RULE.severity,
                        message=f"the line says {word} (and more words the rule title omits)",
                        path=rel,
                        line=number,
                    )
                    out.add(finding, f"{rel}|{word}")
        return out.result(TOY, self.tool_versions(), files_scanned=len(ctx.inputs.files))

    def tool_versions(self) -> Mapping[str, str | None]:
        return {"toy-scanner": "1.0"}


@pytest.fixture
def toy() -> Iterator[ToyGate]:
    gate = ToyGate()
    GATES[TOY] = gate
    try:
        yield gate
    finally:
        del GATES[TOY]


def mlgate(*args: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = run_main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    write(root, "notes.txt", "an apple\na banana\n")
    write(root, "app.py", "print('hello')\n")
    git_init(root)
    return root


def test_toy_gate_is_in_the_policy_and_config_schemas(toy: ToyGate) -> None:
    gates = policy_schema()["properties"]["gates"]["properties"]
    assert gates[TOY]["properties"]["options"]["properties"] == {"word": {"type": "string"}}
    config = config_schema()["properties"][TOY]["properties"]
    assert config["word"] == {"type": "string"}
    assert config["shards"]["type"] == "integer"  # it declared itself shardable


def test_toy_gate_reports_from_its_catalogue(toy: ToyGate, tmp_path: Path) -> None:
    root = _repo(tmp_path)
    out = tmp_path / "out"
    code, _, err = mlgate(
        "run", root, TOY, "--no-receipt", "--format", "sarif", "--format", "gitlab", "--output", out
    )
    assert code == 1, err  # one high finding blocks under the default policy
    sarif = json.loads((out / "mlgate.sarif").read_text(encoding="utf-8"))
    [run] = [r for r in sarif["runs"] if r["automationDetails"]["id"] == "mlgate/toy/toy-scanner/"]
    driver = run["tool"]["driver"]
    assert driver["informationUri"] == "https://example.org/toy"
    [rule] = driver["rules"]
    assert rule["id"] == RULE.id
    assert rule["shortDescription"]["text"] == RULE.title  # not the finding's message
    assert rule["helpUri"] == RULE.help_uri
    assert "external/cwe/cwe-1357" in rule["properties"]["tags"]
    [result] = run["results"]
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 2
    gitlab = json.loads((out / "gl-sast-report.json").read_text(encoding="utf-8"))
    [vuln] = gitlab["vulnerabilities"]
    primary, cwe = vuln["identifiers"]
    assert primary == {
        "type": "toy_rule_id",
        "name": RULE.title,
        "value": RULE.id,
        "url": RULE.help_uri,
    }
    assert cwe["value"] == "1357"
    assert not (out / "gl-dependency-scanning-report.json").exists()


def test_toy_gate_gets_its_own_sharded_pipeline_job(toy: ToyGate, tmp_path: Path) -> None:
    root = _repo(tmp_path)
    write(root, ".mlgate.yml", "toy:\n  shards: 2\n  word: banana\n")
    code, out, err = mlgate("generate", root, "--ci", "github", "--stdout")
    assert code == 0, err
    docs = [d for d in yaml.safe_load_all(out) if isinstance(d, dict)]
    jobs = {name: job for doc in docs for name, job in (doc.get("jobs") or {}).items()}
    toy_jobs = sorted(name for name in jobs if "toy" in name)
    assert len(toy_jobs) == 2, sorted(jobs)
    steps = "\n".join(
        str(step.get("run", "")) for name in toy_jobs for step in jobs[name].get("steps", [])
    )
    assert '"$mlgate" run . toy --shard 1/2 ' in steps
    assert '"$mlgate" run . toy --shard 2/2 ' in steps
    assert "pip install mlgate==" in steps and "[tools]" not in steps  # its declared extras
