"""The data every report renders, and the report-format interface."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from mlgate import __version__
from mlgate.findings import Finding, Severity
from mlgate.gates import GateResult, GateStatus
from mlgate.policy import Decision, Policy
from mlgate.runner import RunResult

REPORT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Report:
    """One run (or merge) as reports see it: results, decision, and where they came from."""

    run: RunResult
    policy: Policy
    decision: Decision
    mode: Mapping[str, Any]

    def result(self, gate: str) -> GateResult | None:
        return next((r for r in self.run.results if r.gate == gate), None)

    def status(self, gate: str) -> GateStatus:
        """The gate's status after the policy (skipped when the decision does not cover it)."""
        verdict = self.decision.verdicts.get(gate)
        return verdict.status if verdict else GateStatus.SKIPPED

    def findings_of(self, gate: str) -> list[Finding]:
        """The gate's findings as decided (waivers marked), worst first."""
        return list(self.decision.by_gate.get(gate, ()))

    def tool_version(self, gate: str, tool: str) -> str | None:
        """The version a gate reported for one of its tools; mlgate's own checks are mlgate's."""
        result = self.result(gate)
        version = result.tools.get(tool) if result else None
        return version or (__version__ if tool == "mlgate" else None)

    def started(self) -> dt.datetime:
        """When the run started, in UTC (now, if the recorded time cannot be read)."""
        try:
            when = dt.datetime.fromisoformat(self.run.started_at)
        except ValueError:
            return dt.datetime.now(dt.timezone.utc)
        if when.tzinfo is None:
            return when.replace(tzinfo=dt.timezone.utc)
        return when.astimezone(dt.timezone.utc)

    def to_dict(self, encoded: bool = False) -> dict[str, Any]:
        """The json report: everything, in a stable shape (see README, "json report");
        with `encoded`, the findings are already JSON text (`RawItems`, for `dump_json`)."""
        repo = self.run.repo
        decision = self.decision
        return {
            "schema_version": REPORT_SCHEMA_VERSION,
            "mlgate_version": __version__,
            "root": str(repo.root),
            "commit": repo.commit,
            "git": repo.is_git,
            "clean": repo.clean,
            "env": decision.env,
            "policy": {"source": self.policy.source, "digest": self.policy.digest},
            "mode": dict(self.mode),
            "started_at": self.run.started_at,
            "seconds": round(self.run.seconds, 3),
            "decision": {
                "outcome": decision.outcome.value,
                "passed": decision.passed,
                "exit_code": decision.exit_code,
                "violations": list(decision.violations),
                "warnings": list(decision.warnings),
                "expired_waivers": list(decision.expired_waivers),
            },
            "tools": {name: dict(info) for name, info in sorted(self.run.tools.items())},
            "gates": [self._gate_dict(r) for r in self.run.results],
            "findings": RawItems(findings_json(decision.findings))
            if encoded
            else [f.to_dict() for f in decision.findings],
            "notes": list(repo.notes),
        }

    def _gate_dict(self, result: GateResult) -> dict[str, Any]:
        verdict = self.decision.verdicts.get(result.gate)
        data = result.to_dict(listed=False)
        return {
            "name": data.pop("name"),
            "status": verdict.status.value if verdict else "skipped",
            "required": verdict.required if verdict else False,
            "reasons": list(verdict.reasons) if verdict else ["not in the policy's scope"],
            **data,
        }


class ReportFormat(Protocol):
    """One module per format; `report.FORMATS` is the registry.

    `render` is what goes to stdout when the format is the only one asked for;
    `files` is what `--output DIR` writes: file name -> content (may be empty, or several).
    """

    name: str
    weight: float  # the time its files take to write, relative to json's (text: none)

    def render(self, report: Report, color: bool = False) -> str: ...

    def files(self, report: Report) -> dict[str, str]: ...


def dump_json(data: Any, depth: int) -> str:
    """JSON indented by two spaces for the first `depth` levels, each deeper value on one line
    (one finding per line). Linear and fast: `json.dumps(indent=...)` runs json's pure-Python
    encoder, ten times slower than the C one that encodes each deeper value here."""
    out: list[str] = []
    _dump_value(data, depth, 0, out)
    out.append("\n")
    return "".join(out)


def _value_encoder() -> Callable[[Any], str]:
    """`json.JSONEncoder(separators=(", ", ": ")).encode`, without building the C encoder
    again for each value (a third of the time for 100,000 findings), and without the
    circular-reference check (a report is a tree)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    fallback = json.JSONEncoder(separators=(", ", ": "), check_circular=False).encode
    if make is None:  # an interpreter without json's C accelerator
        return fallback
    encode_string = json.encoder.encode_basestring_ascii
    chunks = make(None, _not_json, encode_string, None, ": ", ", ", False, False, True)

    def encode(value: Any) -> str:
        if isinstance(value, str):
            return str(encode_string(value))
        return "".join(chunks(value, 0))

    return encode


def _not_json(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_ENCODE = _value_encoder()
_ENCODE_STRING = json.encoder.encode_basestring_ascii
_SEVERITY_JSON = {severity: _ENCODE_STRING(severity.value) for severity in Severity}


class Raw:
    """A value already encoded as JSON (by `encode_value`'s rules), written as it is by
    `dump_json` at its depth: a format writes 100,000 results as text, five times faster
    than building their dicts to encode. Not a str: encoded any other way, it is an error."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class RawItems:
    """A list of values each already encoded as JSON (see `Raw`): `dump_json` writes it as
    it writes a list of `Raw`, joining the texts in one call rather than one at a time."""

    __slots__ = ("texts",)

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts


def encode_value(value: Any) -> str:
    """One value as `dump_json` encodes a value deeper than its depth; strings, None, ints
    and booleans without calling the encoder (five times cheaper for those)."""
    kind = type(value)
    if kind is str:
        return str(_ENCODE_STRING(value))
    if value is None:
        return "null"
    if kind is int:
        return int.__repr__(value)
    if kind is bool:
        return "true" if value else "false"
    return _ENCODE(value)


def findings_json(findings: Iterable[Finding]) -> list[str]:
    """`finding_json` of each finding."""
    return [finding_json(finding) for finding in findings]


def finding_json(finding: Finding) -> str:
    """`finding.to_dict()` encoded as `dump_json` encodes it, written directly as text (the
    json report's 100,000 findings: half the time of building dicts to encode).

    Strings are encoded by json's C string encoder directly and ints written inline (half
    the time again); a value of another type (a malformed report's) raises TypeError
    there, and the finding is encoded value by value instead."""
    try:
        return _finding_text(finding)
    except TypeError:
        return _finding_values(finding)


def _finding_text(f: Finding) -> str:
    """`_finding_values` for a finding whose strings are str (else TypeError)."""
    s, j, null = _ENCODE_STRING, encode_value, "null"
    path, confidence, cwe, help_uri = f.path, f.confidence, f.cwe, f.help_uri
    fix, waived_by, blocking = f.fix, f.waived_by, f.blocking
    at, to, ends, in_cell = f.line, f.column, f.end_line, f.cell
    line = null if at is None else str(at) if type(at) is int else j(at)
    column = null if to is None else str(to) if type(to) is int else j(to)
    end_line = null if ends is None else str(ends) if type(ends) is int else j(ends)
    cell = null if in_cell is None else str(in_cell) if type(in_cell) is int else j(in_cell)
    flag = "true" if blocking is True else "false" if blocking is False else j(blocking)
    also = j(list(f.also_reported_by)) if f.also_reported_by else "[]"
    props = j(dict(f.properties)) if f.properties else "{}"
    return (
        f'{{"gate": {s(f.gate)}, "tool": {s(f.tool)}, "rule_id": {s(f.rule_id)}, '
        f'"severity": {_SEVERITY_JSON[f.severity]}, "message": {s(f.message)}, '
        f'"path": {null if path is None else s(path)}, "line": {line}, "column": {column}, '
        f'"end_line": {end_line}, "cell": {cell}, '
        f'"confidence": {null if confidence is None else s(confidence)}, '
        f'"cwe": {null if cwe is None else s(cwe)}, '
        f'"help_uri": {null if help_uri is None else s(help_uri)}, '
        f'"fingerprint": {s(f.fingerprint)}, "fix": {null if fix is None else s(fix)}, '
        f'"waived_by": {null if waived_by is None else s(waived_by)}, "blocking": {flag}, '
        f'"also_reported_by": {also}, "properties": {props}}}'
    )


def _finding_values(finding: Finding) -> str:
    """`finding_json`, each value encoded by `encode_value`."""
    f, j = finding, encode_value
    also = j(list(f.also_reported_by)) if f.also_reported_by else "[]"
    props = j(dict(f.properties)) if f.properties else "{}"
    return (
        f'{{"gate": {j(f.gate)}, "tool": {j(f.tool)}, "rule_id": {j(f.rule_id)}, '
        f'"severity": {j(f.severity.value)}, "message": {j(f.message)}, "path": {j(f.path)}, '
        f'"line": {j(f.line)}, "column": {j(f.column)}, "end_line": {j(f.end_line)}, '
        f'"cell": {j(f.cell)}, "confidence": {j(f.confidence)}, "cwe": {j(f.cwe)}, '
        f'"help_uri": {j(f.help_uri)}, "fingerprint": {j(f.fingerprint)}, "fix": {j(f.fix)}, '
        f'"waived_by": {j(f.waived_by)}, "blocking": {j(f.blocking)}, '
        f'"also_reported_by": {also}, "properties": {props}}}'
    )


def _dump_value(value: Any, depth: int, level: int, out: list[str]) -> None:
    if type(value) is Raw:
        out.append(value.text)
        return
    if type(value) is RawItems:
        texts = value.texts
        if not texts:
            out.append("[]")
        elif level >= depth:
            out.append("[" + ", ".join(texts) + "]")
        else:  # each text and separator a piece of `out`: the document is joined once
            pad = "\n" + "  " * (level + 1)
            out.append("[" + pad)
            out.append(texts[0])
            out += itertools.chain.from_iterable(zip(itertools.repeat("," + pad), texts[1:]))
            out.append("\n" + "  " * level + "]")
        return
    if level >= depth or not isinstance(value, (dict, list)) or not value:
        out.append(_ENCODE(value))
        return
    pad = "\n" + "  " * (level + 1)
    if isinstance(value, dict):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            out.append(("," if index else "") + pad + json.dumps(str(key)) + ": ")
            _dump_value(item, depth, level + 1, out)
        out.append("\n" + "  " * level + "}")
        return
    out.append("[")
    for index, item in enumerate(value):
        out.append(("," if index else "") + pad)
        _dump_value(item, depth, level + 1, out)
    out.append("\n" + "  " * level + "]")
