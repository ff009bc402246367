"""The deps gate's cache salt: an advisory database's identity from its files' names, sizes
and mtimes (`gates.deps.database_fingerprint`), read with one scandir per directory."""

from __future__ import annotations

import os
from pathlib import Path

from mlgate.gates.deps import database_fingerprint


def _db(root: Path) -> Path:
    for rel in ("vulns/pyyaml/PYSEC-2021-142.yaml", "vulns/requests/PYSEC-2023-74.yaml"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("id: x\n", encoding="utf-8")
    return root


def test_the_same_files_give_the_same_fingerprint(tmp_path: Path) -> None:
    db = _db(tmp_path / "db")
    assert database_fingerprint(db) == database_fingerprint(db)


def test_any_record_change_changes_it(tmp_path: Path) -> None:
    db = _db(tmp_path / "db")
    record = db / "vulns/pyyaml/PYSEC-2021-142.yaml"
    seen = {database_fingerprint(db)}
    record.write_text("id: y, longer\n", encoding="utf-8")  # edited in place
    seen.add(database_fingerprint(db))
    os.utime(record, ns=(1, 1))  # same size, another mtime
    seen.add(database_fingerprint(db))
    (db / "vulns/new").mkdir()
    (db / "vulns/new/GHSA-1.json").write_text("{}", encoding="utf-8")  # added, nested
    seen.add(database_fingerprint(db))
    (db / "vulns/requests/PYSEC-2023-74.yaml").unlink()  # removed
    seen.add(database_fingerprint(db))
    assert len(seen) == 5


def test_a_missing_database_is_named_not_raised(tmp_path: Path) -> None:
    assert database_fingerprint(tmp_path / "absent") == f"unreadable:{tmp_path / 'absent'}"
