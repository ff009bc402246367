"""Rules of the house that a test can check."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent

# A test that reads a sibling of the checkout (`../shared`) works only on the author's machine.
OUTSIDE = re.compile(r"""parents\[[2-9]\]|\.\./shared|/ *["']shared["']""")


def test_no_test_reads_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(TESTS)}:{number}: {line.strip()}"
        for path in sorted(TESTS.rglob("*.py"))
        if path.name != "test_house.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert offenders == []


def test_vendored_fixtures_carry_their_licence() -> None:
    for folder in ("data/advisory-db", "schemas/sarif", "schemas/junit", "schemas/gitlab"):
        texts = [p.read_text(encoding="utf-8") for p in (TESTS / folder).glob("*") if p.is_file()]
        assert any("licen" in t.lower() or "ipr policy" in t.lower() for t in texts), folder
