"""The one result model: every gate turns its tool's output into `Finding`s."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import operator
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


class Severity(str, enum.Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: info=0 ... critical=4."""
        return _RANKS[self]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank

    @classmethod
    def parse(cls, text: str, default: Severity | None = None) -> Severity:
        """Map any tool's vocabulary (ERROR, WARNING, MODERATE, ...) onto ours."""
        key = text.strip().lower()
        found = _ALIASES.get(key)
        if found is not None:
            return found
        if default is not None:
            return default
        raise ValueError(f"unknown severity {text!r}")


_RANKS = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}
SEVERITY_RANK: Mapping[Severity, int] = _RANKS  # `Severity.rank`, as a lookup (hot loops)
_ALIASES = {s.value: s for s in Severity} | {
    "error": Severity.HIGH,
    "warning": Severity.MEDIUM,
    "moderate": Severity.MEDIUM,
    "note": Severity.LOW,
    "none": Severity.INFO,
    "undefined": Severity.INFO,
    "unknown": Severity.INFO,
}


@dataclass(frozen=True)
class Finding:
    """One problem a gate found. JSON field names are part of mlgate's contract."""

    gate: str
    tool: str
    rule_id: str
    severity: Severity
    message: str
    path: str | None = None
    line: int | None = None
    column: int | None = None
    end_line: int | None = None
    cell: int | None = None
    confidence: str | None = None
    cwe: str | None = None
    help_uri: str | None = None
    fingerprint: str = ""
    fix: str | None = None
    waived_by: str | None = None
    # Set by the policy's decision (never by a gate): the gate failed because of this finding.
    blocking: bool = False
    also_reported_by: tuple[str, ...] = ()
    properties: Mapping[str, Any] = field(default_factory=dict)

    @property
    def tools(self) -> tuple[str, ...]:
        return (self.tool, *self.also_reported_by)

    def with_changes(self, **changes: Any) -> Finding:
        """A copy with `changes` (as `dataclasses.replace`, which costs 5x more: it calls
        `__init__`, and a frozen class's `__init__` sets each field through a slow path)."""
        unknown = changes.keys() - _FIELD_SET
        if unknown:
            raise TypeError(f"Finding has no field(s) {', '.join(sorted(unknown))}")
        return _made(type(self), {**self.__dict__, **changes})  # keeps the field order

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies every value, 15x slower for the same result.
        data = dict(zip(_FIELD_NAMES, _FIELD_VALUES(self), strict=True))
        data["severity"] = self.severity.value
        data["also_reported_by"] = list(self.also_reported_by)
        data["properties"] = dict(self.properties)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        if tuple(data) == _FIELD_NAMES:  # as mlgate writes it: every field, in order
            values = dict(data)
        else:
            missing = _REQUIRED - data.keys()
            if missing:
                if "severity" in missing:
                    raise KeyError("severity")
                raise TypeError(f"Finding is missing {', '.join(sorted(missing))}")
            values = {
                name: data[name] if name in data else _DEFAULTS.get(name) for name in _FIELD_NAMES
            }
        severity = values["severity"]
        known = _BY_VALUE.get(severity) if type(severity) is str else None
        values["severity"] = known or Severity.parse(str(severity))
        values["also_reported_by"] = tuple(values["also_reported_by"] or ())
        values["properties"] = dict(values["properties"] or {})
        return _made(cls, values)


def _made(kind: type[Finding], values: dict[str, Any]) -> Finding:
    """A Finding holding `values` (every field, in field order), made without `__init__`."""
    made = object.__new__(kind)
    object.__setattr__(made, "__dict__", values)
    return made


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(Finding))
_FIELD_SET = frozenset(_FIELD_NAMES)
_FIELD_VALUES = operator.attrgetter(*_FIELD_NAMES)
_DEFAULTS = {
    f.name: f.default
    for f in dataclasses.fields(Finding)
    if f.default is not dataclasses.MISSING  # properties: from_dict always sets it
}
_REQUIRED = frozenset(
    f.name
    for f in dataclasses.fields(Finding)
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
)
_BY_VALUE = {s.value: s for s in Severity}  # as mlgate writes them: no parsing needed
_SPACE = re.compile(r"\s+")


def normalise_code(code: str) -> str:
    """Collapse whitespace so re-indenting or reflowing does not change a fingerprint."""
    return _SPACE.sub(" ", code).strip()


def fingerprint(tool: str, rule_id: str, path: str | None, anchor: str, occurrence: int = 0) -> str:
    """A stable identity for a finding: never includes a line number.

    `anchor` is the normalised offending code, or the package name for a dependency
    finding; `occurrence` tells apart identical code appearing twice in one file.
    """
    text = "\x1f".join([tool, rule_id, path or "", normalise_code(anchor), str(occurrence)])
    # surrogateescape: a file name that is not UTF-8 keeps its exact bytes in the hash
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def printable(text: str) -> str:
    """`text` with the undecodable bytes of a non-UTF-8 file name (surrogate escapes) shown
    as `\\xNN`: every report, log and terminal line can be written as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape")
        return raw.decode("utf-8", "backslashreplace")
    return text


def printable_finding(finding: Finding) -> Finding:
    """A finding whose path and message can be written as UTF-8 (see `printable`)."""
    path, message = finding.path, finding.message
    if (path is None or path.isascii()) and message.isascii():
        return finding
    return finding.with_changes(
        path=None if path is None else printable(path), message=printable(message)
    )


def assign_fingerprints(findings: Iterable[Finding], anchors: Mapping[int, str]) -> list[Finding]:
    """Fingerprint findings in order; `anchors` maps index -> anchor text.

    Identical (tool, rule, path, anchor) tuples are numbered by order of line, so two
    copies of the same bad line in one file keep distinct, stable fingerprints.
    """
    items = list(findings)
    order = sorted(range(len(items)), key=lambda i: (items[i].path or "", items[i].line or 0))
    seen: Counter[tuple[str, str, str, str]] = Counter()
    result: dict[int, Finding] = {}
    for index in order:
        item = items[index]
        anchor = normalise_code(anchors.get(index, item.message))
        key = (item.tool, item.rule_id, item.path or "", anchor)
        occurrence = seen[key]
        seen[key] += 1
        fp = fingerprint(item.tool, item.rule_id, item.path, anchor, occurrence)
        result[index] = item.with_changes(fingerprint=fp)
    return [result[i] for i in range(len(items))]


def severity_counts(findings: Iterable[Finding]) -> str:
    """'2 high, 1 medium': counts by severity, worst first ('' when there are none)."""
    counts = Counter(map(_SEVERITY, findings))
    return ", ".join(f"{counts[s]} {s.value}" for s in Severity if counts[s])


_SEVERITY = operator.attrgetter("severity")


def sort_key(finding: Finding) -> tuple[int, str, int, str]:
    """Worst first, then by location: the order every report uses."""
    return (-_RANKS[finding.severity], finding.path or "", finding.line or 0, finding.rule_id)


def read_line(text_lines: list[str], line: int | None) -> str:
    """The source line (1-based) a finding points at, or '' when out of range."""
    if line is None or line < 1 or line > len(text_lines):
        return ""
    return text_lines[line - 1]


def headline(text: str, width: int) -> str:
    """The first sentence of the first line, clipped to `width`: a title for a long message."""
    stripped = text.strip()
    line = stripped.splitlines()[0] if stripped else ""
    sentence, stop, _ = line.partition(". ")
    title = sentence + "." if stop and len(sentence) >= 12 else line
    return title if len(title) <= width else title[: width - 1] + "…"
