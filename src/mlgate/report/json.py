"""json: the full result. `mlgate merge` reads it back."""

from __future__ import annotations

from mlgate.report.base import Report, dump_json

FILENAME = "mlgate.json"


class JsonFormat:
    name = "json"
    weight = 1.0

    def render(self, report: Report, color: bool = False) -> str:
        return dump_json(report.to_dict(encoded=True), depth=2)  # one finding per line

    def files(self, report: Report) -> dict[str, str]:
        return {FILENAME: self.render(report)}
