"""`mlgate.cli.exit_process`: the `mlgate` command ends without the interpreter's teardown
(issue 16), but never at the cost of an exit handler, a buffered line or a live thread."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import atexit, sys, threading, time
from mlgate.cli import exit_process
atexit.register(lambda: print("exit handler ran", flush=True))
sys.stdout.write("buffered, no newline")
if sys.argv[1] == "thread":
    def late():
        time.sleep(0.3)
        print(" / thread finished", flush=True)
    threading.Thread(target=late).start()
exit_process(3)
"""


def _probe(mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=False
    )


def test_exit_handlers_run_and_streams_are_flushed() -> None:
    done = _probe("plain")
    assert done.returncode == 3, done.stderr
    assert done.stdout == "buffered, no newlineexit handler ran\n"


def test_a_live_thread_is_waited_for() -> None:
    done = _probe("thread")
    assert done.returncode == 3, done.stderr
    assert "thread finished" in done.stdout and "exit handler ran" in done.stdout
