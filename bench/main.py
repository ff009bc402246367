"""Command line of the benchmark (`python -m bench`, `python bench/bench.py`)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.common import CORPORA, DEFAULT_SDIST, log
from bench.corpora import Corpus, build_examples, build_sdist, build_synthetic
from bench.environment import Env, default_advisory_db, discover, snapshot_source
from bench.measuring import measure
from bench.results import CorpusResult, corpus_header, markdown, to_json
from bench.speed import measure_lines, table

# --- main ---------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--repeat", type=int, default=3, metavar="N", help="runs per measurement (median)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a synthetic corpus 1/10 the size (smoke runs)"
    )
    parser.add_argument("--corpus", choices=(*CORPORA, "all"), default="all")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write every number here")
    parser.add_argument(
        "--sdist",
        default=DEFAULT_SDIST,
        metavar="NAME==VERSION",
        help=f"the real library for the sdist corpus (default: {DEFAULT_SDIST})",
    )
    parser.add_argument(
        "--advisory-db",
        type=Path,
        default=None,
        metavar="DIR",
        help="OSV database for the deps gate (default: $MLGATE_ADVISORY_DB, examples/advisory-db)",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mlgate-bench",
        metavar="DIR",
        help="keeps the downloaded sdist between runs (default: ~/.cache/mlgate-bench)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="before each repetition, wait up to this long for other work to leave the CPUs "
        "idle (default: 120; 0: do not wait)",
    )
    parser.add_argument(
        "--snapshot",
        action="store_true",
        help="measure a frozen copy of this checkout's src/ and policies/ (PYTHONPATH), so "
        "that edits made while the benchmark runs do not change what it measures",
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated corpora")
    parser.add_argument(
        "--large-files",
        type=int,
        default=20_000,
        metavar="N",
        help="Python files of the generated corpus for the sharding line (default: 20,000)",
    )
    parser.add_argument(
        "--no-speed-lines",
        action="store_true",
        help="skip the start-up, many-findings, merge and sharding lines (bench/speed.py)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def build(name: str, tmp: Path, args: argparse.Namespace) -> Corpus:
    if name == "examples":
        return build_examples(tmp)
    if name == "synthetic":
        return build_synthetic(tmp, args.quick)
    return build_sdist(tmp, args.work, args.sdist)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="mlgate-bench-"))
    try:
        return run_benchmark(args, tmp)
    finally:
        if args.keep:
            log(f"corpora kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run_benchmark(args: argparse.Namespace, tmp: Path) -> int:
    db = args.advisory_db.resolve() if args.advisory_db else default_advisory_db()
    env = discover(db, snapshot_source(tmp) if args.snapshot else None)
    if not env.gates:
        log("mlgate has none of the benchmarked gates: nothing to measure")
        return 2
    if db is None:
        log("no offline advisory database: the deps gate will ask pip-audit online")
    warm_bytecode(env, tmp)
    names = CORPORA if args.corpus == "all" else (args.corpus,)
    results: list[CorpusResult] = []
    for name in names:
        log(f"preparing the {name} corpus")
        try:
            corpus = build(name, tmp, args)
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            log(f"{name}: corpus n/a: {exc}")
            continue
        log(corpus_header(CorpusResult(corpus, [])))
        scratch = tmp / f"scratch-{name}"
        scratch.mkdir()
        result = CorpusResult(corpus, measure(env, corpus, args.repeat, scratch, args.settle))
        result.compute()
        results.append(result)
    if not results:
        log("no corpus could be prepared")
        return 2
    lines = [] if args.no_speed_lines else measure_lines(env, tmp, args.quick, args.large_files)
    print(markdown(env, results, args.repeat, args.quick))
    if lines:
        print("\n" + table(lines))
    if args.json:
        data = to_json(env, results, args.repeat, args.quick)
        data["speed_lines"] = [dataclasses.asdict(line) for line in lines]
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return 0


def warm_bytecode(env: Env, tmp: Path) -> None:
    """Compile mlgate's modules once, as `pip install` does, so no measured run pays for it
    (an environment with PYTHONDONTWRITEBYTECODE would otherwise compile every module on
    every start: ~0.1 s of CPU for click alone on the reference machine)."""
    probe = "import mlgate.cli, mlgate.gates, mlgate.report, mlgate.runner, mlgate.merge"
    subprocess.run(
        [env.python, "-c", probe], env=env.child_env(), cwd=tmp, check=False, timeout=600
    )
