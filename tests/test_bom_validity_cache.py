"""A warm run does not load the CycloneDX validator (1-2 s) for a BOM it validated before:
only the serial number and timestamp may differ, and they must have their usual shape."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from mlgate.bom import BomError, validate_bom
from mlgate.cache import ResultCache


def _bom(stamp: str = "2026-11-27T23:18:04.357148+00:00", **extra: Any) -> dict[str, Any]:
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "metadata": {"timestamp": stamp},
        **extra,
    }


def test_valid_documents_are_remembered_without_serial_and_timestamp(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    validate_bom(_bom(), cache)
    assert cache.misses == 1 and cache.hits == 0
    validate_bom(_bom("2026-11-28T01:02:03.000001+00:00"), cache)  # another run, same tree
    assert cache.hits == 1


def test_anything_else_that_differs_is_validated(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    validate_bom(_bom(), cache)
    bad = _bom(components=[{"type": "data", "name": "x", "modelCard": {"bogus": 1}}])
    with pytest.raises(BomError, match=r"not valid CycloneDX 1\.6"):
        validate_bom(bad, cache)
    with pytest.raises(BomError):  # not remembered as valid either
        validate_bom(bad, cache)


@pytest.mark.parametrize(
    "changes",
    [{"serialNumber": "urn:uuid:not-a-uuid"}, {"metadata": {"timestamp": "yesterday"}}],
)
def test_unusual_serial_or_timestamp_is_always_validated(
    tmp_path: Path, changes: dict[str, Any]
) -> None:
    cache = ResultCache(tmp_path)
    validate_bom(_bom(), cache)
    with pytest.raises(BomError):
        validate_bom({**_bom(), **changes}, cache)
