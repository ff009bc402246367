"""A library's version ranges against the offline database: a range that admits a vulnerable
version which has a fix is reported with the lower bound that avoids it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from mlgate.deps.advisorydb import Advisory, AdvisoryDB
from mlgate.deps.sources import Requirement
from mlgate.deps.sources.poetry import poetry_specifiers
from mlgate.errors import AdvisoryDBError

_POETRY_SPEC = re.compile(r'^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*) = "(?P<constraint>.*)"$')


@dataclass(frozen=True)
class VulnerableRange:
    """A range (`specifier`, "" for any version) admitting vulnerable versions: each advisory
    with the lowest version that avoids it, by advisory id."""

    requirement: Requirement
    specifier: str
    admitted: tuple[tuple[Advisory, Version], ...]

    @property
    def safe_lower_bound(self) -> Version:
        return max(v for _, v in self.admitted)


@dataclass(frozen=True)
class RangeAudit:
    ranges: tuple[VulnerableRange, ...]
    note: str


def audit_ranges(database: Path | None, ranged: Sequence[Requirement]) -> RangeAudit:
    """The vulnerable ones of a library's version ranges; the note says what was audited."""
    base = f"library (build system, no lock file): {len(ranged)} version range(s) "
    if database is None:
        why = "not audited (range audit needs the offline advisory database)"
        return RangeAudit((), base + why)
    try:
        db = AdvisoryDB.load(database)
    except AdvisoryDBError:
        return RangeAudit((), base + "not audited (advisory database unreadable)")
    found: list[VulnerableRange] = []
    unread = 0
    for req in ranged:
        specifiers = _specifiers(req.spec)
        if specifiers is None:
            unread += 1
            continue
        admitted = {a.id: (a, v) for spec in specifiers for a, v in db.admitted(req.name, spec)}
        if admitted:
            shown = " || ".join(specifiers) if len(specifiers) > 1 else specifiers[0]
            found.append(VulnerableRange(req, shown, tuple(admitted[i] for i in sorted(admitted))))
    note = base + "audited against the advisory database instead of flagged as unpinned"
    if unread:
        note += f"; {unread} not audited (neither PEP 440 nor a Poetry constraint)"
    return RangeAudit(tuple(found), note)


def _specifiers(spec: str) -> list[str] | None:
    """A range as PEP 440 specifier sets (several for Poetry's `||`), or None if unreadable.
    Poetry constraints (`name = "^1.2"`, as the Poetry source records them) are translated."""
    poetry = _POETRY_SPEC.match(spec)
    if poetry is not None:
        return poetry_specifiers(poetry["constraint"])
    # packaging's requirement grammar compiles its tokenizer at import (about 20 ms of a warm
    # run): imported when a range is read
    from packaging.requirements import InvalidRequirement, Requirement  # noqa: PLC0415

    try:
        return [str(Requirement(spec).specifier)]
    except InvalidRequirement:
        return None
