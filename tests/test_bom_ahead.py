"""A first run validates its ML-BOM while its last gate runs (issue 16): the runner says
when one gate is left (`RunRequest.one_left`), the core builds the BOM of the results so
far with a stand-in for that gate and validates its shape (`bom.validate_ahead`); the
run's own BOM then has that shape, and is not validated after the last scanner ends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mlgate.config import load_config
from mlgate.gates import GateResult
from mlgate.policy import load_policy
from mlgate.repo import open_repo
from mlgate.runner import RunRequest, run_gates

from .conftest import fixture_path, write

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
    """A real cold run (detect-secrets still scanning 300 files once the deps gate has
    audited the one pin): the BOM is validated during the run, not after it, and the BOM
    written is valid. Neither gate adds a component or a vulnerability here, so the BOM of
    the first gate to end has the run's shape whichever that is."""
    repo = _tree(tmp_path)
    write(repo, "requirements.txt", "pyyaml==6.0.1\n")  # no advisory: no vulnerability
    for index in range(300):
        write(repo, f"notes/n{index}.txt", f"note {index}\n")
    db = fixture_path(ROOT / "examples" / "advisory-db")
    env = {**os.environ, "MLGATE_CACHE_DIR": str(tmp_path / "cache")}
    out = tmp_path / "out"
    args = ["run", str(repo), "secrets", "deps", "--advisory-db", str(db), "--quiet"]
    args += ["--output", str(out), "--format", "json"]
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, check=False
    )
    assert "EXIT 0" in done.stderr, done.stderr
    validated = done.stderr.split("VALIDATED", 1)[1].split("EXIT")[0].split()
    assert validated == ["during"], done.stderr
    written = json.loads((out / "mlgate.cdx.json").read_text(encoding="utf-8"))
    properties = {p["name"]: p["value"] for p in written["metadata"]["properties"]}
    assert properties["mlgate:decision"] == "pass"  # the run's verdicts, not the stand-in's
    assert properties["mlgate:gate:secrets"] == properties["mlgate:gate:deps"] == "pass"
    assert [c["name"] for c in written["components"] if c["type"] == "library"] == ["pyyaml"]
    from mlgate.bom import load_validator

    assert load_validator().validate_str(json.dumps(written)) is None
