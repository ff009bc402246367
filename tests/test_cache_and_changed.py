"""Result cache and changed-only runs, against real tools and real git."""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from mlgate.cache import ResultCache

from .conftest import git_init, run_cli, write

BAD = "import pickle\n\ndef load(blob):\n    return pickle.loads(blob)\n"


def _run(repo: Path, cache: Path, *args: str) -> tuple[int, dict[str, Any]]:
    done = run_cli(
        ["run", str(repo), "sast", "--format", "json", *args], env={"MLGATE_CACHE_DIR": str(cache)}
    )
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def _sast(report: dict[str, Any]) -> dict[str, Any]:
    return next(g for g in report["gates"] if g["name"] == "sast")


def test_cache_reuses_unchanged_files_and_rescans_changed_ones(tmp_path: Path) -> None:
    repo, cache = tmp_path / "repo", tmp_path / "cache"
    for name in ("a.py", "b.py", "c.py"):
        write(repo, name, BAD.replace("def load", f"def load_{name[0]}"))
    code, cold = _run(repo, cache)
    assert code == 1 and "cached_files" in _sast(cold)["properties"]
    assert _sast(cold)["properties"]["cached_files"] == 0
    _, warm = _run(repo, cache)
    assert _sast(warm)["properties"]["cached_files"] == 3
    assert sorted(f["fingerprint"] for f in warm["findings"]) == sorted(
        f["fingerprint"] for f in cold["findings"]
    )
    write(repo, "b.py", "x = 1\n")
    _, changed = _run(repo, cache)
    assert _sast(changed)["properties"]["cached_files"] == 2
    assert {f["path"] for f in changed["findings"]} == {"a.py", "c.py"}
    _, bypass = _run(repo, cache, "--no-cache")
    assert "cached_files" not in _sast(bypass)["properties"]


def test_policy_change_re_decides_without_rerunning_tools(tmp_path: Path) -> None:
    repo, cache = tmp_path / "repo", tmp_path / "cache"
    write(repo, "a.py", BAD)
    assert _run(repo, cache)[0] == 1
    write(tmp_path, "lenient.yml", "extends: default\ndefaults:\n  fail_on: critical\n")
    code, report = _run(repo, cache, "--policy", str(tmp_path / "lenient.yml"))
    assert code == 0
    assert _sast(report)["properties"]["cached_files"] == 1
    write(
        tmp_path,
        "rules.yml",
        "extends: default\ngates:\n  sast:\n    options:\n      bandit_skip: [B403]\n",
    )
    _, rerun = _run(repo, cache, "--policy", str(tmp_path / "rules.yml"))
    assert _sast(rerun)["properties"]["cached_files"] == 0  # tool options are part of the key


def test_two_runs_can_share_the_cache_at_once(tmp_path: Path) -> None:
    repo, cache = tmp_path / "repo", tmp_path / "cache"
    for i in range(5):
        write(repo, f"m{i}.py", BAD.replace("def load", f"def load{i}"))
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda _: _run(repo, cache), range(2)))
    assert [code for code, _ in runs] == [1, 1]
    assert len(runs[0][1]["findings"]) == len(runs[1][1]["findings"]) > 0
    assert not list(cache.rglob(".tmp-*"))
    _, warm = _run(repo, cache)
    assert _sast(warm)["properties"]["cached_files"] == 5


def test_cache_is_bounded(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path, max_bytes=3000)
    for i in range(10):
        cache.put(f"{i:02d}" + "0" * 62, ["x" * 500])
    assert cache.prune() > 0
    total = sum(p.stat().st_size for p in tmp_path.rglob("*.json"))
    assert total <= 3000
    assert cache.get("09" + "0" * 62) is not None  # the newest survive


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def pushed_repo(tmp_path: Path) -> Path:
    """A clone with an upstream (a bare repo on disk) and one pushed commit."""
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    _git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    write(work, "old.py", BAD)
    write(work, "requirements.txt", "PyYAML==5.3\n")
    git_init(work)
    _git(work, "remote", "add", "origin", str(remote))
    _git(work, "push", "-q", "-u", "origin", "main")
    return work


def test_changed_only_scans_only_what_changed(
    pushed_repo: Path, tmp_path: Path, advisory_db: Path
) -> None:
    write(pushed_repo, "new.py", BAD.replace("def load", "def load_new"))
    done = run_cli(
        [
            "run",
            str(pushed_repo),
            "--changed-only",
            "--format",
            "json",
            "--advisory-db",
            str(advisory_db),
        ],
        env={"MLGATE_CACHE_DIR": str(tmp_path / "c")},
    )
    report = json.loads(done.stdout)
    assert {f["path"] for f in report["findings"]} == {"new.py"}
    assert report["mode"]["kind"] == "changed-only" and report["mode"]["files"] == ["new.py"]
    deps = next(g for g in report["gates"] if g["name"] == "deps")
    assert deps["status"] == "skipped"  # requirements.txt did not change
    _git(pushed_repo, "add", "-A")
    _git(pushed_repo, "commit", "-q", "-m", "more")
    write(pushed_repo, "requirements.txt", "PyYAML==5.3\nrequests==2.0.0\n")
    since = run_cli(
        [
            "run",
            str(pushed_repo),
            "--since",
            "HEAD~1",
            "--format",
            "json",
            "--advisory-db",
            str(advisory_db),
        ],
        env={"MLGATE_CACHE_DIR": str(tmp_path / "c")},
    )
    report = json.loads(since.stdout)
    assert set(report["mode"]["files"]) == {"new.py", "requirements.txt"}
    assert any(f["gate"] == "deps" for f in report["findings"])


def test_changed_only_needs_git_and_an_upstream(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "x = 1\n")
    done = run_cli(["run", str(tmp_path), "--changed-only"])
    assert done.returncode == 2 and "need a git repository" in done.stderr
    git_init(tmp_path)
    done = run_cli(["run", str(tmp_path), "--changed-only"])
    assert done.returncode == 2 and "--since REF" in done.stderr
    done = run_cli(["run", str(tmp_path), "--since", "nosuchref"])
    assert done.returncode == 2 and "nosuchref" in done.stderr


def test_a_run_that_stores_nothing_leaves_the_cache_unpruned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pruning lists every entry of the cache; it can only have grown if the run wrote to
    it, so a warm run that reuses every result does not list it (issue 16)."""
    import pickle

    from mlgate.config import load_config
    from mlgate.policy import load_policy
    from mlgate.repo import open_repo
    from mlgate.runner import RunRequest, run_gates

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "model.pkl").write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    pruned: list[int] = []
    real = ResultCache.prune

    def prune(self: ResultCache) -> int:
        pruned.append(self.stored)
        return real(self)

    monkeypatch.setattr(ResultCache, "prune", prune)

    def once() -> int:
        cache = ResultCache(tmp_path / "cache")
        request = RunRequest(("models",), jobs=1, overrides={}, cache=cache)
        run_gates(open_repo(repo), load_policy("default"), load_config(repo), request)
        return cache.stored

    assert once() > 0
    assert len(pruned) == 1 and pruned[0] > 0  # the cold run wrote, then pruned
    assert once() == 0
    assert len(pruned) == 1  # the warm run wrote nothing and did not prune
