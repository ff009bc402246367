"""json: the full result. `mlgate merge` reads it back."""

from __future__ import annotations

import json

from mlgate.report.base import Report

FILENAME = "mlgate.json"


class JsonFormat:
    name = "json"

    def render(self, report: Report, color: bool = False) -> str:
        return json.dumps(report.to_dict(), indent=2, sort_keys=False) + "\n"

    def files(self, report: Report) -> dict[str, str]:
        return {FILENAME: self.render(report)}
