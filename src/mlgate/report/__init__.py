"""Report formats: one module each, registered here; and writing their files."""

# Each format's module is imported when the format is first used (issue 16: start-up).
# ruff: noqa: PLC0415

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from mlgate import atomic, bulk
from mlgate.bulk import without_cycle_collection
from mlgate.errors import ReportError
from mlgate.redact import redact_value
from mlgate.report.base import Report, ReportFormat


def _text() -> ReportFormat:
    from mlgate.report.text import TextFormat

    return TextFormat()


def _json() -> ReportFormat:
    from mlgate.report.json import JsonFormat

    return JsonFormat()


def _sarif() -> ReportFormat:
    from mlgate.report.sarif import SarifFormat

    return SarifFormat()


def _gitlab() -> ReportFormat:
    from mlgate.report.gitlab import GitlabFormat

    return GitlabFormat()


def _junit() -> ReportFormat:
    from mlgate.report.junit import JunitFormat

    return JunitFormat()


def _markdown() -> ReportFormat:
    from mlgate.report.markdown import MarkdownFormat

    return MarkdownFormat()


class _Registry(Mapping[str, ReportFormat]):
    """The formats by name; each format's module is imported when the format is first
    asked for (a run writes one or two of the six: the others' imports are not paid)."""

    def __init__(self, makers: Mapping[str, Callable[[], ReportFormat]]) -> None:
        self._makers = dict(makers)
        self._made: dict[str, ReportFormat] = {}

    def __getitem__(self, name: str) -> ReportFormat:
        made = self._made.get(name)
        if made is None:
            made = self._made[name] = self._makers[name]()
        return made

    def __iter__(self) -> Iterator[str]:
        return iter(self._makers)

    def __len__(self) -> int:
        return len(self._makers)


FORMATS: Mapping[str, ReportFormat] = _Registry(
    {
        "text": _text,
        "json": _json,
        "sarif": _sarif,
        "gitlab": _gitlab,
        "junit": _junit,
        "markdown": _markdown,
    }
)


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
    Raises ReportError (one line) when the directory cannot be made or written to."""
    return start_reports(report, formats, directory, redacted).finish()


def start_reports(
    report: Report,
    formats: Sequence[str],
    directory: Path,
    redacted: bool = False,
    meanwhile: float = 0.0,
) -> Writing:
    """`write_reports`, begun: a report of many findings has part of its formats written by
    a forked copy of this process (`bulk.Forked`) while this one writes the rest in
    `finish()`, after the caller's own work of `meanwhile` (in format weights: the text
    report it prints is 1.0). On two cores, 100,000 findings in every format take half the
    time. Files, their order and every failure are the same as written one by one."""
    with without_cycle_collection():
        report = report if redacted else publishable(report)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(
            f"cannot create the report directory {directory}: {_reason(exc)}"
        ) from None
    names = list(dict.fromkeys(formats))
    here, there = _split(names, meanwhile)
    forked = None
    if there and len(report.decision.findings) >= bulk.FORK_FROM:
        forked = bulk.Forked.start(lambda: _write_formats(report, there, directory))
    if forked is None:
        here, there = names, []
    return Writing(report, names, directory, here, forked)


class Writing:
    """Report files being written; `finish()` writes this process's share and returns every
    path (in the order of the formats asked for) once the forked copy's share is written.
    Used as a context manager, it stops the copy when the block fails before `finish()`."""

    def __init__(
        self,
        report: Report,
        names: list[str],
        directory: Path,
        here: list[str],
        forked: bulk.Forked | None,
    ) -> None:
        self.report = report
        self.names = names
        self.directory = directory
        self.here = here
        self.forked = forked

    def finish(self) -> list[Path]:
        written: dict[str, list[str]] = {}
        with self:  # this process failing first stops the copy too
            with without_cycle_collection():  # one format's text in memory at a time
                written.update(_write_formats(self.report, self.here, self.directory))
            if self.forked is not None:
                try:
                    written.update(self.forked.result())
                except bulk.ForkedError as exc:
                    raise ReportError(
                        f"cannot write the reports to {self.directory}: {exc}"
                    ) from None
        paths = dict.fromkeys(path for name in self.names for path in written[name])
        return [Path(path) for path in paths]

    def __enter__(self) -> Writing:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.forked is not None:  # reaped already, unless a failure came first
            self.forked.cancel()


def _write_formats(report: Report, names: Sequence[str], directory: Path) -> dict[str, list[str]]:
    """{format: the paths of its files} for each of `names`, written."""
    return {
        name: [
            str(write_atomic(directory / file_name, text))
            for file_name, text in FORMATS[name].files(report).items()
        ]
        for name in names
    }


def _split(names: Sequence[str], meanwhile: float) -> tuple[list[str], list[str]]:
    """The formats this process writes, and those a forked copy does: the heaviest first,
    each to the lighter share (this process's starts with `meanwhile`). All here when
    either share would be light."""
    shares: tuple[list[str], list[str]] = ([], [])
    loads = [meanwhile, 0.0]
    for name in sorted(names, key=lambda n: -FORMATS[n].weight):
        side = 0 if loads[0] <= loads[1] else 1
        shares[side].append(name)
        loads[side] += FORMATS[name].weight
    here, there = shares
    if min(loads) < _FORK_WEIGHT:
        return list(names), []
    return here, there


# A copy is forked only when each share weighs this much: json alone (1.0) is written in
# about the time the copy's pages take to be copied on write.
_FORK_WEIGHT = 2.0


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
    "Writing",
    "append_summary",
    "publishable",
    "start_reports",
    "write_atomic",
    "write_reports",
]
