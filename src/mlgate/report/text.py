"""text: a table per gate and the decision with its reasons, for a terminal."""

from __future__ import annotations

import itertools
import operator
import textwrap
from collections.abc import Sequence

import click

from mlgate import __version__
from mlgate.findings import Finding, Severity, severity_counts
from mlgate.gates import GateResult, GateStatus
from mlgate.policy import Outcome
from mlgate.report.base import Report

STATUS_COLOURS = {
    GateStatus.PASS: "green",
    GateStatus.FAIL: "red",
    GateStatus.ERROR: "magenta",
    GateStatus.SKIPPED: "bright_black",
}
SEVERITY_COLOURS = {
    Severity.CRITICAL: "red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "bright_black",
}
MESSAGE_WIDTH = 100  # wrap width of a rule's message; nothing is cut
TOP = 3  # findings listed per rule; the rest are counted ("N more"), all are in json/SARIF


class TextFormat:
    """For a terminal: always printed on stdout, never written by --output."""

    name = "text"
    weight = 0.0

    def render(self, report: Report, color: bool = False) -> str:
        paint = _painter(color)
        lines = _header(report)
        lines += _gate_table(report, paint)
        for result in report.run.results:
            lines += _gate_findings(report, result, paint)
        lines += _decision(report, paint)
        return "\n".join(lines) + "\n"

    def files(self, report: Report) -> dict[str, str]:
        """Nothing: with --output the text report still goes to stdout, and only there."""
        return {}


def _painter(color: bool):  # type: ignore[no-untyped-def]
    def paint(text: str, fg: str | None = None, bold: bool = False) -> str:
        return click.style(text, fg=fg, bold=bold) if color else text

    return paint


def _header(report: Report) -> list[str]:
    repo = report.run.repo
    env = report.decision.env or "(base policy)"
    lines = [
        f"mlgate {__version__}  {repo.root}",
        f"commit: {repo.commit or 'unknown'}  env: {env}  policy: {report.policy.source}",
    ]
    lines += [f"note: {n}" for n in repo.notes]
    return [*lines, ""]


def _gate_table(report: Report, paint) -> list[str]:  # type: ignore[no-untyped-def]
    rows = [("GATE", "STATUS", "FINDINGS", "TIME", "TOOLS")]
    statuses: list[GateStatus | None] = [None]
    for result in report.run.results:
        status = report.status(result.gate)
        tools = ", ".join(f"{k} {v or 'missing'}" for k, v in result.tools.items())
        rows.append(
            (result.gate, status.value, _counts(result.findings), f"{result.seconds:.1f}s", tools)
        )
        statuses.append(status)
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for row, shown in zip(rows, statuses, strict=True):
        cells = [row[i].ljust(widths[i]) for i in range(4)]
        if shown is not None:
            cells[1] = paint(cells[1], STATUS_COLOURS[shown], bold=True)
        lines.append("  ".join([*cells, row[4]]).rstrip())
    return [*lines, ""]


def _counts(findings: Sequence[Finding]) -> str:
    return f"{len(findings)} ({severity_counts(findings)})" if findings else "0"


def _gate_findings(report: Report, result: GateResult, paint) -> list[str]:  # type: ignore[no-untyped-def]
    mine = report.findings_of(result.gate)
    unwaived = map(operator.is_, map(_WAIVED_BY, mine), itertools.repeat(None))
    shown = list(itertools.compress(mine, unwaived))  # one C loop for 100,000
    lines: list[str] = []
    if shown or result.errors or result.notes:
        lines.append(paint(f"{result.gate}", bold=True))
    lines += [paint(f"  error: {e}", "magenta") for e in result.errors]
    for group in _by_rule(shown):
        lines += _rule_lines(group, paint)
    waived = len(mine) - len(shown)
    if waived:
        lines.append(f"  ({waived} waived or baselined finding(s) not shown; see the json report)")
    lines += [f"  note: {n}" for n in result.notes]
    return [*lines, ""] if lines else []


def _by_rule(findings: Sequence[Finding]) -> list[list[Finding]]:
    """Findings grouped by rule and severity, worst and most frequent first."""
    groups: dict[tuple[str, Severity], list[Finding]] = {}
    for item in findings:
        groups.setdefault((item.rule_id, item.severity), []).append(item)
    return sorted(groups.values(), key=lambda g: (-g[0].severity.rank, -len(g), g[0].rule_id))


def _where(item: Finding) -> str:
    where = item.path or "-"
    if item.cell is not None:
        where += f"[cell {item.cell}]"
    if item.line is not None:
        where += f":{item.line}"
    return where


def _wrapped(text: str, indent: str) -> list[str]:
    body = " ".join(text.split())
    if len(indent) + len(body) <= MESSAGE_WIDTH:  # one line: what textwrap gives, 30x cheaper
        return [indent + body] if body else []
    return textwrap.wrap(body, MESSAGE_WIDTH, initial_indent=indent, subsequent_indent=indent)


def _rule_lines(group: Sequence[Finding], paint) -> list[str]:  # type: ignore[no-untyped-def]
    """A rule's findings: the count, the first few places, the message (the remediation) in
    full once when every finding shares it, else each listed finding's own, and one fix."""
    first = group[0]
    sev = paint(first.severity.value.upper().ljust(8), SEVERITY_COLOURS[first.severity], bold=True)
    tools = ", ".join(_tools(group))
    count = f"  ({len(group)} findings)" if len(group) > 1 else ""
    lines = [f"  {sev} {first.rule_id}{count}  [{tools}]"]
    indent = " " * 11
    same = len(set(map(_MESSAGE, group))) == 1
    shown = group[:TOP]
    if same:
        places = ", ".join(_where(f) for f in shown)
        more = f" and {len(group) - TOP} more" if len(group) > TOP else ""
        lines.append(f"{indent}{places}{more}")
        lines += _wrapped(first.message, indent)
    else:
        for item in shown:
            lines += _wrapped(f"{_where(item)}: {item.message}", indent)
        if len(group) > TOP:
            lines.append(f"{indent}... and {len(group) - TOP} more (see the json report)")
    fixes = list(dict.fromkeys(f.fix for f in shown if f.fix))
    if fixes:
        lines += _wrapped("fix: " + "; ".join(fixes), indent)
    return lines


_WAIVED_BY = operator.attrgetter("waived_by")
_MESSAGE = operator.attrgetter("message")
_TOOL = operator.attrgetter("tool")
_ALSO = operator.attrgetter("also_reported_by")


def _tools(group: Sequence[Finding]) -> list[str]:
    """Every tool that reported one of `group`, in order (in C loops when only the first
    tool of each finding reported it, the usual case)."""
    if any(map(_ALSO, group)):
        return list(dict.fromkeys(t for f in group for t in f.tools))
    return list(dict.fromkeys(map(_TOOL, group)))


def _decision(report: Report, paint) -> list[str]:  # type: ignore[no-untyped-def]
    decision = report.decision
    if decision.passed:
        head = paint("Decision: PASS", "green", bold=True)
    elif decision.outcome is Outcome.ERROR:
        head = paint(
            f"Decision: BLOCKED: a required gate could not run (exit {decision.exit_code})",
            "magenta",
            bold=True,
        )
    else:
        head = paint(f"Decision: BLOCKED (exit {decision.exit_code})", "red", bold=True)
    lines = [head]
    lines += [f"  - {v}" for v in decision.violations]
    if decision.warnings:
        lines.append("Warnings:")
        lines += [f"  - {w}" for w in decision.warnings]
    return lines
