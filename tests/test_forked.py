"""Reports written by a forked copy of mlgate (`bulk.Forked`, `report.start_reports`).

With many findings, part of the report formats is written by a forked copy of the process
while the process writes the rest (issue 16: 100,000 findings in every format on two
cores). The files must be the very files written one by one, a failure in the copy must
fail the write as it would have failed in the process, and no copy may outlive its parent,
a cancel or a signal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from mlgate import bulk, report
from mlgate.errors import ConfigError, Interrupted, ReportError
from mlgate.report import FORMATS, start_reports, write_reports
from tests.report.test_report_writers import varied_report

EVERY_FORMAT = sorted(FORMATS)


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every report forks (FORK_FROM 0); the pids of the copies started are recorded."""
    monkeypatch.setattr(bulk, "FORK_FROM", 0)
    started: list[int] = []
    real = bulk.Forked.start.__func__  # type: ignore[attr-defined]

    def start(cls: type[bulk.Forked], work: Any) -> bulk.Forked | None:
        forked: bulk.Forked | None = real(cls, work)
        if forked is not None:
            started.append(forked.pid)
        return forked

    monkeypatch.setattr(bulk.Forked, "start", classmethod(start))
    return started


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _gone(pid: int) -> bool:
    """The process is reaped, or a zombie nobody waits for (its parent died)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def test_forked_writing_writes_the_files_one_process_writes(
    tmp_path: Path, forks: list[int]
) -> None:
    shown = varied_report()
    together = write_reports(shown, EVERY_FORMAT, tmp_path / "forked")
    assert len(forks) == 1, "the formats were not shared with a forked copy"
    assert _gone(forks[0])

    bulk.FORK_FROM = 10**9  # the monkeypatch restores it
    alone = write_reports(shown, EVERY_FORMAT, tmp_path / "alone")
    assert len(forks) == 1
    assert [p.name for p in together] == [p.name for p in alone]
    assert _files(tmp_path / "forked") == _files(tmp_path / "alone")
    assert not list((tmp_path / "forked").glob(".*.tmp"))


def test_shares_are_balanced_and_light_work_is_not_forked() -> None:
    here, there = report._split(EVERY_FORMAT, 0.0)
    assert sorted(here + there) == EVERY_FORMAT and here and there

    def weight(names: list[str]) -> float:
        return sum(FORMATS[name].weight for name in names)

    assert abs(weight(here) - weight(there)) <= max(FORMATS[n].weight for n in EVERY_FORMAT)
    assert report._split(["json"], 1.0) == (["json"], [])  # json beside the text: one process
    assert report._split(["sarif", "gitlab"], 0.0)[1]


def test_a_failure_in_the_forked_copy_fails_the_write(tmp_path: Path, forks: list[int]) -> None:
    _, there = report._split(EVERY_FORMAT, 0.0)
    blocked = next(name for fmt in there for name in FORMATS[fmt].files(varied_report()) if name)
    (tmp_path / blocked).mkdir()  # the copy cannot rename its file over a directory
    with pytest.raises(ReportError, match=f"cannot write the report .*{blocked}"):
        write_reports(varied_report(), EVERY_FORMAT, tmp_path)
    assert len(forks) == 1 and _gone(forks[0])
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_failure_here_stops_the_copy(
    tmp_path: Path, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    here, _ = report._split(EVERY_FORMAT, 0.0)
    assert "sarif" not in here  # the sleeping format is the copy's

    def asleep(_self: object, _report: object) -> dict[str, str]:
        time.sleep(60)
        return {}

    monkeypatch.setattr(type(FORMATS["sarif"]), "files", asleep)
    began = time.monotonic()
    with pytest.raises(Interrupted), start_reports(varied_report(), EVERY_FORMAT, tmp_path):
        raise Interrupted(signal.SIGTERM)
    assert len(forks) == 1 and _gone(forks[0])
    assert time.monotonic() - began < 30, "the copy was waited for, not stopped"


def test_no_fork_while_another_thread_runs(tmp_path: Path, forks: list[int]) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        written = write_reports(varied_report(), EVERY_FORMAT, tmp_path)
    finally:
        stop.set()
        thread.join()
    assert forks == []
    assert {p.name for p in written} == set(_files(tmp_path))
    assert len(written) >= 5


def _forked(work: Any) -> bulk.Forked:
    forked = bulk.Forked.start(work)
    assert forked is not None, "this machine should fork (two cores, one thread)"
    return forked


def test_the_copy_returns_its_answer_and_raises_mlgate_errors_as_they_were() -> None:
    assert _forked(lambda: {"a": [1, "b"]}).result() == {"a": [1, "b"]}

    def config_error() -> None:
        raise ConfigError("policy.yml:3: bad key", hint="see the docs")

    with pytest.raises(ConfigError, match=r"policy\.yml:3: bad key") as caught:
        _forked(config_error).result()
    assert caught.value.hint == "see the docs"
    with pytest.raises(bulk.ForkedError, match="ZeroDivisionError"):
        _forked(lambda: 1 / 0).result()
    assert bulk.Forked.peak_kb > 1000  # each copy reports its peak RSS


def test_a_killed_copy_is_an_error_not_an_answer() -> None:
    forked = _forked(lambda: time.sleep(60))
    os.kill(forked.pid, signal.SIGKILL)
    with pytest.raises(bulk.ForkedError, match="killed by SIGKILL"):
        forked.result()


def test_a_cancelled_copy_unwinds(tmp_path: Path) -> None:
    marker = tmp_path / "unwound"

    def work() -> None:
        try:
            time.sleep(60)
        finally:
            marker.write_text("yes")

    with _forked(work) as forked:
        time.sleep(0.3)  # the copy is in its sleep
    assert _gone(forked.pid)
    assert marker.read_text() == "yes", "SIGTERM killed the copy instead of unwinding it"


def test_the_copy_dies_with_its_parent(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG: a parent killed by SIGKILL leaves no copy behind."""
    code = textwrap.dedent(
        """
        import sys, time
        from mlgate import bulk
        forked = bulk.Forked.start(lambda: time.sleep(120))
        print(forked.pid, flush=True)
        time.sleep(120)
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True
    ) as parent:
        try:
            assert parent.stdout is not None
            pid = int(parent.stdout.readline())
            assert not _gone(pid)
        finally:
            parent.kill()
    deadline = time.monotonic() + 10
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(pid), "the forked copy outlived its parent"


def test_a_signal_while_waiting_stops_the_copy_instead_of_waiting_for_it() -> None:
    forked = _forked(lambda: time.sleep(60))

    def interrupt(signum: int, _frame: object) -> None:
        raise Interrupted(signum)

    previous = signal.signal(signal.SIGALRM, interrupt)
    began = time.monotonic()
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with pytest.raises(Interrupted):
            forked.result()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert time.monotonic() - began < 30, "the copy was waited for"
    assert _gone(forked.pid)
