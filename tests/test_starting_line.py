"""runner.StartingLine: gates that start tools prepare one at a time, light ones first."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mlgate import cache as cache_module
from mlgate.cache import ResultCache
from mlgate.config import load_config
from mlgate.gates import GATES
from mlgate.policy import load_policy
from mlgate.repo import open_repo
from mlgate.runner import RunRequest, StartingLine, run_gates
from mlgate.tools import noticing_starts, run_tool, submit, watching_commands

from .conftest import write

PYTHON = [sys.executable, "-c", "pass"]
WAIT = 10.0


def _in_turn(line: StartingLine, gate: str, body: Callable[[], None]) -> None:
    with line.turn(gate):
        body()


def test_the_next_starter_begins_when_the_first_has_started_its_tool() -> None:
    line = StartingLine(["first", "second"], cleared=lambda: None)
    second_began = threading.Event()
    events: list[str] = []

    def first() -> None:
        events.append("first prepares")
        time.sleep(0.1)  # time enough for the second to barge in, were there no line
        events.append("first starts its tool")
        run_tool(PYTHON, 60)
        # its tool has started: the second may prepare while this gate is still busy
        events.append("first waits" if second_began.wait(WAIT) else "first timed out")

    def second() -> None:
        events.append("second prepares")
        second_began.set()

    with noticing_starts(line.noticed), ThreadPoolExecutor(2) as pool:
        jobs = [submit(pool, _in_turn, line, "first", first)]
        jobs.append(submit(pool, _in_turn, line, "second", second))
        for job in jobs:
            job.result(WAIT)
    assert events == ["first prepares", "first starts its tool", "second prepares", "first waits"]


def test_a_starter_that_starts_no_tool_keeps_its_turn_to_the_end() -> None:
    line = StartingLine(["first", "second"], cleared=lambda: None)
    events: list[str] = []
    first_may_end = threading.Event()

    def first() -> None:
        events.append("first begins")
        first_may_end.wait(0.2)  # the second must not begin meanwhile
        events.append("first ends")

    with noticing_starts(line.noticed), ThreadPoolExecutor(2) as pool:
        jobs = [submit(pool, _in_turn, line, "first", first)]
        jobs.append(submit(pool, _in_turn, line, "second", lambda: events.append("second")))
        for job in jobs:
            job.result(WAIT)
    assert events == ["first begins", "first ends", "second"]


def test_other_gates_begin_once_every_starter_has_started_and_the_line_clears_once() -> None:
    cleared: list[str] = []
    line = StartingLine(["starter"], cleared=lambda: cleared.append("clear"))
    events: list[str] = []
    other_began = threading.Event()

    def starter() -> None:
        events.append("starter prepares")
        run_tool(PYTHON, 60)
        other_began.wait(WAIT)

    def other() -> None:
        events.append("other runs")
        other_began.set()

    with noticing_starts(line.noticed), ThreadPoolExecutor(2) as pool:
        jobs = [submit(pool, _in_turn, line, "other", other)]  # asks first, waits anyway
        jobs.append(submit(pool, _in_turn, line, "starter", starter))
        for job in jobs:
            job.result(WAIT)
        run_tool(PYTHON, 60)  # a later tool start: the line is still clear
    assert events == ["starter prepares", "other runs"]
    assert cleared == ["clear", "clear"]
    assert line.place("starter") == 0 and line.place("other") == 1


def test_without_a_tool_started_the_line_never_says_it_is_clear() -> None:
    """A warm run (every result from the cache) starts no scanner: nothing may wake the
    work that waits for one."""
    cleared: list[str] = []
    line = StartingLine(["a", "b"], cleared=lambda: cleared.append("clear"))
    with noticing_starts(line.noticed), ThreadPoolExecutor(1) as pool:
        for gate in ("a", "b"):
            submit(pool, _in_turn, line, gate, lambda: None).result(WAIT)
    assert cleared == []


@pytest.fixture
def lines(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """The starters of each line a run makes, in their order."""
    made: list[tuple[str, ...]] = []
    real = StartingLine.__init__

    def init(self: StartingLine, starters: Sequence[str], cleared: Callable[[], None]) -> None:
        made.append(tuple(starters))
        real(self, starters, cleared)

    monkeypatch.setattr(StartingLine, "__init__", init)
    return made


def test_a_cold_run_starts_the_light_gates_tool_first_even_with_one_worker(
    tmp_path: Path, lines: list[tuple[str, ...]]
) -> None:
    """sast converts notebooks and reads its rules before bandit starts; secrets only
    sorts files: detect-secrets starts first, whatever the order asked for, and one
    worker runs the gates in the line's order without waiting forever."""
    assert GATES["sast"].heavy_preparation and not GATES["secrets"].heavy_preparation
    write(tmp_path, "app.py", "import pickle\npickle.loads(b'')\n")
    repo = open_repo(tmp_path)
    commands: list[str] = []
    for jobs in (1, 3):
        commands.clear()
        request = RunRequest(gates=("sast", "secrets"), jobs=jobs, overrides={})
        with watching_commands(lambda argv: commands.append(Path(argv[0]).name)):
            result = run_gates(repo, load_policy("default"), load_config(tmp_path), request)
        assert [r.gate for r in result.results] == ["sast", "secrets"]  # the order asked for
        assert all(r.ran and not r.errors for r in result.results)
        scanners = [name for name in commands if name in ("bandit", "detect-secrets")]
        assert scanners[0] == "detect-secrets", (jobs, commands)
        assert "bandit" in scanners
    assert lines == [("secrets", "sast")] * 2


def test_with_a_warm_cache_no_gate_waits_in_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: list[tuple[str, ...]]
) -> None:
    """A warm cache: the gates reuse their results and prepare only changed files, so
    they do not take turns (a warm run was 15 ms slower with a line)."""
    monkeypatch.setattr(cache_module, "RACY_NS", 0)  # the file's stamp is kept at once
    write(tmp_path / "repo", "app.py", "import pickle\npickle.loads(b'')\n")
    repo = open_repo(tmp_path / "repo")
    for _ in range(2):
        cache = ResultCache(tmp_path / "cache")
        request = RunRequest(gates=("sast", "secrets"), jobs=2, overrides={}, cache=cache)
        result = run_gates(repo, load_policy("default"), load_config(repo.root), request)
        assert all(r.ran and not r.errors for r in result.results)
    assert lines == [("secrets", "sast"), ()]
