"""Fixtures of the hostile suite: fake tools found first, a private temp dir per case, and
a check after every case that nothing it started or made is left."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlgate import tools
from tests.hostile import faketools

# `python -c LAUNCH ARGS...` runs the mlgate CLI with the fake tools of $MLGATE_FAKE_TOOLS
# found before the real ones (mlgate looks beside its interpreter first, so PATH alone
# cannot put a fake in front).
LAUNCH = """
import os, sys
from pathlib import Path
import mlgate.tools as tools
fakes = Path(os.environ["MLGATE_FAKE_TOOLS"])
real = tools.find_tool
tools.find_tool = lambda name: str(fakes / name) if (fakes / name).is_file() else real(name)
from mlgate.cli import main
sys.argv[0] = "mlgate"
main()
"""


@dataclass
class Hostile:
    """One case's sandbox: its marker, fake tools, temp dir, and the environment to use."""

    marker: str
    fakes: Path
    tmp: Path
    env: dict[str, str]

    def fake(self, modes: Mapping[str, str]) -> None:
        faketools.install(self.fakes, modes)

    def leftovers(self) -> list[str]:
        return sorted(p.name for p in self.tmp.iterdir())

    def cli(self, args: Sequence[str], cwd: Path) -> list[str]:
        return [sys.executable, "-c", LAUNCH, *args]


@pytest.fixture
def hostile(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Hostile]:
    marker = f"{request.node.name}-{os.getpid()}-{time.monotonic_ns()}"
    fakes = faketools.install(tmp_path / "fakes", {})
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {
        faketools.MARKER_VAR: marker,
        "TMPDIR": str(tmp),
        "MLGATE_FAKE_TOOLS": str(fakes),
        # scanners from PATH, not mlgate's pinned environments (toolenv.py); the fakes come
        # first on PATH, and the find_tool hook also puts them before the interpreter's
        # own directory (where a non-pinned tool such as pytest is looked up first)
        "MLGATE_TOOLS": "system",
        "PATH": f"{fakes}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MLGATE_ADVISORY_DB", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    real = tools.find_tool
    monkeypatch.setattr(
        tools,
        "find_tool",
        lambda name: str(fakes / name) if (fakes / name).is_file() else real(name),
    )
    tools.tool_version.cache_clear()
    case = Hostile(marker, fakes, tmp, {**os.environ, **env})
    yield case
    tools.tool_version.cache_clear()
    alive = _wait_for_no_survivors(marker)
    assert not alive, f"processes of the case survived: {alive}"
    left = [n for n in case.leftovers() if n.startswith("mlgate-")]
    assert not left, f"temporary directories left behind: {left}"


def _wait_for_no_survivors(marker: str, limit: float = 2.0) -> list[str]:
    """Killed processes take a moment to disappear; anything alive after `limit` s survived."""
    deadline = time.monotonic() + limit
    alive = faketools.survivors(marker)
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = faketools.survivors(marker)
    return alive
