"""The corpora: the examples, a real sdist, the synthetic repository (fresh git repos)."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import EXAMPLES, MODEL_SUFFIXES, REPO_ROOT, SEED, log
from bench.environment import git
from bench.synthetic import Synthetic
from mlgate.resources import rule_pack_dir
from mlgate.rulepack_prefilter import may_match, pack_filters

# --- corpora ------------------------------------------------------------------------------


@dataclass
class Corpus:
    name: str
    label: str
    root: Path
    touch: str  # the .py file a line is appended to for the one-file-changed run
    requirements: list[str]  # requirements*.txt files (relative), for the raw pip-audit
    counts: dict[str, Any] = field(default_factory=dict)
    # a .py file no rule-pack rule can match, changed in a second run (semgrep not started)
    touch_unmatched: str | None = None


def commit_tree(root: Path) -> None:
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "benchmark corpus")


def finish_corpus(name: str, label: str, root: Path) -> Corpus:
    """Count the corpus' files (as git lists them) and pick the file to change."""
    files = [f for f in git(root, "ls-files", "-z").split("\0") if f]
    python = sorted(f for f in files if f.endswith(".py"))
    candidates = [f for f in python if not f.endswith("__init__.py")] or python
    if not candidates:
        raise RuntimeError(f"{name}: no Python file to change")
    size = sum((root / f).stat().st_size for f in files)
    requirements = sorted(
        f for f in files if Path(f).name.startswith("requirements") and f.endswith(".txt")
    )
    counts = {
        "files": len(files),
        "python": len(python),
        "notebooks": sum(f.endswith(".ipynb") for f in files),
        "models": sum(f.endswith(MODEL_SUFFIXES) for f in files),
        "python_lines": sum(_line_count(root / f) for f in python),
        "mb": round(size / 1e6, 1),
    }
    matched, unmatched = split_by_prefilter(root, candidates)
    touch = (matched or candidates)[len(matched or candidates) // 2]
    corpus = Corpus(name, label, root, touch, requirements, counts)
    corpus.touch_unmatched = unmatched[len(unmatched) // 2] if unmatched else None
    return corpus


def split_by_prefilter(root: Path, candidates: list[str]) -> tuple[list[str], list[str]]:
    """The files (with the benchmark's appended line) that a rule of the rule pack may
    match, and those none can, by mlgate's own prefilter: the one-file-changed line
    changes the middle one of the first, the no-rule-can-match line that of the second."""
    filters = pack_filters(rule_pack_dir())
    line = b"\nBENCH_TOUCHED = 1  # appended by bench.py\n"
    matched: list[str] = []
    unmatched: list[str] = []
    for rel in candidates:
        data = (root / rel).read_bytes() + line
        (matched if may_match(filters, data) else unmatched).append(rel)
    return matched, unmatched


def _line_count(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def build_examples(tmp: Path) -> Corpus:
    root = tmp / "examples"
    for name in EXAMPLES:
        shutil.copytree(REPO_ROOT / "examples" / name, root / name)
    commit_tree(root)
    return finish_corpus("examples", "examples", root)


def build_synthetic(tmp: Path, quick: bool) -> Corpus:
    root = tmp / "synthml"
    generator = Synthetic(root, random.Random(SEED), quick)  # noqa: S311 (data, not crypto)
    generator.write()
    commit_tree(root)
    return finish_corpus("synthetic", "synthetic", root)


def build_sdist(tmp: Path, work: Path, spec: str) -> Corpus:
    archive = download_sdist(work / "sdist", spec)
    target = tmp / "sdist"
    target.mkdir()
    unpack(archive, target)
    tops = [p for p in target.iterdir() if p.is_dir()]
    root = tops[0] if len(tops) == 1 else target
    commit_tree(root)
    return finish_corpus("sdist", f"sdist {spec.replace('==', ' ')}", root)


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def download_sdist(folder: Path, spec: str) -> Path:
    """The sdist of NAME==VERSION, downloaded with pip once and kept in the work dir."""
    name, _, version = spec.partition("==")
    if not name or not version:
        raise RuntimeError(f"--sdist wants NAME==VERSION, not {spec!r}")
    folder.mkdir(parents=True, exist_ok=True)

    def cached() -> Path | None:
        prefix = f"{_normalise(name)}-{version}."
        for path in sorted(folder.iterdir()):
            file = path.name.lower().replace("_", "-")
            if file.startswith(prefix) and file.endswith((".tar.gz", ".zip")):
                return path
        return None

    found = cached()
    if found is not None:
        return found
    log(f"downloading the sdist of {spec} into {folder}")
    argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
    argv += ["--disable-pip-version-check", "-q", "-d", str(folder), spec]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=1800, check=False)
    found = cached()
    if found is None:
        tail = (done.stderr or done.stdout).strip()[-800:]
        raise RuntimeError(f"pip download {spec} failed (exit {done.returncode}): {tail}")
    return found


def unpack(archive: Path, target: Path) -> None:
    """Extract without trusting the archive: no absolute paths, no `..`, no links."""
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zipped:
            for name in zipped.namelist():
                _check_member(name)
            zipped.extractall(target)  # noqa: S202 (names checked above)
        return
    with tarfile.open(archive) as tarred:
        # Links and devices are not needed to scan source code.
        members = [m for m in tarred.getmembers() if m.isfile() or m.isdir()]
        for member in members:
            _check_member(member.name)
        if hasattr(tarfile, "data_filter"):  # also makes the files ours (git wants that)
            tarred.extractall(target, members=members, filter="data")
            return
        for member in members:  # Python without extraction filters
            member.uid, member.gid, member.uname, member.gname = os.getuid(), os.getgid(), "", ""
            member.mode = ((member.mode or 0o644) & 0o755) | 0o600
        tarred.extractall(target, members=members)  # noqa: S202 (members checked above)


def _check_member(name: str) -> None:
    parts = Path(name).parts
    if name.startswith(("/", "\\")) or ".." in parts:
        raise RuntimeError(f"unsafe path in the archive: {name}")
