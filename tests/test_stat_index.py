"""The stat index: content digests reused only while a file's stat is unchanged (issue 16)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from mlgate import cache as cache_module
from mlgate import redact, runner
from mlgate.cache import ResultCache, StatIndex
from mlgate.findings import Finding, Severity
from mlgate.gates.base import Gate, GateContext, GateInputs, GateResult
from mlgate.repo import Repo

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
    too recent to be trusted, and the strings redaction found clean), whatever the number
    of files."""
    from .conftest import run_cli

    repo, cache = tmp_path / "repo", tmp_path / "cache"
    for index in range(6):
        write(repo, f"m{index}.py", f"import pickle\nv{index} = pickle.loads(b'')\n")
    done = run_cli(
        ["run", str(repo), "sast", "--format", "json"], env={"MLGATE_CACHE_DIR": str(cache)}
    )
    assert done.returncode == 1, done.stderr
    key = cache_module.make_key("redact-clean", redact._MEMO_VERSION, redact._detectors_stamp())
    memo = cache / key[:2] / f"{key}.json"
    assert memo.is_file()
    entries = sorted(p for p in cache.glob("*/*.json") if p != memo)
    assert 1 <= len(entries) <= 2, entries
    packs = [p for p in entries if "ml-pickle-load" in p.read_text(encoding="utf-8")]
    assert len(packs) == 1, entries
    text = packs[0].read_text(encoding="utf-8")
    assert all(f'"m{index}.py"' in text for index in range(6))


class _Counting(Gate):
    """A gate cached per file that records how many files were hashed when it ran."""

    name = "counting"
    cache_scope: ClassVar[str] = "file"

    def __init__(self, index: StatIndex) -> None:
        self.index = index
        self.hashed_before: list[int] = []

    def inputs(self, repo: Repo, options: Mapping[str, Any]) -> GateInputs:
        return GateInputs(files=repo.files, options=dict(options))

    def cache_salt(self, ctx: GateContext) -> str | None:
        return "salt"

    def tool_versions(self) -> Mapping[str, str | None]:
        return {"t": "1"}

    def run(self, ctx: GateContext) -> GateResult:
        self.hashed_before.append(self.index.hashed)
        found = [
            Finding(self.name, "t", "r", Severity.LOW, "m", path=rel) for rel in ctx.inputs.files
        ]
        return GateResult(self.name, findings=tuple(found))


def test_a_gate_with_nothing_cached_starts_before_its_files_are_hashed(
    tmp_path: Path, not_racy: None
) -> None:
    """Its first run can reuse nothing: the files are hashed after (or while) it scans, and
    the entries it stores are found by the next run, which hashes before it scans."""
    repo_root = tmp_path / "repo"
    names = [f"m{i}.py" for i in range(5)]
    for name in names:
        write(repo_root, name, f"# {name}\n")
    repo = Repo(root=repo_root, files=tuple(names), is_git=False, commit=None)
    cache = ResultCache(tmp_path / "cache")

    def once(changed: str | None = None) -> tuple[_Counting, GateResult]:
        index = StatIndex(cache, repo_root)
        gate = _Counting(index)
        ctx = GateContext(repo, gate.inputs(repo, {}), 60.0)
        key = runner._base_key(gate, ctx, cache, index)
        result = runner._cached_run(gate, ctx, cache, index, key)
        index.save()
        return gate, result

    cold, first = once()
    assert cold.hashed_before == [0], "the files were hashed before the first scan"
    assert len(first.findings) == 5
    write(repo_root, "m3.py", "# changed\n")
    warm, second = once()
    assert warm.hashed_before == [1], "the warm run hashes (only the changed file) first"
    assert second.properties["cached_files"] == 4
    assert sorted(f.path or "" for f in second.findings) == names


def test_the_index_is_stored_again_only_when_a_file_was_hashed_since(
    tmp_path: Path, not_racy: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run stores the index once its files are hashed (while the scanners run); the save
    after the gates writes nothing new unless a gate hashed another file meanwhile."""
    for name in ("a.py", "b.py", "c.py"):
        write(tmp_path / "repo", name, f"# {name}\n")
    cache = ResultCache(tmp_path / "cache")
    writes: list[dict[str, Any]] = []
    put = ResultCache.put

    def counted(self: ResultCache, key: str, value: Any) -> None:
        writes.append(value)
        put(self, key, value)

    monkeypatch.setattr(ResultCache, "put", counted)
    index = StatIndex(cache, tmp_path / "repo")
    index.digests(["a.py", "b.py"])
    index.save()
    index.save()
    assert [sorted(w) for w in writes] == [["a.py", "b.py"]]
    index.digest("c.py")
    index.save()
    index.save()
    assert [sorted(w) for w in writes] == [["a.py", "b.py"], ["a.py", "b.py", "c.py"]]
    again = StatIndex(cache, tmp_path / "repo")
    again.digests(["a.py", "b.py", "c.py"])
    assert again.hashed == 0
    again.save()
    assert len(writes) == 2, "an index loaded and unchanged is not written"


def test_stamps_reuse_what_the_run_examined(tmp_path: Path, not_racy: None) -> None:
    """`StatIndex.stamps` gives `tree_stamps`' answer without examining again a file the
    run already examined (the ML-BOM's key over the whole tree, issue 16)."""
    cache, repo = ResultCache(tmp_path / "cache"), tmp_path / "repo"
    for name in ("a.py", "b.py"):
        write(repo, name, f"# {name}\n")
    index = _index(cache, repo)
    assert index.stamps(["a.py", "b.py"]) == cache_module.tree_stamps(repo, ["a.py", "b.py"])
    index.digests(["a.py"])
    seen = index.stamps(["a.py"])
    os.utime(repo / "a.py", ns=(1, 1))  # a change after the run examined it
    assert index.stamps(["a.py", "b.py"]) == [
        *(seen or []),
        *(cache_module.tree_stamps(repo, ["b.py"]) or []),
    ]
    assert index.stamps(["a.py"]) != cache_module.tree_stamps(repo, ["a.py"])
    assert index.stamps(["missing.py"]) is None


def test_a_pack_is_stored_in_columns_and_anything_else_is_no_pack() -> None:
    """A pack holds each path's digest in two columns and the findings of the paths that
    have some; an entry of another shape (an older format, a damaged file) is no pack, so
    every file is scanned again, never a finding invented."""
    from mlgate.runner import _packed, _unpacked

    finding = {"rule_id": "r", "path": "a.py"}
    pack = {"a.py": ("d1", [finding]), "b.py": ("d2", [])}
    stored = _packed(pack)
    assert stored == {
        "files": ["a.py", "b.py"],
        "digests": ["d1", "d2"],
        "findings": {"a.py": [finding]},
    }
    assert _unpacked(stored) == pack
    damaged_entries: list[Any] = [
        None,
        [],
        {"a.py": {"digest": "d1", "findings": []}},  # the format before columns
        {**stored, "digests": ["d1"]},
        {**stored, "findings": {"a.py": "not a list"}},
        {**stored, "files": "a.py"},
    ]
    for damaged in damaged_entries:
        assert _unpacked(damaged) == {}, damaged
