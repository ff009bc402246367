"""Content-addressed result cache.

A key hashes everything a result depends on: the gate, its tools' versions, its options
and rules (the "salt"), and the content of the files it read. Entries are JSON files
written atomically (temp file + rename), so two runs may share the cache at once. The
cache is bounded: past `max_bytes`, the least recently used entries are removed.

Content digests are not recomputed for a file whose stat is unchanged since the last run
(`StatIndex`, like git's index): size, mtime, ctime, inode and device must all be equal,
and a file changed within `RACY_NS` of when it was last looked at is hashed again (a
write in the same timestamp tick could leave mtime and size unchanged).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import platformdirs

from mlgate import atomic

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
_CHUNK = 1 << 20


_configured_dir: Path | None = None  # the operator's (MLGATE_CACHE_DIR), set by the CLI


def configure(directory: Path | None) -> None:
    """Where this process keeps cached results (None: the user cache dir); called by the CLI."""
    global _configured_dir  # noqa: PLW0603 (one process-wide setting, like toolenv's)
    _configured_dir = directory


def default_cache_dir() -> Path:
    if _configured_dir is not None:
        return _configured_dir
    return platformdirs.user_cache_path("mlgate") / "results"


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, streamed (bounded memory); '' when unreadable."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(chunk)
    except OSError:
        return ""
    return digest.hexdigest()


def make_key(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResultCache:
    def __init__(self, root: Path | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = root or default_cache_dir()
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self.stored = 0  # entries written through this object
        self.unwritable: str | None = None  # why the first write failed (the CLI says so)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> Any | None:
        path = self._path(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.misses += 1
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: keep it when pruning
        self.hits += 1
        return data

    def put(self, key: str, value: Any) -> None:
        """Store `value` (redacted: a cache file is written output too; see mlgate.redact)."""
        from mlgate.redact import redact_value  # noqa: PLC0415 (redact needs the gates)

        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps(redact_value(value), separators=(",", ":"))
            atomic.write(path, text, create_mode=0o600)
            self.stored += 1
        except OSError as exc:
            # a cache that cannot be written is only slower, never wrong: the CLI warns once
            if self.unwritable is None:
                self.unwritable = " ".join(str(exc.strerror or exc).split())

    def prune(self) -> int:
        """Remove least recently used entries until the cache fits; returns entries removed."""
        entries = list(_entries(self.root))
        total = sum(size for _, size, _ in entries)
        removed = 0
        for path, size, _ in sorted(entries, key=lambda e: e[2]):
            if total <= self.max_bytes:
                break
            with contextlib.suppress(OSError):
                path.unlink()
                total -= size
                removed += 1
        return removed


def _entries(root: Path) -> Iterable[tuple[Path, int, float]]:
    if not root.is_dir():
        return
    for path in root.glob("*/*.json"):
        with contextlib.suppress(OSError):
            stat = path.stat()
            yield path, stat.st_size, stat.st_mtime


def content_hash(paths: Iterable[Path]) -> str:
    """One digest over files and directory trees (sorted), e.g. a set of rule files."""
    digest = hashlib.sha256()
    for path in paths:
        members = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for member in members:
            digest.update(f"{member.name}:{file_digest(member)};".encode())
    return digest.hexdigest()


# A file whose mtime or ctime is this close to the moment it was examined may be rewritten
# in the same timestamp tick without a visible change: it is hashed again next time. Two
# seconds covers the coarsest common filesystem clocks (FAT); ext4, APFS and NTFS are finer.
RACY_NS = 2_000_000_000
_STAT_INDEX_VERSION = 1


def tree_stamps(
    root: Path | str, files: Iterable[str], seen: Mapping[str, list[Any]] | None = None
) -> list[list[int]] | None:
    """Each file's stat stamp, in order: a cache key for what is read from the files while
    none of them changes (git's index makes the same bet). None when a file cannot be
    examined or changed too recently to be told apart (racy). `seen`: a stat index's
    entries of this run ([*stamp, digest] when the file was settled), not examined again."""
    now = time.time_ns()
    stamps: list[list[int]] = []
    for rel in files:
        known = seen.get(rel) if seen is not None else None
        if known is not None and len(known) > 1:
            stamps.append(known[:-1])
            continue
        stamp = _stamp(os.path.join(root, rel))
        if stamp is None or _racy(stamp, now):
            return None
        stamps.append(stamp)
    return stamps


def _stamp(path: str) -> list[int] | None:
    """A file's size, mtime, ctime, inode and device (None: it cannot be examined). A string
    path and `os.stat`: a warm run stats every file of the tree."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def _racy(stamp: Sequence[int], looked_at: int) -> bool:
    """Changed so close to `looked_at` that a change in the same clock tick would not show."""
    return max(stamp[1], stamp[2]) >= looked_at - RACY_NS


class StatIndex:
    """File digests of one tree, reused while a file's stat stays the same.

    Loaded from and saved to the result cache (one entry per tree), so a warm run hashes
    only the files that changed. Safe to use from several threads.
    """

    def __init__(self, cache: ResultCache, root: Path) -> None:
        self._cache = cache
        self._key = make_key("stat-index", _STAT_INDEX_VERSION, str(root.resolve()))
        self._root = root
        self._root_text = str(root)
        self._lock = threading.Lock()
        loaded = cache.get(self._key)
        self._known: dict[str, list[Any]] = loaded if isinstance(loaded, dict) else {}
        self._stored = self._known  # what the cache holds now (`save`)
        self._fresh: dict[str, list[Any]] = {}
        self.hashed = 0

    def digests(self, files: Iterable[str]) -> dict[str, str]:
        """rel path -> SHA-256 of its bytes ('' when unreadable)."""
        return {rel: self.digest(rel) for rel in files}

    @property
    def indexed(self) -> bool:
        """Whether an earlier run stored stamps of this tree (a warm cache)."""
        return bool(self._known)

    def stamps(self, files: Iterable[str]) -> list[list[int]] | None:
        """`tree_stamps(root, files)`, without examining again a file this run examined and
        found settled (not racy): a warm run's ML-BOM keys its model inventory on every
        file of the tree, which the gates have just examined."""
        return tree_stamps(self._root_text, files, self._fresh)

    def digest(self, rel: str) -> str:
        fresh = self._fresh.get(rel)  # a dict's get and set are atomic: no lock for them
        if fresh is not None:
            return str(fresh[-1])
        looked_at = time.time_ns()
        stamp = _stamp(os.path.join(self._root_text, rel))
        known = self._known.get(rel)
        if stamp is not None and isinstance(known, list) and known[:-1] == stamp:
            digest = str(known[-1])
        else:
            digest = file_digest(self._root / rel)
            with self._lock:
                self.hashed += 1
        kept = stamp is not None and not _racy(stamp, looked_at)
        self._fresh[rel] = [*stamp, digest] if kept and stamp is not None else [digest]
        return digest

    def save(self) -> None:
        """Store the stamps of this run's files (racy ones are left out); keep the others'.

        May be called while other threads hash (a run saves once its files are hashed,
        while the scanners run, and again at the end only if a file was hashed since)."""
        with self._lock:
            snapshot = self._fresh.copy()  # one C call: safe while `digest` adds entries
            fresh = {rel: v for rel, v in snapshot.items() if len(v) > 1}
            dropped = {rel for rel, v in snapshot.items() if len(v) == 1}
            merged = {k: v for k, v in self._known.items() if k not in dropped}
            merged.update(fresh)
            if merged == self._stored:
                return
            self._stored = merged
        self._cache.put(self._key, merged)
