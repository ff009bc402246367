"""A first run validates its ML-BOM while its last gate runs (issue 16): the runner says
when one gate is left (`RunRequest.one_left`), the core builds the BOM of the results so
far with a stand-in for that gate and validates its shape (`bom.validate_ahead`); the
run's own BOM then has that shape, and is not validated after the last scanner ends."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mlgate.config import load_config
from mlgate.gates import GateResult
from mlgate.policy import load_policy
from mlgate.repo import open_repo
from mlgate.runner import RunRequest, run_gates

from .conftest import fixture_path, last_lines_of_probe, write

ROOT = Path(__file__).resolve().parents[1]


def _tree(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    write(repo, "app.py", "import pickle\npickle.loads(b'')\n")
    write(repo, "requirements.txt", "pyyaml==5.3.1\n")
    write(repo, "model.pt", "not really a model\n")
    return repo


def test_the_runner_says_once_which_gate_is_left_with_the_others_results(
    tmp_path: Path,
) -> None:
    repo = _tree(tmp_path)
    db = fixture_path(ROOT / "examples" / "advisory-db")
    calls: list[tuple[tuple[GateResult, ...], str]] = []
    request = RunRequest(
        gates=("secrets", "deps", "sast"),
        jobs=3,
        overrides={"deps": {"advisory_db": str(db)}},
        one_left=lambda ended, running: calls.append((ended, running)),
    )
    result = run_gates(open_repo(repo), load_policy("default"), load_config(repo), request)
    assert len(calls) == 1
    ended, running = calls[0]
    assert running in ("secrets", "deps", "sast")
    by_gate = {r.gate: r for r in result.results}
    assert [r.gate for r in ended] == [g for g in ("secrets", "deps", "sast") if g != running]
    assert all(r is by_gate[r.gate] for r in ended)  # the run's own results, in its order
    assert all(r.ran and not r.errors for r in result.results)

    alone: list[str] = []
    one = RunRequest(("secrets",), 1, {}, one_left=lambda _e, name: alone.append(name))
    run_gates(open_repo(repo), load_policy("default"), load_config(repo), one)
    assert alone == []  # one gate: it is the last from the start, nothing to do ahead


PROBE = """
import sys
from mlgate import bom, runner
phase = ["before"]
real_run_gates = runner.run_gates
def run_gates(*args, **kwargs):
    phase[0] = "during"
    try:
        return real_run_gates(*args, **kwargs)
    finally:
        phase[0] = "after"
runner.run_gates = run_gates
import mlgate.core
mlgate.core.run_gates = run_gates
seen = []
real_ahead = bom.validate_ahead
def validate_ahead(*args, **kwargs):
    seen.append("ahead")
    return real_ahead(*args, **kwargs)
bom.validate_ahead = validate_ahead
real_load = bom.load_validator
class Counted:
    def validate_str(self, text):
        seen.append(phase[0])
        return real_load().validate_str(text)
bom.load_validator = Counted
from mlgate.cli import run_main
code = run_main(sys.argv[1:])
print("VALIDATED", " ".join(seen), "EXIT", code, file=sys.stderr)
"""


def test_a_first_run_validates_its_bom_before_its_last_gate_ends(tmp_path: Path) -> None:
    """A real cold run of sast and secrets: the BOM is validated during the run, not after
    it, and the BOM written is valid. Neither gate adds a component, and each reports the
    tools its stand-in names, so the BOM of the first gate to end has the run's shape
    whichever that is. (The deps gate does not: with an advisory database it reports the
    database, where its stand-in names pip-audit; when it ends last, the run's BOM is
    validated after it, as before.)"""
    repo = _tree(tmp_path)
    for index in range(300):  # detect-secrets ends after sast, most of the time
        write(repo, f"notes/n{index}.txt", f"note {index}\n")
    out = tmp_path / "out"
    args = ["run", str(repo), "sast", "secrets", "--quiet", "--output", str(out)]
    args += ["--format", "json"]
    for attempt in range(3):  # the two gates may end at the same moment: nothing left ahead
        env = {**os.environ, "MLGATE_CACHE_DIR": str(tmp_path / f"cache{attempt}")}
        ((_, stderr),) = last_lines_of_probe(PROBE, args, env, runs=1)
        assert "EXIT 1" in stderr, stderr  # pickle.loads: blocked, the BOM written
        validated = stderr.split("VALIDATED", 1)[1].split("EXIT")[0].split()
        if validated[:1] == ["ahead"]:
            break
    assert validated == ["ahead", "during"], stderr  # and never again after the run
    written = json.loads((out / "mlgate.cdx.json").read_text(encoding="utf-8"))
    properties = {p["name"]: p["value"] for p in written["metadata"]["properties"]}
    assert properties["mlgate:decision"] == "blocked"  # the run's verdicts, not the stand-in's
    assert (properties["mlgate:gate:sast"], properties["mlgate:gate:secrets"]) == ("fail", "pass")
    assert [c["name"] for c in written["components"] if c["type"] == "library"] == ["pyyaml"]
    from mlgate.bom import load_validator

    assert load_validator().validate_str(json.dumps(written)) is None
