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
from typing import TYPE_CHECKING, Any

from mlgate.errors import ReportError
from mlgate.resources import schema_path
from mlgate.schemacheck import cached_checker

if TYPE_CHECKING:
    import jsonschema


@functools.cache
def _schema_text(name: str) -> str:
    return schema_path(name).read_text(encoding="utf-8")


@functools.cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    import jsonschema  # noqa: PLC0415 (1-2 s to import: only for an input with an error)

    return jsonschema.Draft202012Validator(json.loads(_schema_text(name)))


def validate_input(path: Path, data: Any, kind: str) -> Mapping[str, Any]:
    """`data` read from `path`, checked against the `kind` schema (`report`, `receipt`).

    A valid input is recognised by `schemacheck` (a merged report of 50,000 findings: under
    a second, where jsonschema takes a minute); jsonschema explains an invalid one."""
    check = cached_checker(_schema_text(kind))
    if check is not None and check(data):
        return data  # type: ignore[no-any-return]
    import jsonschema  # noqa: PLC0415

    error = jsonschema.exceptions.best_match(_validator(kind).iter_errors(data))
    if error is None:
        return data  # type: ignore[no-any-return]
    field = "/".join(str(p) for p in error.absolute_path) or "(top level)"
    message = error.message if len(error.message) <= 200 else error.message[:199] + "…"
    raise ReportError(f"{path}: not a valid mlgate {kind}: field {field}: {message}")


__all__ = ["validate_input"]
