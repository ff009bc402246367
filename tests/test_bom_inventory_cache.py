"""The ML-BOM's model files and libraries are remembered while the tree does not change
(`bom.model_inventory`, stat stamps as git's index): a warm run neither loads the model-file
engine nor hashes the model files nor parses the dependency files again (issue 16), and any
change to a file is seen."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

import pytest

from mlgate import bom, cache
from mlgate.cache import ResultCache
from mlgate.core import RunOptions, run


def _tree(root: Path) -> None:
    (root / "models").mkdir(parents=True)
    (root / "requirements.txt").write_text("pyyaml==5.3.1\nrequests>=2\n", encoding="utf-8")
    (root / "models" / "clf.pkl").write_bytes(pickle.dumps({"w": [1, 2, 3]}, protocol=2))
    # no model extension: a model by its content (a pickle stream)
    (root / "models" / "weights.dat").write_bytes(pickle.dumps([0.5, 0.25], protocol=4))


def _build(root: Path, advisory_db: Path, store: ResultCache | None) -> dict[str, Any]:
    outcome = run(RunOptions(root, gates=("deps",), advisory_db=advisory_db, use_cache=False))
    return bom.build_bom(outcome.report, outcome.repo, outcome.config, store)


def _inventory(document: dict[str, Any]) -> dict[str, Any]:
    """Components by name: what the cache may hold (no serial number, no timestamp)."""
    return {c["name"]: c for c in document["components"]}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _model_hash(document: dict[str, Any], name: str) -> str:
    return str(_inventory(document)[name]["hashes"][0]["content"])


def _refuse(*_args: Any, **_kwargs: Any) -> Any:
    raise AssertionError("read again although nothing changed")


def test_an_unchanged_tree_reuses_its_models_and_libraries(
    tmp_path: Path, advisory_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "repo"
    _tree(root)
    monkeypatch.setattr(cache, "RACY_NS", 0)  # the files were written a moment ago
    store = ResultCache(tmp_path / "cache")
    first = _build(root, advisory_db, store)
    names = set(_inventory(first))
    assert {"models/clf.pkl", "models/weights.dat", "pyyaml", "requests"} <= names
    assert _model_hash(first, "models/weights.dat") == _sha256(root / "models/weights.dat")

    with monkeypatch.context() as patched:
        patched.setattr(bom, "model_files", _refuse)
        patched.setattr(bom, "read_dependency_file", _refuse)
        patched.setattr(bom, "_file_facts", _refuse)
        again = _build(root, advisory_db, store)
    assert _inventory(again) == _inventory(first)
    assert _inventory(again) == _inventory(_build(root, advisory_db, None))  # as if uncached


def test_a_changed_added_or_removed_file_is_seen(
    tmp_path: Path, advisory_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "repo"
    _tree(root)
    monkeypatch.setattr(cache, "RACY_NS", 0)
    store = ResultCache(tmp_path / "cache")
    _build(root, advisory_db, store)
    (root / "models" / "weights.dat").write_bytes(pickle.dumps([9.0] * 50, protocol=4))
    (root / "models" / "extra.bin").write_bytes(pickle.dumps("x", protocol=3))
    (root / "models" / "clf.pkl").unlink()
    (root / "requirements.txt").write_text("pyyaml==6.0.1\n", encoding="utf-8")
    after = _inventory(_build(root, advisory_db, store))
    assert after["models/weights.dat"]["hashes"][0]["content"] == _sha256(
        root / "models/weights.dat"
    )
    assert "models/extra.bin" in after and "models/clf.pkl" not in after
    assert after["pyyaml"]["version"] == "6.0.1" and "requests" not in after


def test_files_changed_too_recently_are_read_every_time(
    tmp_path: Path, advisory_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file written in the current timestamp tick may change again unseen: not cached."""
    root = tmp_path / "repo"
    _tree(root)
    store = ResultCache(tmp_path / "cache")
    calls: list[str] = []
    listed = bom.model_files

    def counted(*args: Any) -> list[str]:
        calls.append("listed")
        return listed(*args)

    monkeypatch.setattr(bom, "model_files", counted)
    _build(root, advisory_db, store)
    _build(root, advisory_db, store)
    assert calls == ["listed", "listed"]
    assert cache.tree_stamps(root, ["requirements.txt"]) is None
    assert cache.tree_stamps(root, ["no-such-file"]) is None


def test_a_run_that_writes_a_bom_reads_its_inventory_while_the_scanners_run(
    tmp_path: Path, advisory_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`RunOptions.writes_bom`: the prefetch thread, woken by detect-secrets starting, reads
    the model files and libraries; the run's BOM takes them (once) instead of reading."""
    root = tmp_path / "repo"
    _tree(root)
    options = RunOptions(
        root, gates=("secrets",), advisory_db=advisory_db, use_cache=False, writes_bom=True
    )
    outcome = run(options)
    reads: list[str] = []

    def listed(*_args: Any) -> list[str]:
        reads.append("models")
        return []

    def declared(*_args: Any) -> tuple[list[Any], list[Any]]:
        reads.append("deps")
        return [], []

    monkeypatch.setattr(bom, "model_files", listed)
    monkeypatch.setattr(bom, "read_dependency_file", declared)
    first = _inventory(bom.build_bom(outcome.report, outcome.repo, outcome.config))
    assert reads == []  # read ahead
    assert {"models/clf.pkl", "models/weights.dat", "pyyaml", "requests"} <= set(first)
    bom.build_bom(outcome.report, outcome.repo, outcome.config)
    assert reads == ["models", "deps"]  # taken once: a later BOM reads for itself
