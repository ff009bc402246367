#!/usr/bin/env python3
"""Sizes that used to break gates (issue 12, class 5), measured end to end with real tools.

    python bench/limits.py [--only files|findings|report]... [--files N] [--findings N]
                          [--report-mb N] [--work DIR]

- files: a tree of N text files (default 50,000) under long paths, scanned by the secrets
  gate (real detect-secrets: its arguments are batched under the OS limit on a command line;
  before, one command line with every path failed with "Argument list too long");
- findings: a repository with N findings (default 10,000: 100 files of 100 `eval(...)`
  lines), `mlgate run . sast` with real bandit and semgrep (goal: well under a minute);
- report: a json report of about N MB (default 100) given to `mlgate merge` (goal: < 100 s).

Prints a markdown table (seconds, exit code, goal). Run it with the interpreter of the
environment that has mlgate and the tools (`.venv/bin/python bench/limits.py`). Not part of
the test suite: `tests/hostile/test_scale.py` checks the same properties at test sizes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

GOALS = {"files": None, "findings": 60.0, "report": 100.0}


def make_files(root: Path, count: int) -> None:
    for index in range(count):
        path = root / "datasets" / "raw" / f"partition_{index % 100:03d}" / f"rec_{index:06d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"record {index}\n", encoding="utf-8")


def make_findings(root: Path, count: int) -> None:
    per_file = 100
    for index in range(max(1, count // per_file)):
        lines = [f"def f{index}(x):"] + [f"    eval(x + '{n}')" for n in range(per_file)]
        (root / f"module_{index:04d}.py").write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_report(path: Path, megabytes: int) -> int:
    """A json report of about `megabytes` MB; returns its number of findings."""
    from mlgate.findings import Finding, Severity, assign_fingerprints  # noqa: PLC0415

    count = megabytes * 1_000_000 // 900
    severities = (Severity.HIGH, Severity.MEDIUM, Severity.LOW)
    findings = assign_fingerprints(
        [
            Finding(
                gate="sast",
                tool="bandit",
                rule_id=f"B{300 + i % 40}",
                severity=severities[i % 3],
                message=f"finding {i}: " + "x" * 300,
                path=f"pkg/sub/module_{i % 2000}.py",
                line=i % 900 + 1,
                cwe="CWE-502",
                properties={"note": "v" * 50},
            )
            for i in range(count)
        ],
        {},
    )
    report = {
        "schema_version": 1,
        "mlgate_version": _version(),
        "root": "/bench",
        "commit": "a" * 40,
        "git": True,
        "env": None,
        "policy": {"source": "default", "digest": "x"},
        "mode": {"kind": "full"},
        "started_at": "2026-01-01T00:00:00+00:00",
        "seconds": 1.0,
        "decision": {"passed": False, "exit_code": 1, "violations": [], "warnings": []},
        "gates": [
            {
                "name": "sast",
                "status": "fail",
                "required": True,
                "reasons": [],
                "tools": {"bandit": "bench"},
                "seconds": 1.0,
                "files_scanned": 2000,
                "findings": count,
                "errors": [],
                "skipped": None,
                "notes": [],
                "properties": {},
            }
        ],
        "findings": [f.to_dict() for f in findings],
        "notes": [],
    }
    path.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return count


def _version() -> str:
    from mlgate import __version__  # noqa: PLC0415

    return __version__


def mlgate(args: list[str], cwd: Path) -> tuple[float, int, str]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "mlgate", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    return time.monotonic() - started, done.returncode, done.stderr[-300:]


def bench_files(work: Path, size: int) -> dict[str, Any]:
    root = work / "files"
    make_files(root, size)
    seconds, code, _ = mlgate(["run", ".", "secrets", "--no-cache", "-q"], root)
    return {"what": f"secrets gate over {size:,} files", "seconds": seconds, "exit": code}


def bench_findings(work: Path, size: int) -> dict[str, Any]:
    root = work / "findings"
    root.mkdir()
    make_findings(root, size)
    args = ["run", ".", "sast", "--no-cache", "-q", "--format", "json", "--output", "out"]
    seconds, code, _ = mlgate(args, root)
    data = json.loads((root / "out" / "mlgate.json").read_text(encoding="utf-8"))
    what = f"sast with {len(data['findings']):,} findings"
    return {"what": what, "seconds": seconds, "exit": code}


def bench_report(work: Path, size: int) -> dict[str, Any]:
    report = work / "big.json"
    count = make_report(report, size)
    megabytes = report.stat().st_size / 1e6
    args = ["merge", str(report), "--format", "json", "--output", "out"]
    seconds, code, _ = mlgate(args, work)
    what = f"merge of a {megabytes:.0f} MB report ({count:,} findings)"
    return {"what": what, "seconds": seconds, "exit": code}


BENCHES: dict[str, tuple[Callable[[Path, int], dict[str, Any]], str]] = {
    "files": (bench_files, "files"),
    "findings": (bench_findings, "findings"),
    "report": (bench_report, "report_mb"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=sorted(BENCHES))
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--findings", type=int, default=10_000)
    parser.add_argument("--report-mb", type=int, default=100)
    parser.add_argument("--work", type=Path, help="keep the generated trees here")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="mlgate-bench-scale-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for name in args.only or list(BENCHES):
            bench, size_arg = BENCHES[name]
            print(f"running {name}...", file=sys.stderr)
            rows.append((name, bench(work, getattr(args, size_arg))))
    print("| case | seconds | exit | goal |")
    print("|---|---|---|---|")
    for name, row in rows:
        goal = GOALS[name]
        verdict = "—" if goal is None else ("PASS" if row["seconds"] < goal else "MISS")
        goal_text = "no error" if goal is None else f"< {goal:g} s"
        print(f"| {row['what']} | {row['seconds']:.1f} | {row['exit']} | {goal_text}: {verdict} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
