"""Benchmark of the data gate: contract validation of a large CSV, and drift.

    python bench/data_bench.py                  # the issue's size: 10M rows x 12 columns (~1 GB)
    python bench/data_bench.py --rows 1000000   # a quicker run
    python bench/data_bench.py --rows 200000 --drift-rows 100000   # seconds

It generates the files (in --dir, default a temporary directory), then measures each step
in a child process, so every figure is that step's own: wall time and the peak resident
memory of the child (mlgate's `run_tool_measured`, the same code as the model gate's
memory budget).

1. chunked: mlgate's validation (`mlgate.tabular.contracts.validate_file`: pandera per
   chunk, uniqueness and row bounds over the whole file);
2. naive: `pandas.read_csv` of the whole file, then pandera's `schema.validate(lazy=True)`;
3. drift: mlgate's drift (`profile_file` on both files + `compare`) on two --drift-rows files.

The goal (issue 6): chunked peak memory under 1.5 GB and time within 1.5x of the naive load.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.errors
import pyarrow as pa
import pyarrow.csv as pacsv
from pandera.io import pandas_io

from mlgate.tabular.contracts import load_contract, validate_file
from mlgate.tabular.drift import DriftOptions, compare, profile_file
from mlgate.tabular.readers import ReadOptions
from mlgate.tools import run_tool_measured

COUNTRIES = ["DE", "FR", "IT", "ES", "NL", "BE", "PL", "SE", "AT", "PT"]
PLANS = ["free", "pro", "team"]
CONTRACT = """\
schema_type: dataframe
columns:
  id: {dtype: int64, unique: true}
  user: {dtype: str, checks: {str_matches: '^u[0-9]{8}$'}}
  age: {dtype: int64, checks: {in_range: {min_value: 18, max_value: 99}}}
  income: {dtype: float64, nullable: true, checks: {ge: 0}}
  score: {dtype: float64, checks: {in_range: {min_value: 0.0, max_value: 1.0}}}
  country: {dtype: str, checks: {isin: [DE, FR, IT, ES, NL, BE, PL, SE, AT, PT]}}
  plan: {dtype: str, checks: {isin: [free, pro, team]}}
  signup: {dtype: str, checks: {str_length: {min_value: 10, max_value: 10}}}
  active: {dtype: int64, checks: {isin: [0, 1]}}
  clicks: {dtype: int64, checks: {ge: 0}}
  ratio: {dtype: float64, checks: {le: 1.0}}
  email: {dtype: str, checks: {str_contains: '@'}}
metadata: {min_rows: 1}
"""
_BATCH = 500_000


# --- data ---------------------------------------------------------------------------------


def _batch(start: int, rows: int, rng: np.random.Generator, shift: float) -> pa.Table:
    ids = np.arange(start, start + rows)
    days = rng.integers(0, 3650, rows).astype("timedelta64[D]") + np.datetime64("2015-01-01")
    income = rng.lognormal(10 + shift, 0.5, rows)
    income[rng.random(rows) < 0.01] = np.nan
    return pa.table(
        {
            "id": ids,
            "user": pa.array(np.char.add("u", np.char.zfill(ids.astype(str), 8))),
            "age": rng.integers(18, 100, rows),
            "income": income,
            "score": rng.beta(2, 5 - shift, rows),
            "country": pa.array(np.array(COUNTRIES)[rng.integers(0, 10, rows)]),
            "plan": pa.array(np.array(PLANS)[rng.choice(3, rows, p=[0.6, 0.3, 0.1])]),
            "signup": pa.array(np.datetime_as_string(days, unit="D")),
            "active": rng.integers(0, 2, rows),
            "clicks": rng.poisson(5 + 3 * shift, rows),
            "ratio": rng.random(rows),
            "email": pa.array(np.char.add(np.char.add("user", ids.astype(str)), "@example.com")),
        }
    )


def generate(path: Path, rows: int, seed: int, shift: float = 0.0) -> float:
    """Write a CSV of `rows` rows in batches; returns its size in MB."""
    rng = np.random.default_rng(seed)
    first = _batch(0, min(rows, _BATCH), rng, shift)
    with pacsv.CSVWriter(str(path), first.schema) as writer:
        writer.write_table(first)
        for start in range(_BATCH, rows, _BATCH):
            writer.write_table(_batch(start, min(_BATCH, rows - start), rng, shift))
    return path.stat().st_size / 1e6


# --- the measured steps (run in a child process) ------------------------------------------


def step_chunked(csv: Path, contract: Path, chunk_rows: int) -> dict[str, Any]:
    report = validate_file(csv, "csv", load_contract(contract), ReadOptions(chunk_rows=chunk_rows))
    return {"rows": report.rows, "violations": len(report.violations)}


def step_naive(csv: Path, contract: Path) -> dict[str, Any]:
    schema = pandas_io.from_yaml(contract)
    frame = pd.read_csv(csv)
    try:
        schema.validate(frame, lazy=True)
        violations = 0
    except pandera.errors.SchemaErrors as exc:
        violations = len(exc.failure_cases)
    return {"rows": len(frame), "violations": violations}


def step_drift(reference: Path, current: Path) -> dict[str, Any]:
    options = DriftOptions()
    ref = profile_file(reference, "csv", ReadOptions(), options)
    cur = profile_file(current, "csv", ReadOptions(), options)
    drifted = [c.column for c in compare(ref, cur, options) if c.drifted]
    return {"rows": ref.rows + cur.rows, "drifted": drifted}


def child(argv: list[str]) -> None:
    started = time.perf_counter()
    name, *paths = argv
    if name == "chunked":
        result = step_chunked(Path(paths[0]), Path(paths[1]), int(paths[2]))
    elif name == "naive":
        result = step_naive(Path(paths[0]), Path(paths[1]))
    else:
        result = step_drift(Path(paths[0]), Path(paths[1]))
    result["seconds"] = time.perf_counter() - started
    print(json.dumps(result))


# --- the parent ---------------------------------------------------------------------------


def measure(*argv: str) -> dict[str, Any]:
    measured = run_tool_measured([sys.executable, __file__, "--child", *argv], timeout=7200)
    if not measured.run.ok or measured.run.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {measured.run.describe(2000)}")
    result: dict[str, Any] = json.loads(measured.run.stdout.strip().splitlines()[-1])
    result["peak_rss_mb"] = measured.peak_rss_mb or 0.0
    return result


def _row(name: str, result: dict[str, Any], size_mb: float) -> str:
    seconds = result["seconds"]
    speed = f"{size_mb / seconds:8.1f} MB/s {result['rows'] / seconds:12,.0f} rows/s"
    return f"{name:10} {seconds:8.1f} s {speed} {result['peak_rss_mb']:9.0f} MB peak RSS"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the contract CSV")
    parser.add_argument("--drift-rows", type=int, default=1_000_000, help="rows of each drift file")
    parser.add_argument("--chunk-rows", type=int, default=200_000, help="mlgate's chunk size")
    parser.add_argument("--dir", type=Path, help="where to write the files (default: a temp dir)")
    parser.add_argument(
        "--skip-naive", action="store_true", help="only mlgate's chunked validation"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlgate-bench-", dir=args.dir) as tmp:
        run(Path(tmp), args)


def run(work: Path, args: argparse.Namespace) -> None:
    contract = work / "contract.yml"
    contract.write_text(CONTRACT, encoding="utf-8")
    started = time.perf_counter()
    size = generate(work / "big.csv", args.rows, seed=1)
    took = time.perf_counter() - started
    print(f"generated {args.rows:,} rows x 12 columns, {size:,.0f} MB, in {took:.0f} s")
    chunked = measure("chunked", str(work / "big.csv"), str(contract), str(args.chunk_rows))
    print(_row("chunked", chunked, size), f"({chunked['violations']} violations)")
    if not args.skip_naive:
        naive = measure("naive", str(work / "big.csv"), str(contract))
        print(_row("naive", naive, size), f"({naive['violations']} failure cases)")
        print(
            f"ratios     time chunked/naive {chunked['seconds'] / naive['seconds']:.2f}x, "
            f"peak RSS chunked/naive {chunked['peak_rss_mb'] / naive['peak_rss_mb']:.2f}x"
        )
    (work / "big.csv").unlink()
    ref_size = generate(work / "reference.csv", args.drift_rows, seed=2)
    generate(work / "current.csv", args.drift_rows, seed=3, shift=0.3)
    drift = measure("drift", str(work / "reference.csv"), str(work / "current.csv"))
    print(
        _row("drift", drift, 2 * ref_size),
        f"(2 files x {args.drift_rows:,} rows; drifted: {', '.join(drift['drifted'])})",
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    else:
        main()
