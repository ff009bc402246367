#!/usr/bin/env python3
"""The rule-pack prefilter against real code: does it ever skip a file semgrep reports?

    python bench/prefilter_soundness.py DIR [DIR ...]

For each directory (an unpacked sdist, a repository), runs the pinned semgrep once over it with
the rule pack (`semgrep scan --experimental`, every file semgrep itself selects) and prints one
markdown row: files scanned, findings, files with findings, the files the prefilter
(`mlgate.rulepack_prefilter`) would let sast skip, and the files with findings among those
(must be none: such a file is a finding the prefilter would lose). Exit 1 when there is one.

Not part of the test suite (it needs code from outside the repository);
`tests/test_rulepack_prefilter.py` checks the same property against the rule pack's own tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlgate import toolenv
from mlgate.resources import rule_pack_dir
from mlgate.rulepack_prefilter import RuleFilter, may_match, pack_filters

HEADER = (
    "| corpus | files scanned | findings | files with findings | prefilter skips | "
    "skipped files with findings |\n|---|---|---|---|---|---|"
)


def _semgrep(root: Path) -> dict[str, Any]:
    exe = toolenv.executable("semgrep")
    if exe is None:
        raise SystemExit("the pinned semgrep is not installed: mlgate tools install")
    argv = [
        exe,
        "scan",
        "--experimental",
        "--json",
        "--metrics=off",
        "--disable-version-check",
        "--quiet",
        "--config",
        str(rule_pack_dir()),
        ".",
    ]
    done = subprocess.run(argv, cwd=root, capture_output=True, text=True, check=False)
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def check(root: Path, filters: Sequence[RuleFilter]) -> tuple[str, list[str]]:
    """The markdown row for `root` and the files with findings the prefilter would skip."""
    report = _semgrep(root)
    results = [r for r in report["results"] if isinstance(r, dict)]
    scanned = [str(p) for p in report["paths"]["scanned"]]
    hit = {str(r["path"]) for r in results}
    skipped = {p for p in scanned if not may_match(filters, (root / p).read_bytes())}
    lost = sorted(hit & skipped)
    row = (
        f"| {root.name} | {len(scanned)} | {len(results)} | {len(hit)} | {len(skipped)} | "
        f"{len(lost)} |"
    )
    return row, lost


def main(argv: Sequence[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    filters = pack_filters(rule_pack_dir())
    print(HEADER)
    lost_any = False
    for folder in map(Path, argv):
        row, lost = check(folder.resolve(), filters)
        print(row)
        for path in lost:
            print(f"  lost: {folder / path}", file=sys.stderr)
        lost_any = lost_any or bool(lost)
    return 1 if lost_any else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
