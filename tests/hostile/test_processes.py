"""Class 2 of issue 12: a process that escapes its tool's process group (setsid) is killed
when the tool ends: here the model gate's `predict` command, measured by the gate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import write
from tests.hostile.conftest import Hostile
from tests.hostile.test_tool_faults import run_gate

PREDICT = """\
import subprocess, sys
sleeper = [sys.executable, "-c", "import time; time.sleep(300)", "mlgate-hostile-sleeper"]
subprocess.Popen(sleeper, start_new_session=True, stdout=subprocess.DEVNULL)
print("prediction: 1")
"""


def test_predict_child_that_calls_setsid_is_killed(hostile: Hostile, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(root, "predict.py", PREDICT)
    command = [sys.executable, "predict.py"]
    config = {"model": {"predict": {"command": command, "runs": 2, "warmup": 0}}}
    write(root, ".mlgate.yml", json.dumps(config))
    write(root, "policy.yml", "extends: default\ndefaults: {timeout: 30}\n")
    result, status = run_gate(root, "model")
    assert status == "pass", result.errors
    assert result.properties["budgets"]["runs"] == 2
    # the fixture asserts that neither escaped sleeper is still alive


def test_cli_reaps_a_scrubbed_double_forked_escapee(hostile: Hostile, tmp_path: Path) -> None:
    """A grandchild with no environment (no run token) in a new session, whose parent has
    exited: the CLI is a child subreaper, so it is re-parented to mlgate and killed when the
    run ends. (Without the subreaper it would be init's and live on.)"""
    hostile.fake({"bandit": "scrubbed-double-fork"})
    root = tmp_path / "repo"
    write(root, "app.py", "print('hello')\n")
    args = ["run", str(root), "sast", "--no-cache", "--quiet", "--format", "json"]
    done = subprocess.run(
        hostile.cli(args, root),
        check=False,
        env=hostile.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["gates"][0]["status"] == "pass"
    # the fixture asserts the sleeper (named by the case's marker) is gone
