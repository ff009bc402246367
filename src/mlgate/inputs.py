"""Inputs from other runs: json reports (`merge`) and receipts (`verify`).

Each is validated against its published JSON Schema (`mlgate/schemas/report.schema.json`,
`receipt.schema.json`) before any field is used, so a field of the wrong type is a
ReportError (exit 2) naming the file and the field, never an internal error.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema

from mlgate.errors import ReportError
from mlgate.resources import schema_path


@functools.cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads(schema_path(name).read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def validate_input(path: Path, data: Any, kind: str) -> Mapping[str, Any]:
    """`data` read from `path`, checked against the `kind` schema (`report`, `receipt`)."""
    error = jsonschema.exceptions.best_match(_validator(kind).iter_errors(data))
    if error is None:
        return data  # type: ignore[no-any-return]
    field = "/".join(str(p) for p in error.absolute_path) or "(top level)"
    message = error.message if len(error.message) <= 200 else error.message[:199] + "…"
    raise ReportError(f"{path}: not a valid mlgate {kind}: field {field}: {message}")


__all__ = ["validate_input"]
