"""A tool's end is waited for, not polled for (`tools.wait_for_exit`, issue 16): `Popen.wait`
with a timeout sleeps up to 50 ms between two looks, so each tool's end was noticed 25 ms
late on average, and the last scanner's delayed the whole run."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from mlgate.tools import run_tool, wait_for_exit


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Each `time.sleep` subprocess's polling makes (the test's own code sleeps none)."""
    made: list[float] = []
    real = time.sleep

    def recorded(seconds: float) -> None:
        made.append(seconds)
        real(seconds)

    monkeypatch.setattr(subprocess.time, "sleep", recorded)  # type: ignore[attr-defined]
    return made


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="no pidfd on this platform")
def test_a_tool_that_ends_is_noticed_at_once_not_polled(sleeps: list[float]) -> None:
    started = time.monotonic()
    done = run_tool([sys.executable, "-c", "import time; time.sleep(0.3)"], 60)
    waited = time.monotonic() - started
    assert done.ok and done.returncode == 0, done
    assert sleeps == []  # Popen.wait(timeout) would have slept 9 times by now
    assert waited >= 0.3


def test_a_tool_that_does_not_end_times_out_and_is_reaped(sleeps: list[float]) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        started = time.monotonic()
        with pytest.raises(subprocess.TimeoutExpired):
            wait_for_exit(proc, 0.2)
        assert 0.2 <= time.monotonic() - started < 5
        assert proc.returncode is None
    finally:
        proc.kill()
        wait_for_exit(proc, 10)
    assert proc.returncode is not None  # reaped: no zombie left


def test_without_pidfds_it_waits_as_popen_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "pidfd_open", raising=False)  # as on macOS, or Python < 3.9
    done = run_tool([sys.executable, "-c", "raise SystemExit(3)"], 60)
    assert done.returncode == 3
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            wait_for_exit(proc, 0.1)
    finally:
        proc.kill()
        proc.wait()
