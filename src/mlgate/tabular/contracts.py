"""Data contracts: pandera's own YAML schema format, validated chunk by chunk.

pandera validates each chunk (lazily, so every failing check is collected). What a single
chunk cannot see is checked across the whole file here: uniqueness (of a column or of the
schema's `unique:` column set, by hashing each row's key) and the row-count bounds, which
the contract states in pandera's free-form `metadata:` as `min_rows` / `max_rows`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pandera.errors
import pandera.pandas as pa
from pandera.io import pandas_io

from mlgate.tabular import DataError
from mlgate.tabular.readers import ReadOptions, iter_chunks
from mlgate.yamlimport import yaml

MAX_SAMPLES = 5
_SAMPLE_CHARS = 80
_TEXT_DTYPES = frozenset({"str", "string", "string[python]", "string[pyarrow]", "object"})
UNIQUE_CHECK = "field_uniqueness"


class ContractError(DataError):
    """The contract is not a valid pandera YAML schema (or cannot be read)."""


@dataclass(frozen=True)
class Contract:
    schema: pa.DataFrameSchema  # uniqueness removed: it is checked over the whole file instead
    unique_sets: tuple[tuple[str, ...], ...]
    min_rows: int | None
    max_rows: int | None
    text_columns: tuple[str, ...]  # columns the contract says hold text: read them as text


@dataclass
class Violation:
    """One failing check on one column, over the whole file."""

    column: str | None
    check: str
    count: int = 0  # failing rows; for a schema-level failure (dtype, missing column): 1
    rows: bool = True  # False: a schema-level failure, not about particular rows
    first_row: int | None = None  # 0-based row in the file
    samples: list[str] = field(default_factory=list)

    def add(self, count: int, first_row: int | None, samples: Iterable[str]) -> None:
        self.count += count
        if first_row is not None and (self.first_row is None or first_row < self.first_row):
            self.first_row = first_row
        for sample in samples:
            if len(self.samples) >= MAX_SAMPLES:
                break
            if sample not in self.samples:
                self.samples.append(sample)


@dataclass(frozen=True)
class ContractReport:
    rows: int
    violations: tuple[Violation, ...]


# --- loading ------------------------------------------------------------------------------


def load_contract(path: Path) -> Contract:
    """Read a pandera YAML schema (`pandera.io.pandas_io.from_yaml`); ContractError if invalid."""
    try:
        schema = pandas_io.from_yaml(path)
    except FileNotFoundError:
        raise ContractError(f"{path.name}: contract file not found") from None
    except yaml.YAMLError as exc:
        raise ContractError(f"{path.name}: not valid YAML: {_one_line(exc)}") from None
    except Exception as exc:  # pandera raises many types for a schema it cannot build
        raise ContractError(
            f"{path.name}: not a valid pandera YAML schema: {type(exc).__name__}: {_one_line(exc)}"
        ) from None
    if not schema.columns:
        raise ContractError(f"{path.name}: not a valid pandera YAML schema: no `columns:`")
    return _split_uniqueness(path, schema)


def _split_uniqueness(path: Path, schema: pa.DataFrameSchema) -> Contract:
    unique_columns = [name for name, col in schema.columns.items() if col.unique]
    frame_unique = schema.unique
    sets: list[tuple[str, ...]] = [(str(name),) for name in unique_columns]
    if frame_unique:
        sets.append(
            tuple(
                str(c) for c in ([frame_unique] if isinstance(frame_unique, str) else frame_unique)
            )
        )
    chunk_schema = copy.deepcopy(schema)
    if unique_columns:
        chunk_schema = chunk_schema.update_columns(
            {name: {"unique": False} for name in unique_columns}
        )
    chunk_schema.unique = None
    metadata = schema.metadata or {}
    text = tuple(str(n) for n, c in schema.columns.items() if str(c.dtype) in _TEXT_DTYPES)
    return Contract(
        schema=chunk_schema,
        unique_sets=tuple(sets),
        min_rows=_bound(path, metadata, "min_rows"),
        max_rows=_bound(path, metadata, "max_rows"),
        text_columns=text,
    )


def _bound(path: Path, metadata: dict[str, Any], key: str) -> int | None:
    value = metadata.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ContractError(
            f"{path.name}: metadata.{key} must be a whole number >= 0, not {value!r}"
        )
    return value


# --- validation ---------------------------------------------------------------------------


def validate_file(path: Path, fmt: str, contract: Contract, options: ReadOptions) -> ContractReport:
    """Validate every chunk, then uniqueness and row bounds over the file. ReadError propagates."""
    found: dict[tuple[str | None, str], Violation] = {}
    hashes: dict[tuple[str, ...], list[npt.NDArray[np.uint64]]] = {
        s: [] for s in contract.unique_sets
    }
    rows = 0
    read = ReadOptions(options.chunk_rows, options.encoding, options.columns, contract.text_columns)
    for chunk in iter_chunks(path, fmt, read):
        rows += len(chunk)
        _validate_chunk(contract.schema, chunk, found)
        for key, parts in hashes.items():
            if all(c in chunk.columns for c in key):
                parts.append(_row_hashes(chunk, key))
    for key, parts in hashes.items():
        _check_unique(path, fmt, read, key, parts, found)
    _check_rows(contract, rows, found)
    return ContractReport(rows, tuple(found.values()))


def _validate_chunk(
    schema: pa.DataFrameSchema, chunk: pd.DataFrame, found: dict[tuple[str | None, str], Violation]
) -> None:
    try:
        schema.validate(chunk, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        _collect(exc.failure_cases, found)
    except pandera.errors.SchemaError as exc:
        _violation(found, None, f"schema: {_one_line(exc)}", rows=False).add(1, None, ())
    except Exception as exc:  # a check that crashed on this data is a failed check, not a pass
        _violation(
            found, None, f"check error: {type(exc).__name__}: {_one_line(exc)}", rows=False
        ).add(1, None, ())


def _collect(cases: pd.DataFrame, found: dict[tuple[str | None, str], Violation]) -> None:
    """Fold one chunk's failure cases into per-(column, check) violations, vectorised."""
    for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
        index = pd.to_numeric(group["index"], errors="coerce").dropna()
        col = None if _missing(column) else str(column)
        row_level = not index.empty
        violation = _violation(found, col, str(check), rows=row_level)
        samples = group["failure_case"].drop_duplicates().head(MAX_SAMPLES).tolist()
        count = len(index) if row_level else 1
        violation.add(count, int(index.min()) if row_level else None, [_sample(s) for s in samples])


def _violation(
    found: dict[tuple[str | None, str], Violation], column: str | None, check: str, rows: bool
) -> Violation:
    key = (column, check)
    if key not in found:
        found[key] = Violation(column, check, rows=rows)
    return found[key]


def _row_hashes(chunk: pd.DataFrame, key: Sequence[str]) -> npt.NDArray[np.uint64]:
    return pd.util.hash_pandas_object(chunk[list(key)], index=False).to_numpy(dtype=np.uint64)


def _check_unique(
    path: Path,
    fmt: str,
    read: ReadOptions,
    key: tuple[str, ...],
    parts: list[npt.NDArray[np.uint64]],
    found: dict[tuple[str | None, str], Violation],
) -> None:
    """Duplicated keys over the whole file; a second pass over the key columns finds samples."""
    if not parts:
        return
    everything = np.concatenate(parts)
    ordered = np.sort(everything)
    repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    if repeated.size == 0:
        return
    failing = int(np.isin(everything, repeated).sum())
    violation = _violation(found, ",".join(key), UNIQUE_CHECK, rows=True)
    violation.count += failing
    columns_only = ReadOptions(read.chunk_rows, read.encoding, list(key), read.text_columns)
    for chunk in iter_chunks(path, fmt, columns_only):
        hit = np.isin(_row_hashes(chunk, key), repeated)
        if not hit.any():
            continue
        rows = chunk.loc[hit, list(key)]
        samples = [
            ", ".join(_sample(v) for v in row) for row in rows.head(50).itertuples(index=False)
        ]
        violation.add(0, int(rows.index[0]), samples)
        if len(violation.samples) >= MAX_SAMPLES:
            break


def _check_rows(
    contract: Contract, rows: int, found: dict[tuple[str | None, str], Violation]
) -> None:
    if contract.min_rows is not None and rows < contract.min_rows:
        _violation(found, None, f"min_rows({contract.min_rows})", rows=False).add(
            1, None, [str(rows)]
        )
    if contract.max_rows is not None and rows > contract.max_rows:
        _violation(found, None, f"max_rows({contract.max_rows})", rows=False).add(
            1, None, [str(rows)]
        )


def _missing(value: Any) -> bool:
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


def _sample(value: Any) -> str:
    if _missing(value):
        return "null"
    text = str(value)
    return text if len(text) <= _SAMPLE_CHARS else text[: _SAMPLE_CHARS - 1] + "…"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:400]
