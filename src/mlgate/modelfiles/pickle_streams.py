"""One pickle stream's report (`pickle_vm.PickleReport`) turned into issues: each global
classified by the allowlist, indirect calls, what could not be proven, parse errors."""

from __future__ import annotations

import json
from collections.abc import Sequence

from mlgate.findings import Severity
from mlgate.modelfiles.allowlist import Verdict
from mlgate.modelfiles.pickle_vm import ByteSource, GlobalRef, PickleReport, scan_pickles
from mlgate.modelfiles.records import (
    RULE_DANGEROUS,
    RULE_INDIRECT,
    RULE_UNKNOWN,
    RULE_UNPARSEABLE,
    RULE_UNPROVABLE,
    Scan,
    Where,
)


def scan_pickle_stream(
    scan: Scan, where: Where, source: ByteSource, max_pickles: int | None = None
) -> PickleReport:
    report = PickleReport()
    try:
        scan_pickles(source, scan.settings.deadline, max_pickles, report)
    finally:  # what was found before a limit, a timeout or a read error is still reported
        report_pickle(scan, where, report)
    return report


def _names(refs: Sequence[GlobalRef]) -> list[str]:
    return sorted({r.dotted for r in refs})


def _call_text(report: PickleReport, refs: Sequence[GlobalRef]) -> str:
    parts = []
    for ref in sorted(refs, key=lambda r: r.dotted):
        ops = sorted(report.calls.get(ref, set()))
        parts.append(f"{ref.dotted} (called via {'/'.join(ops)})" if ops else ref.dotted)
    return ", ".join(parts)


def report_pickle(scan: Scan, where: Where, report: PickleReport) -> None:
    """Turn one pickle stream's report into issues."""
    scan.pickle_based = True
    scan.pickle_streams += 1
    verdicts = {ref: scan.settings.allow.classify(ref) for ref in report.globals}
    dangerous = [r for r, v in verdicts.items() if v is Verdict.DANGEROUS]
    unknown = [r for r, v in verdicts.items() if v is Verdict.UNKNOWN]
    calls = {r.dotted: sorted(report.calls.get(r, set())) for r in dangerous + unknown}
    if dangerous:
        names = _names(dangerous)
        scan.add(
            where,
            RULE_DANGEROUS,
            Severity.CRITICAL,
            f"pickle imports dangerous global(s) {_call_text(report, dangerous)}: loading "
            "this file runs code chosen by whoever wrote it",
            anchor=",".join(names),
            globals=names,
            calls={n: calls[n] for n in names},
        )
    if unknown:
        names = _names(unknown)
        scan.add(
            where,
            RULE_UNKNOWN,
            Severity.MEDIUM,
            f"cannot be proven safe: pickle imports global(s) not on the allowlist: "
            f"{_call_text(report, unknown)}; loading imports and may call them. If this is "
            f"your own code, allow it in .mlgate.yml: models: allow_globals: "
            f"{json.dumps(_allow_hint(unknown))}",
            anchor=",".join(names),
            globals=names,
            calls={n: calls[n] for n in names},
        )
    _report_pickle_rest(scan, where, report)


def _allow_hint(refs: Sequence[GlobalRef]) -> list[str]:
    """What to add to allow_globals: the module's glob (`mypkg.models.*`), or the exact name
    for a script's `__main__` and names outside any package."""
    hints = []
    for ref in refs:
        if ref.module.startswith("<"):
            continue
        exact = ref.module == "__main__" or "." not in ref.module
        hints.append(ref.dotted if exact else f"{ref.module}.*")
    return sorted(set(hints))[:5]


def _report_pickle_rest(scan: Scan, where: Where, report: PickleReport) -> None:
    if report.indirect_calls:
        scan.add(
            where,
            RULE_INDIRECT,
            Severity.HIGH,
            "pickle calls or modifies objects in ways plain data never needs "
            f"({'; '.join(report.indirect_calls[:3])}): a known way to hide a payload",
            anchor="indirect",
            calls=report.indirect_calls,
        )
    if report.unprovable is not None:
        swept = _names(report.swept)
        found = f"; the byte search of the rest found {', '.join(swept)}" if swept else ""
        scan.add(
            where,
            RULE_UNPROVABLE,
            Severity.MEDIUM,
            f"cannot be proven safe: {report.unprovable}; the rest of the stream was only "
            f"searched byte by byte for imports{found}",
            anchor="unprovable",
            swept=swept,
        )
    if report.error is not None:
        severity = Severity.MEDIUM if where.strict else Severity.LOW
        scan.add(
            where,
            RULE_UNPARSEABLE,
            severity,
            f"could not be fully parsed: {report.error} (a damaged file, or one crafted "
            "to confuse scanners; whatever loads it may still run what precedes the damage)",
            anchor="unparseable",
        )
    for text in report.notes:
        scan.note(where, text)
