"""docs/reliability.md is generated from the hostile suite's case table and kept current."""

from __future__ import annotations

from pathlib import Path

from tests.hostile.cases import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"


def test_reliability_doc_is_current() -> None:
    assert DOC.is_file(), f"{DOC} is missing: python tests/hostile/cases.py > docs/reliability.md"
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/reliability.md is stale: python tests/hostile/cases.py > docs/reliability.md"
    )
