"""Class 2 of issue 12: SIGINT and SIGTERM stop a run within 2 s, with exit 130 or 143, and
leave no tool process, no temporary directory and no partial report behind."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import write
from tests.hostile import faketools
from tests.hostile.conftest import Hostile

POLICY = "extends: default\ndefaults: {timeout: 120}\n"


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_stops_the_run_and_leaves_nothing(
    signum: signal.Signals, code: int, hostile: Hostile, tmp_path: Path
) -> None:
    hostile.fake({t: "fork-and-hang" for t in ("bandit", "semgrep", "detect-secrets")})
    root = tmp_path / "repo"
    # a call a rule-pack rule may match: else the literal prefilter rightly starts no semgrep
    write(root, "app.py", "import os\nos.system(cmd)\n")
    write(root, "nb.ipynb", '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    write(root, "notes.txt", "text\n")
    write(root, "policy.yml", POLICY)
    out = tmp_path / "out"
    args = ["run", str(root), "sast", "secrets", "--policy", str(root / "policy.yml")]
    args += ["--no-cache", "--quiet", "--format", "json", "--output", str(out)]
    proc = subprocess.Popen(
        hostile.cli(args, root),
        env=hostile.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _wait_for_sleepers(hostile.marker, count=6)  # two per fake tool
        assert [p.name for p in hostile.tmp.iterdir() if p.name.startswith("mlgate-")]
        sent = time.monotonic()
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=10)
        stopped = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, stderr.decode()
    assert stopped < 2.0, f"took {stopped:.2f}s to stop"
    assert b"interrupted" in stderr
    assert sorted(p.name for p in out.iterdir()) == [], "partial files in --output"
    # the fixture then checks that no process of the case survives and no temp dir remains


def _wait_for_sleepers(marker: str, count: int, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        sleepers = [c for c in faketools.survivors(marker) if "mlgate-hostile-sleeper" in c]
        if len(sleepers) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"the fake tools did not start: {faketools.survivors(marker)}")
