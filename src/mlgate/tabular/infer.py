"""`mlgate data infer`: a starting contract from an existing file (pandera's infer_schema)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandera.pandas as pa
from pandera.io import pandas_io

from mlgate.tabular import DataError
from mlgate.tabular.readers import ReadOptions, detect_format, iter_chunks
from mlgate.yamlimport import yaml

_TEXT = frozenset({"string", "string[python]", "string[pyarrow]", "object"})


def infer_contract(
    path: Path, fmt: str | None = None, rows: int = 100_000, encoding: str = "utf-8"
) -> str:
    """A pandera YAML schema inferred from the first `rows` rows of the file, with a header.

    The inferred checks (value ranges) describe the sample; review them before committing.
    Text dtypes are written as `str`, which pandas 2 and 3 both read.
    """
    kind = detect_format(path.name, fmt)
    first = next(iter_chunks(path, kind, ReadOptions(chunk_rows=rows, encoding=encoding)), None)
    if first is None or first.empty:
        raise DataError(f"{path}: no rows to infer a contract from")
    schema = pa.infer_schema(first)
    document = yaml.safe_load(pandas_io.to_yaml(schema))
    return _header(path, len(first)) + yaml.safe_dump(
        _tidy(document), sort_keys=False, allow_unicode=True
    )


def _tidy(document: dict[str, Any]) -> dict[str, Any]:
    document.pop("index", None)  # a file's row numbers are not data
    for column in (document.get("columns") or {}).values():
        if isinstance(column, dict) and str(column.get("dtype")) in _TEXT:
            column["dtype"] = "str"
    return document


def _header(path: Path, rows: int) -> str:
    return (
        f"# Data contract for {path.name}: a pandera YAML schema inferred by `mlgate data infer`\n"
        f"# from its first {rows} rows. Review it: the ranges describe that sample. Add checks\n"
        "# (isin, str_matches, unique: true, ...) and row-count bounds as\n"
        "#   metadata: {min_rows: N, max_rows: M}\n"
    )
