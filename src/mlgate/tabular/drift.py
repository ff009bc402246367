"""Per-column drift between a reference dataset and the current one.

Numeric columns: the two-sample Kolmogorov-Smirnov test (scipy) and the population stability
index over the reference's quantile bins. Categorical columns (text, bool, category): the
population stability index over the categories, nulls counted as a category of their own.

Both files are read in chunks. Category counts are exact; numeric columns keep a uniform
random sample of at most `sample_rows` rows (every row gets a random key, the smallest
keys are kept), so memory stays bounded on large files. A categorical column with more
distinct values than `max_categories` (an identifier, free text) is not compared.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from mlgate.tabular.readers import ReadOptions, iter_chunks

NULL = "<null>"
_EPSILON = 1e-4  # floor for an empty bin's share, so the PSI stays finite
_SEED = 20240601  # fixed: the same files give the same sample and the same statistics

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DriftOptions:
    psi: float = 0.2  # drifted when the PSI is above this
    ks_pvalue: float = 0.01  # drifted when the KS p-value is below this (0: never)
    bins: int = 10
    max_categories: int = 50
    sample_rows: int = 1_000_000
    columns: tuple[str, ...] | None = None  # None: every column both files have
    exclude: tuple[str, ...] = ()


@dataclass
class ColumnProfile:
    kind: str  # numeric or categorical
    rows: int = 0
    counts: Counter[str] | None = field(default_factory=Counter)  # None: too many categories


@dataclass
class Profile:
    """What drift needs of one file: row count, per-column counts and a numeric sample."""

    rows: int = 0
    columns: dict[str, ColumnProfile] = field(default_factory=dict)
    sample: pd.DataFrame | None = None  # numeric columns, at most sample_rows rows
    keys: FloatArray | None = None  # the random key of each sampled row


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    kind: str
    drifted: bool
    psi: float | None = None
    ks_statistic: float | None = None
    ks_pvalue: float | None = None
    note: str | None = None  # why the column was not compared

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "drifted": self.drifted,
            "psi": _round(self.psi),
            "ks_statistic": _round(self.ks_statistic),
            "ks_pvalue": _round(self.ks_pvalue),
            "note": self.note,
        }


# --- profiling ----------------------------------------------------------------------------


def profile_file(path: Path, fmt: str, read: ReadOptions, options: DriftOptions) -> Profile:
    profile = Profile()
    rng = np.random.default_rng(_SEED)
    for chunk in iter_chunks(path, fmt, read):
        frame = _select(chunk, options)
        profile.rows += len(frame)
        _count_categories(profile, frame, options.max_categories)
        _sample_numbers(profile, frame, rng, options.sample_rows)
    return profile


def _select(chunk: pd.DataFrame, options: DriftOptions) -> pd.DataFrame:
    names = [c for c in chunk.columns if c not in options.exclude]
    if options.columns is not None:
        names = [c for c in names if c in options.columns]
    selected: pd.DataFrame = chunk.loc[:, names]
    return selected


def _kind(series: pd.Series[Any]) -> str:
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    return "numeric" if numeric else "categorical"


def _count_categories(profile: Profile, frame: pd.DataFrame, limit: int) -> None:
    for name in frame.columns:
        column = profile.columns.setdefault(str(name), ColumnProfile(_kind(frame[name])))
        column.rows += len(frame)
        if column.kind != "categorical" or column.counts is None:
            continue
        counts = frame[name].value_counts(dropna=False)
        if len(counts) > limit:
            column.counts = None  # an identifier or free text: not comparable by category
            continue
        for value, count in counts.items():
            column.counts[NULL if _missing(value) else str(value)] += int(count)
        if len(column.counts) > limit:
            column.counts = None


def _missing(value: Any) -> bool:
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


def _sample_numbers(
    profile: Profile, frame: pd.DataFrame, rng: np.random.Generator, limit: int
) -> None:
    names = [n for n in frame.columns if profile.columns[str(n)].kind == "numeric"]
    if not names:
        return
    numbers = frame[names].apply(pd.to_numeric, errors="coerce").astype("float64")
    numbers.columns = [str(n) for n in names]
    keys = rng.random(len(numbers))
    if profile.sample is not None and profile.keys is not None:
        numbers = pd.concat([profile.sample, numbers], ignore_index=True)
        keys = np.concatenate([profile.keys, keys])
    if len(keys) > limit:
        keep = np.sort(np.argpartition(keys, limit)[:limit])
        numbers, keys = numbers.iloc[keep].reset_index(drop=True), keys[keep]
    profile.sample, profile.keys = numbers.reset_index(drop=True), keys


# --- comparing ----------------------------------------------------------------------------


def compare(reference: Profile, current: Profile, options: DriftOptions) -> list[ColumnDrift]:
    """One result per reference column, drifted or not, in the reference's column order."""
    return [_compare_column(name, reference, current, options) for name in reference.columns]


def _compare_column(
    name: str, reference: Profile, current: Profile, options: DriftOptions
) -> ColumnDrift:
    ref = reference.columns[name]
    cur = current.columns.get(name)
    if cur is None:
        return ColumnDrift(name, ref.kind, False, note="not in the current dataset")
    if ref.kind == "numeric" and cur.kind == "numeric":
        return _numeric(name, _values(reference, name), _values(current, name), options)
    if ref.counts is None or cur.counts is None:
        return ColumnDrift(
            name, "categorical", False, note=f"more than {options.max_categories} distinct values"
        )
    psi = _psi_counts(ref.counts, cur.counts)
    return ColumnDrift(name, "categorical", psi > options.psi, psi=psi)


def _values(profile: Profile, name: str) -> FloatArray:
    if profile.sample is None or name not in profile.sample:
        return np.empty(0, dtype=np.float64)
    values: FloatArray = profile.sample[name].to_numpy(dtype=np.float64)
    kept: FloatArray = values[~np.isnan(values)]
    return kept


def _numeric(name: str, ref: FloatArray, cur: FloatArray, options: DriftOptions) -> ColumnDrift:
    if ref.size == 0 or cur.size == 0:
        return ColumnDrift(name, "numeric", False, note="no values to compare")
    result = stats.ks_2samp(ref, cur)
    statistic, pvalue = float(result.statistic), float(result.pvalue)
    psi = _psi_numeric(ref, cur, options.bins)
    drifted = psi > options.psi or pvalue < options.ks_pvalue
    return ColumnDrift(name, "numeric", drifted, psi=psi, ks_statistic=statistic, ks_pvalue=pvalue)


def _psi_numeric(ref: FloatArray, cur: FloatArray, bins: int) -> float:
    """PSI over the reference's quantile bins (ties merged, so discrete columns work too)."""
    inner = np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1])
    edges = np.unique(inner)
    ref_counts = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=edges.size + 1)
    cur_counts = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=edges.size + 1)
    return _psi(ref_counts.astype(np.float64), cur_counts.astype(np.float64))


def _psi_counts(ref: Counter[str], cur: Counter[str]) -> float:
    categories = sorted(set(ref) | set(cur))
    ref_counts = np.array([ref.get(c, 0) for c in categories], dtype=np.float64)
    cur_counts = np.array([cur.get(c, 0) for c in categories], dtype=np.float64)
    return _psi(ref_counts, cur_counts)


def _psi(ref_counts: FloatArray, cur_counts: FloatArray) -> float:
    ref_share = np.clip(ref_counts / max(ref_counts.sum(), 1.0), _EPSILON, None)
    cur_share = np.clip(cur_counts / max(cur_counts.sum(), 1.0), _EPSILON, None)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.6g}")
