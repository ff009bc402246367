"""Read CSV, Parquet and JSONL files in chunks, so memory stays bounded whatever the file size.

Every chunk is a pandas DataFrame whose index is the 0-based row number in the file.
Anything wrong with the file itself (a ragged row, bytes that are not in the encoding,
a corrupt Parquet footer) surfaces as a ReadError naming the file and the reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mlgate.tabular import DataError

FORMATS = ("csv", "parquet", "jsonl")
_SUFFIXES = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_COMPRESSION = (".gz", ".bz2", ".xz", ".zst", ".zip")


class ReadError(DataError):
    """The file's content could not be read as the format says."""


@dataclass(frozen=True)
class ReadOptions:
    chunk_rows: int = 200_000
    encoding: str = "utf-8"
    columns: Sequence[str] | None = None  # None: every column
    text_columns: Sequence[str] = ()  # CSV: these hold text even where they look like numbers


def detect_format(path: str, explicit: str | None = None) -> str:
    """csv, parquet or jsonl: the explicit choice, else from the suffix (`.csv.gz` is csv)."""
    if explicit:
        return explicit
    name = path.lower()
    for suffix in _COMPRESSION:
        name = name.removesuffix(suffix)
    found = _SUFFIXES.get(Path(name).suffix)
    if found is None:
        raise DataError(f"{path}: unknown data format (say `format: csv|parquet|jsonl`)")
    return found


def iter_chunks(path: Path, fmt: str, options: ReadOptions) -> Iterator[pd.DataFrame]:
    """The file's rows, `options.chunk_rows` at a time; ReadError for unreadable content."""
    readers = {"csv": _csv_chunks, "parquet": _parquet_chunks, "jsonl": _jsonl_chunks}
    offset = 0
    try:
        for chunk in readers[fmt](path, options):
            chunk.index = pd.RangeIndex(offset, offset + len(chunk))
            offset += len(chunk)
            yield chunk
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ReadError(f"{path.name}: not valid CSV: {_one_line(exc)}") from None
    except UnicodeDecodeError as exc:
        raise ReadError(
            f"{path.name}: not valid {options.encoding} text near byte {exc.start} "
            f"(set `encoding:` for this dataset if the file uses another encoding)"
        ) from None
    except (pa.ArrowException, json.JSONDecodeError, ValueError, OSError) as exc:
        raise ReadError(f"{path.name}: cannot read as {fmt}: {_one_line(exc)}") from None


def _csv_chunks(path: Path, options: ReadOptions) -> Iterator[pd.DataFrame]:
    wanted = set(options.columns) if options.columns is not None else None
    reader = pd.read_csv(
        path,
        chunksize=options.chunk_rows,
        encoding=options.encoding,
        encoding_errors="strict",
        usecols=(lambda c: c in wanted) if wanted is not None else None,
    )
    with reader:
        for chunk in reader:
            yield _as_text(chunk, options.text_columns)


def _as_text(chunk: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Text columns that looked numeric in this chunk, as text again.

    Forcing `dtype=str` on read_csv makes parsing 2-3x slower, so a chunk is parsed with
    inference and only a text column that came out as numbers is converted (as pandera's
    `coerce` would). A digit string's leading zeros are lost in such a chunk.
    """
    for name in columns:
        if name in chunk.columns and not pd.api.types.is_string_dtype(chunk[name]):
            chunk[name] = chunk[name].astype(str).where(chunk[name].notna(), None)
    return chunk


def _parquet_chunks(path: Path, options: ReadOptions) -> Iterator[pd.DataFrame]:
    parquet = pq.ParquetFile(path)
    names = parquet.schema_arrow.names
    columns = names if options.columns is None else [c for c in names if c in options.columns]
    for batch in parquet.iter_batches(batch_size=options.chunk_rows, columns=columns):
        yield batch.to_pandas()


def _jsonl_chunks(path: Path, options: ReadOptions) -> Iterator[pd.DataFrame]:
    reader = pd.read_json(
        path,
        lines=True,
        chunksize=options.chunk_rows,
        encoding=options.encoding,
        encoding_errors="strict",
    )
    with reader:
        for chunk in reader:
            yield (
                chunk
                if options.columns is None
                else chunk[[c for c in chunk.columns if c in options.columns]]
            )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:400]
