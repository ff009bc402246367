"""The repository listing (`repo._walk`, scandir-based) lists exactly what the plain
`os.walk` version listed: the same files, the same symlink notes in the same order."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from mlgate import repo


def _reference(root: Path, notes: list[str]) -> list[str]:
    """The os.walk listing `_walk` replaced (kept here as the specification)."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in repo.SKIP_DIRS)
        for name in filenames:
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            if full.is_symlink() and not repo._safe_link(full, root):
                notes.append(
                    f"{rel}: skipped a symlink that loops or points outside the repository"
                )
                continue
            if full.is_file():
                found.append(rel)
    return found


def test_walk_lists_what_os_walk_listed(tmp_path: Path) -> None:
    for folder in ("a/b/c", "node_modules/x", ".git/y", "z", "b2/deep/er"):
        (tmp_path / folder).mkdir(parents=True)
    for file in ("a/f.py", "a/b/g.txt", "a/b/c/h", "z/q", "node_modules/x/n", ".git/y/m"):
        (tmp_path / file).write_text("x\n", encoding="utf-8")
    (tmp_path / "b2/deep/er/k.ipynb").write_text("{}", encoding="utf-8")
    links = {
        "a/b/broken_dir": "../nothing",
        "z/outside": "/etc/passwd",
        "z/inside": "../a/f.py",
        "z/broken": "nothing",
        "z/loop1": "loop2",
        "z/loop2": "loop1",
        "z/zdir": "../z",
        "b2/up": "..",
    }
    for link, target in links.items():
        (tmp_path / link).symlink_to(target)
    os.mkfifo(tmp_path / "z/fifo")

    notes: list[str] = []
    unreadable: list[str] = []
    got = repo._walk(tmp_path, notes, unreadable)
    expected_notes: list[str] = []
    expected = _reference(tmp_path, expected_notes)

    assert sorted(got) == sorted(expected)
    assert "z/inside" in got and "b2/deep/er/k.ipynb" in got and "node_modules/x/n" not in got
    assert notes == expected_notes and len(notes) == 5
    assert unreadable == []


GLOB_CASES = [
    "*.py",
    "*.ipynb",
    "data/*",
    "**/secrets/*",
    "model?.pkl",
    "[!a]*.txt",
    "[a-c]*.cfg",
    "weird(1)+.py",
    "a|b",
    "requirements*.txt",
]
GLOB_PATHS = [
    "train.py",
    "src/pkg/train.py",
    "notebooks/eda.ipynb",
    "data/x.csv",
    "data/sub/x.csv",
    "conf/secrets/key.pem",
    "model1.pkl",
    "models/model12.pkl",
    "a.txt",
    "b.txt",
    "dir/a.txt",
    "b.cfg",
    "z.cfg",
    "weird(1)+.py",
    "a|b",
    "ab",
    "requirements-dev.txt",
    "line\nbreak.py",
    "",
]


def test_matches_any_agrees_with_fnmatchcase_on_the_path_or_its_name() -> None:
    """One combined regex per pattern set gives fnmatchcase's answer, pattern by pattern."""
    for count in range(len(GLOB_CASES) + 1):
        patterns = GLOB_CASES[:count]
        for path in GLOB_PATHS:
            name = path.rsplit("/", 1)[-1]
            expected = any(
                fnmatch.fnmatchcase(path, p) or fnmatch.fnmatchcase(name, p) for p in patterns
            )
            assert repo.matches_any(path, patterns) is expected, (path, patterns)
