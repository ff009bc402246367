"""Report formats: one module each, registered here."""

from __future__ import annotations

from mlgate.report.base import Report, ReportFormat
from mlgate.report.json import JsonFormat
from mlgate.report.text import TextFormat

FORMATS: dict[str, ReportFormat] = {fmt.name: fmt for fmt in (TextFormat(), JsonFormat())}

__all__ = ["FORMATS", "Report", "ReportFormat"]
