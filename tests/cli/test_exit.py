"""`mlgate.cli.exit_process`: the `mlgate` command ends without the interpreter's teardown
(issue 16), but never at the cost of an exit handler, a buffered line or a live thread."""

from __future__ import annotations

import os
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
if sys.argv[1] == "profiled":
    import cProfile
    cProfile.Profile().enable()  # python -m cProfile writes its data after the program returns
try:
    exit_process(3)
except SystemExit:
    print(" / the usual exit", flush=True)
    raise
"""


def _probe(mode: str) -> subprocess.CompletedProcess[str]:
    # without the suite's coverage of child processes: a tracer at work gets the usual exit
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE_", "COVERAGE"))}
    return subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, env=env, check=False
    )


def test_exit_handlers_run_and_streams_are_flushed() -> None:
    done = _probe("plain")
    assert done.returncode == 3, done.stderr
    assert done.stdout == "buffered, no newlineexit handler ran\n"  # and no usual exit


def test_a_live_thread_is_waited_for() -> None:
    done = _probe("thread")
    assert done.returncode == 3, done.stderr
    assert "thread finished" in done.stdout and "exit handler ran" in done.stdout


def test_a_profiler_at_work_gets_the_usual_exit() -> None:
    done = _probe("profiled")
    assert done.returncode == 3, done.stderr
    assert "the usual exit" in done.stdout and "exit handler ran" in done.stdout
