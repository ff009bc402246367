"""`mlgate.atomic`: the one way mlgate puts a file in place."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from mlgate import atomic

SRC = Path(__file__).resolve().parents[1] / "src" / "mlgate"


def test_write_puts_the_bytes_in_place_and_leaves_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old", encoding="utf-8")
    assert atomic.write(target, "new\nline\n") == target
    assert target.read_bytes() == b"new\nline\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_modes_private_exact_and_executable(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        private = atomic.write(tmp_path / "cache.json", "{}", create_mode=0o600)
        exact = atomic.write(tmp_path / "tool", b"#!/bin/sh\n", mode=0o751)
        hook = atomic.write(tmp_path / "pre-push", "#!/bin/sh\n", create_mode=0o777)
        plain = atomic.write(tmp_path / "plain.txt", "x")
    finally:
        os.umask(umask)
    modes = [stat.S_IMODE(p.stat().st_mode) for p in (private, exact, hook, plain)]
    assert modes == [0o600, 0o751, 0o755, 0o644]


def test_an_interrupted_write_keeps_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.sarif"
    target.write_text("old", encoding="utf-8")

    def interrupted(src: object, dst: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic.write(target, "new")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.sarif"]


def test_a_write_that_cannot_happen_is_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        atomic.write(tmp_path / "missing-dir" / "x.json", "{}")
    assert list(tmp_path.iterdir()) == []


# The only other renames into place: generate's multi-file commit (it stages each file with
# atomic.stage, then renames them together) and the advisory download's temporary archive.
RENAMES_ALLOWED = {"atomic.py", "generate/files.py", "deps/dbupdate.py"}
# (Renaming a directory or an existing file elsewhere, as toolenv and hooks do, is a move.)
_RENAME = re.compile(r"\bos\.replace\(|\bmkstemp\(")


def test_files_are_put_in_place_only_through_atomic() -> None:
    offenders = [
        str(path.relative_to(SRC))
        for path in sorted(SRC.rglob("*.py"))
        if path.relative_to(SRC).as_posix() not in RENAMES_ALLOWED
        and _RENAME.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_scan_catches_a_rename_into_place() -> None:
    assert _RENAME.search("    os.replace(tmp, path)\n")
    assert _RENAME.search("fd, name = tempfile.mkstemp(dir=d)")
