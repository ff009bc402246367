"""Report formats: one module each, registered here; and writing their files."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from mlgate import atomic
from mlgate.bulk import without_cycle_collection
from mlgate.errors import ReportError
from mlgate.redact import redact_value
from mlgate.report.base import Report, ReportFormat
from mlgate.report.gitlab import GitlabFormat
from mlgate.report.json import JsonFormat
from mlgate.report.junit import JunitFormat
from mlgate.report.markdown import MarkdownFormat
from mlgate.report.sarif import SarifFormat
from mlgate.report.text import TextFormat

FORMATS: dict[str, ReportFormat] = {
    fmt.name: fmt
    for fmt in (
        TextFormat(),
        JsonFormat(),
        SarifFormat(),
        GitlabFormat(),
        JunitFormat(),
        MarkdownFormat(),
    )
}


def publishable(report: Report) -> Report:
    """The report every writer renders: each string in it redacted (see mlgate.redact).

    The list of scanned files is left out (no format shows it, and it can be long)."""
    run = report.run
    bare = dataclasses.replace(run, repo=dataclasses.replace(run.repo, files=()))
    return redact_value(dataclasses.replace(report, run=bare))


def write_reports(
    report: Report, formats: Sequence[str], directory: Path, redacted: bool = False
) -> list[Path]:
    """Write every file of each format into `directory`, each atomically; return the paths.

    The report is redacted first (`publishable`) unless the caller did (`redacted`).
    Raises ReportError (one line) when the directory cannot be made or written to.
    """
    with without_cycle_collection():
        report = report if redacted else publishable(report)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(
            f"cannot create the report directory {directory}: {_reason(exc)}"
        ) from None
    written: dict[str, Path] = {}
    with without_cycle_collection():
        for name in dict.fromkeys(formats):  # one format's text in memory at a time
            for file_name, text in FORMATS[name].files(report).items():
                written[file_name] = write_atomic(directory / file_name, text)
    return list(written.values())


def write_atomic(target: Path, text: str) -> Path:
    """Put a report in place atomically (`mlgate.atomic`), created like any other file
    (mode 0666 less the umask), so it is as readable as a plainly written one."""
    try:
        return atomic.write(target, text)
    except OSError as exc:
        raise ReportError(f"cannot write the report {target}: {_reason(exc)}") from None


def append_summary(report: Report, path: Path) -> None:
    """Append the markdown summary to `path` (GitHub's $GITHUB_STEP_SUMMARY)."""
    try:
        with path.open("a", encoding="utf-8", newline="\n") as handle:
            handle.write(FORMATS["markdown"].render(publishable(report)) + "\n")
    except OSError as exc:
        raise ReportError(f"cannot append the summary to {path}: {_reason(exc)}") from None


def _reason(exc: OSError) -> str:
    return " ".join(str(exc.strerror or exc).split())


__all__ = [
    "FORMATS",
    "Report",
    "ReportFormat",
    "append_summary",
    "publishable",
    "write_atomic",
    "write_reports",
]
