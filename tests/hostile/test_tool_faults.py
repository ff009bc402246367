"""Classes 1 and 2 of issue 12: a tool that misbehaves makes its gate `error`, never `pass`,
and leaves no process behind. Every case of `cases.TOOL_FAULTS`, each against a fake tool."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mlgate.config import load_config
from mlgate.gates import GateResult
from mlgate.policy import decide, load_policy
from mlgate.repo import open_repo
from mlgate.runner import RunRequest, run_gates
from tests.conftest import write
from tests.hostile.cases import TOOL_FAULTS, ToolFault
from tests.hostile.conftest import Hostile

GATE_TIMEOUT = 5  # seconds; long enough for the fakes to start on a loaded machine
TIMED_OUT = "timed out"  # what a gate whose tool hung says
POLICY = f"""\
extends: default
defaults: {{timeout: {GATE_TIMEOUT}}}
gates:
  model: {{options: {{test_command: [pytest]}}}}
"""


def fault_repo(root: Path) -> Path:
    """One repository every tool has something to do in."""
    # a call a rule-pack rule may match (safe: no finding), else semgrep is rightly not started
    write(root, "app.py", 'import yaml\nprint(yaml.load("{}", Loader=yaml.SafeLoader))\n')
    write(root, "notes.txt", "nothing secret here\n")
    write(root, "requirements.txt", "requests==2.31.0\n")
    write(
        root,
        "test_model.py",
        "import pytest\n\n@pytest.mark.model\ndef test_ok():\n    assert True\n",
    )
    write(root, "policy.yml", POLICY)
    return root


def run_gate(root: Path, gate: str) -> tuple[GateResult, str]:
    repo = open_repo(root)
    policy = load_policy(root / "policy.yml")
    request = RunRequest((gate,), jobs=1, overrides={})
    result = run_gates(repo, policy, load_config(root), request)
    (only,) = result.results
    return only, decide(policy, result.results, scope=(gate,)).verdicts[gate].status.value


@pytest.mark.parametrize("case", TOOL_FAULTS, ids=lambda c: c.id)
def test_tool_fault(case: ToolFault, hostile: Hostile, tmp_path: Path) -> None:
    hostile.fake({case.tool: case.mode})
    root = fault_repo(tmp_path / "repo")
    started = time.monotonic()
    result, status = run_gate(root, case.gate)
    elapsed = time.monotonic() - started
    errors = " | ".join(result.errors)
    assert status == case.status, f"{case.id}: {status}: {errors}"
    assert case.says in errors, errors
    # A child holding stdout open, or left running, never makes mlgate wait for it: those
    # cases pass (waiting would have hit the gate timeout: `error`, "timed out").
    assert elapsed < GATE_TIMEOUT + 20, f"{case.id} took {elapsed:.1f}s"


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("mode", ["hang", "empty-object"])
def test_a_faulty_tool_first_in_line_holds_up_no_other_gate(
    mode: str, jobs: int, hostile: Hostile, tmp_path: Path
) -> None:
    """A cold run lets the secrets gate start detect-secrets before sast prepares
    (`runner.StartingLine`): whether that tool hangs or prints `{}`, secrets is `error` and
    sast still runs. When bandit hangs too, with two workers both time out side by side
    (the line passed on at detect-secrets' start, not at its end): one timeout, not two."""
    hostile.fake({"detect-secrets": mode, "bandit": "hang" if mode == "hang" else "good"})
    root = fault_repo(tmp_path / "repo")
    policy = load_policy(root / "policy.yml")
    request = RunRequest(("sast", "secrets"), jobs=jobs, overrides={})
    started = time.monotonic()
    result = run_gates(open_repo(root), policy, load_config(root), request)
    elapsed = time.monotonic() - started
    sast, secrets = result.results
    verdicts = decide(policy, result.results, scope=("sast", "secrets")).verdicts
    assert verdicts["secrets"].status.value == "error", secrets.errors
    if mode == "hang":
        assert any(TIMED_OUT in e for e in secrets.errors) and any(
            TIMED_OUT in e for e in sast.errors
        )
        # side by side: one timeout and the starts; one after the other: two timeouts at least
        limit = GATE_TIMEOUT * 2 + 20 if jobs == 1 else GATE_TIMEOUT * 2 - 0.5
        assert elapsed < limit, f"{elapsed:.1f}s with {jobs} worker(s)"
    else:
        assert verdicts["sast"].status.value == "pass", sast.errors
