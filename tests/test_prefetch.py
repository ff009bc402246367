"""mlgate.prefetch: work done while the scanners run, woken by a tool process starting."""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mlgate.prefetch import Prefetch, prefetching
from mlgate.tools import noticing_starts, run_tool, submit

from .conftest import last_lines_of_probe


def test_tasks_run_once_woken_and_finish_waits_for_them() -> None:
    done: list[str] = []
    prefetch = Prefetch([lambda: done.append("a"), lambda: done.append("b")])
    assert done == []  # nothing before a tool starts
    prefetch.wake()
    prefetch.finish()
    assert done == ["a", "b"]
    assert prefetch.ran


def test_finish_before_any_tool_started_cancels_the_work() -> None:
    done: list[str] = []
    with prefetching([lambda: done.append("a")]) as prefetch:
        pass
    assert done == []
    assert not prefetch.ran
    prefetch.wake()  # too late: the thread has ended
    assert done == []


def test_a_failing_task_does_not_stop_the_others_nor_the_run() -> None:
    done: list[str] = []

    def fail() -> None:
        raise RuntimeError("the caller meets this again when it needs the result")

    with prefetching([fail, lambda: done.append("after")]) as prefetch:
        prefetch.wake()
    assert done == ["after"]


def test_settle_waits_for_running_tasks_only() -> None:
    release = threading.Event()
    entered = threading.Event()
    done: list[str] = []

    def slow() -> None:
        entered.set()
        release.wait(10)
        done.append("slow")

    prefetch = Prefetch([slow])
    prefetch.settle()  # not woken: returns at once (no deadlock)
    prefetch.wake()
    assert entered.wait(10)
    threading.Timer(0.05, release.set).start()
    prefetch.settle()  # woken: waits for the work to end
    assert done == ["slow"]
    prefetch.finish()


def test_a_started_tool_wakes_the_listener_in_threads_started_with_submit() -> None:
    calls: list[int] = []
    python = [sys.executable, "-c", "pass"]
    run_tool(python, 60)
    assert calls == []  # outside the block nobody listens
    with noticing_starts(lambda: calls.append(1)), ThreadPoolExecutor(1) as pool:
        assert submit(pool, run_tool, python, 60).result().returncode == 0
    assert calls == [1]
    run_tool(python, 60)
    assert calls == [1]


def test_a_tool_that_cannot_start_wakes_nobody() -> None:
    calls: list[int] = []
    with noticing_starts(lambda: calls.append(1)):
        assert run_tool(["/nonexistent/mlgate-no-such-tool"], 60).problem
    assert calls == []


def test_no_tasks_no_thread() -> None:
    prefetch = Prefetch([])
    prefetch.wake()
    prefetch.settle()
    prefetch.finish()
    assert not prefetch.ran


VALIDATOR_PROBE = """
import sys, threading
seen = []
def hook(event, args):
    if event == "import" and args[0] == "cyclonedx.validation.json":
        seen.append(threading.current_thread().name)
sys.addaudithook(hook)
from mlgate.cli import run_main
code = run_main(sys.argv[1:])
print("IMPORTED-ON", code, ",".join(seen) or "-")
"""


def test_a_first_run_loads_the_bom_validator_while_the_scanners_run(tmp_path: Path) -> None:
    """With a cache that never held a valid ML-BOM, the validator (0.2-0.3 s of imports) is
    loaded on the prefetch thread, woken by the first scanner; once a BOM was found valid,
    later runs leave it to the one that needs it (usually none: its validity is cached)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "app.py").write_text("print('hello')\n", encoding="utf-8")
    env = {**os.environ, "MLGATE_CACHE_DIR": str(tmp_path / "cache")}
    argv = ["run", str(repo), "secrets", "--quiet", "--output", str(tmp_path / "out")]
    seen = []
    for line, stderr in last_lines_of_probe(VALIDATOR_PROBE, argv, env):
        assert line.startswith("IMPORTED-ON 0"), stderr
        seen.append(line.split()[2])
    assert seen == ["mlgate-prefetch", "-"]


WRITERS_PROBE = """
import sys, threading
seen = {}
def hook(event, args):
    if event == "import" and args[0] in ("mlgate.report.sarif", "mlgate.receipt"):
        seen[args[0]] = threading.current_thread().name
sys.addaudithook(hook)
from mlgate.cli import run_main
code = run_main(sys.argv[1:])
print("IMPORTED-ON", code, ",".join(f"{k}={v}" for k, v in sorted(seen.items())) or "-")
"""


def test_a_run_loads_its_report_writers_while_the_scanners_run(tmp_path: Path) -> None:
    """The writers of the formats asked for, and of the receipt, load on first use: on the
    prefetch thread while a scanner runs, not after the last one."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "app.py").write_text("print('hello')\n", encoding="utf-8")
    env = {**os.environ, "MLGATE_CACHE_DIR": str(tmp_path / "cache")}
    out = str(tmp_path / "out")
    argv = ["run", str(repo), "secrets", "--quiet", "--format", "sarif", "--output", out]
    [(line, stderr)] = last_lines_of_probe(WRITERS_PROBE, argv, env, runs=1)
    assert line.split() == [
        "IMPORTED-ON",
        "0",
        "mlgate.receipt=mlgate-prefetch,mlgate.report.sarif=mlgate-prefetch",
    ], stderr
