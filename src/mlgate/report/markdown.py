"""markdown: a compact summary for a pull request, a job page or `$GITHUB_STEP_SUMMARY`.

The decision, a table of gates, counts by severity, the ten worst unwaived findings with
repo-relative links, then the violations and warnings. Long texts are clipped: the json
report has everything.
"""

from __future__ import annotations

import heapq
import html
import itertools
import operator
from collections import Counter
from collections.abc import Sequence
from urllib.parse import quote

from mlgate import __version__
from mlgate.findings import Finding, Severity, severity_counts, sort_key
from mlgate.policy import Outcome
from mlgate.report.base import Report

FILENAME = "summary.md"
TOP_FINDINGS = 10
CELL_WIDTH = 160
ITEM_WIDTH = 300


class MarkdownFormat:
    name = "markdown"
    weight = 0.5

    def render(self, report: Report, color: bool = False) -> str:
        sections = [
            _headline(report),
            _gate_table(report),
            _severity_counts(report),
            _top_findings(report),
            _listing("Violations", report.decision.violations),
            _listing("Warnings", report.decision.warnings),
        ]
        return "\n\n".join(s for s in sections if s) + "\n"

    def files(self, report: Report) -> dict[str, str]:
        return {FILENAME: self.render(report)}


def decision_text(report: Report) -> str:
    decision = report.decision
    if decision.passed:
        return "**Decision: PASSED**"
    if decision.outcome is Outcome.ERROR:
        return f"**Decision: BLOCKED** (exit {decision.exit_code}: a required gate could not run)"
    return f"**Decision: BLOCKED** (exit {decision.exit_code})"


def _headline(report: Report) -> str:
    repo = report.run.repo
    facts = [f"env: {report.decision.env or 'base policy'}"]
    if repo.commit:
        facts.append(f"commit `{repo.commit[:12]}`")
    facts.append(f"mlgate {__version__}")
    return f"## mlgate\n\n{decision_text(report)} · " + " · ".join(facts)


def _gate_table(report: Report) -> str:
    rows = ["| Gate | Status | Findings | Time |", "| --- | --- | --- | ---: |"]
    for result in report.run.results:
        counts = _counts(report.findings_of(result.gate))
        status = report.status(result.gate).value
        rows.append(f"| {result.gate} | {status} | {counts} | {result.seconds:.1f}s |")
    return "\n".join(rows)


def _counts(findings: Sequence[Finding]) -> str:
    return f"{len(findings)} ({severity_counts(findings)})" if findings else "0"


def _severity_counts(report: Report) -> str:
    live = _live(report.decision.findings)
    counts = Counter(map(_SEVERITY, live))
    parts = " · ".join(f"{s.value} {counts[s]}" for s in Severity)
    waived = len(report.decision.findings) - len(live)
    tail = f" (and {waived} waived or baselined)" if waived else ""
    return f"**Findings by severity:** {parts}{tail}"


_SEVERITY = operator.attrgetter("severity")
_WAIVED_BY = operator.attrgetter("waived_by")
_GATE = operator.attrgetter("gate")


def _live(findings: Sequence[Finding]) -> list[Finding]:
    """The findings not waived (nor baselined), in order: one C loop for 100,000."""
    unwaived = map(operator.is_, map(_WAIVED_BY, findings), itertools.repeat(None))
    return list(itertools.compress(findings, unwaived))


def _top_findings(report: Report) -> str:
    live = _live(report.decision.findings)
    if not live:
        return ""
    top = _worst(report)
    rows = [
        f"### Top findings ({len(top)} of {len(live)})",
        "",
        "| Severity | Rule | Where | Message |",
        "| --- | --- | --- | --- |",
    ]
    for item in top:
        rule = _cell(item.rule_id)
        rows.append(f"| {item.severity.value} | `{rule}` | {_link(item)} | {_cell(item.message)} |")
    return "\n".join(rows)


def _worst(report: Report) -> list[Finding]:
    """The TOP_FINDINGS first unwaived findings in `sort_key` order (ties in the decision's
    order): `sorted(live, key=sort_key)[:TOP_FINDINGS]`.

    A decision lists each gate's findings together (`decide` does): then they are the
    first of the first few unwaived findings of each gate, already sorted (`by_gate`,
    in the order the gates come), and 100,000 findings need no key each."""
    decision = report.decision
    gates = list(map(_GATE, decision.findings))
    together = sum(map(operator.ne, gates, gates[1:])) == len(decision.by_gate) - 1
    if not together:
        live = _live(decision.findings)
        return heapq.nsmallest(TOP_FINDINGS, live, key=sort_key)  # sorted(...)[:10]
    candidates: list[Finding] = []
    for mine in decision.by_gate.values():
        candidates += itertools.islice((f for f in mine if f.waived_by is None), TOP_FINDINGS)
    return sorted(candidates, key=sort_key)[:TOP_FINDINGS]


def _link(finding: Finding) -> str:
    """`path:line` as a link relative to the repository root (GitHub's #L anchor)."""
    if not finding.path:
        return "-"
    label = finding.path
    if finding.cell is not None:
        label += f" [cell {finding.cell}]"
    target = quote(finding.path, safe="/")
    if finding.line is not None:
        label += f":{finding.line}"
        if finding.cell is None:
            target += f"#L{finding.line}"
    return f"[{_cell(label)}]({target})"


def _listing(title: str, items: Sequence[str]) -> str:
    if not items:
        return ""
    return f"### {title}\n\n" + "\n".join(f"- {_clip(_inline(i), ITEM_WIDTH)}" for i in items)


def _cell(text: str) -> str:
    return _clip(_inline(text), CELL_WIDTH).replace("|", "\\|")


def _inline(text: str) -> str:
    """One line of markdown-safe text: HTML escaped, newlines folded."""
    return html.escape(" ".join(text.split()), quote=False)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
