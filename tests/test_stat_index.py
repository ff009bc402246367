"""The stat index: content digests reused only while a file's stat is unchanged (issue 16)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from mlgate import cache as cache_module
from mlgate.cache import ResultCache, StatIndex

from .conftest import write


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def not_racy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files written by the test are seconds old at most: trust their stat anyway."""
    monkeypatch.setattr(cache_module, "RACY_NS", 0)


def _index(cache: ResultCache, root: Path) -> StatIndex:
    return StatIndex(cache, root)


def test_unchanged_files_are_not_hashed_again(tmp_path: Path, not_racy: None) -> None:
    cache = ResultCache(tmp_path / "cache")
    for name in ("a.py", "b.py"):
        write(tmp_path / "repo", name, f"# {name}\n")
    first = _index(cache, tmp_path / "repo")
    assert first.digests(["a.py", "b.py"]) == {"a.py": _sha("# a.py\n"), "b.py": _sha("# b.py\n")}
    assert first.hashed == 2
    first.save()
    second = _index(cache, tmp_path / "repo")
    assert second.digests(["a.py", "b.py"])["b.py"] == _sha("# b.py\n")
    assert second.hashed == 0


def test_same_size_same_mtime_rewrite_is_still_seen(tmp_path: Path, not_racy: None) -> None:
    """An edit that keeps size and mtime (e.g. a tool restoring timestamps) changes ctime."""
    cache, repo = ResultCache(tmp_path / "cache"), tmp_path / "repo"
    path = write(repo, "a.py", "x = 1\n")
    before = path.stat()
    first = _index(cache, repo)
    first.digests(["a.py"])
    first.save()
    path.write_text("x = 2\n", encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    second = _index(cache, repo)
    assert second.digests(["a.py"]) == {"a.py": _sha("x = 2\n")}
    assert second.hashed == 1


def test_recently_changed_files_are_hashed_again(tmp_path: Path) -> None:
    """Racy entries (changed within RACY_NS of the look) are never trusted next time."""
    cache, repo = ResultCache(tmp_path / "cache"), tmp_path / "repo"
    write(repo, "a.py", "x = 1\n")
    first = _index(cache, repo)
    first.digests(["a.py"])
    first.save()
    second = _index(cache, repo)
    assert second.digests(["a.py"]) == {"a.py": _sha("x = 1\n")}
    assert second.hashed == 1


def test_unreadable_file_has_an_empty_digest(tmp_path: Path, not_racy: None) -> None:
    index = _index(ResultCache(tmp_path / "cache"), tmp_path)
    assert index.digests(["missing.py"]) == {"missing.py": ""}


def test_a_file_gate_keeps_one_cache_entry_not_one_per_file(tmp_path: Path) -> None:
    """sast over 6 files: one pack of findings (and the stat index, unless every file was
    too recent to be trusted), whatever the number of files."""
    from .conftest import run_cli

    repo, cache = tmp_path / "repo", tmp_path / "cache"
    for index in range(6):
        write(repo, f"m{index}.py", f"import pickle\nv{index} = pickle.loads(b'')\n")
    done = run_cli(
        ["run", str(repo), "sast", "--format", "json"], env={"MLGATE_CACHE_DIR": str(cache)}
    )
    assert done.returncode == 1, done.stderr
    entries = sorted(cache.glob("*/*.json"))
    assert 1 <= len(entries) <= 2, entries
    packs = [p for p in entries if "ml-pickle-load" in p.read_text(encoding="utf-8")]
    assert len(packs) == 1, entries
    text = packs[0].read_text(encoding="utf-8")
    assert all(f'"m{index}.py"' in text for index in range(6))
