"""Smoke test of the benchmark script: it runs end to end on the bundled examples.

Not the benchmark itself (that is `python bench/bench.py`, see bench/README.md): this only
checks that the script works and prints its table. Deselect with `-m "not slow"`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_quick_examples_prints_the_table(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("GITHUB_STEP_SUMMARY", None)
    done = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "bench" / "bench.py"),
            "--quick",
            "--corpus",
            "examples",
            "--repeat",
            "1",
            "--settle",
            "0",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| metric | goal | examples |" in done.stdout
    for row in ("cold / sum of raw tools", "warm re-run", "mlgate overhead", "peak RSS"):
        assert row in done.stdout
    assert "PASS" in done.stdout or "MISS" in done.stdout
    imports = [r for r in done.stdout.splitlines() if "the imports it needs, alone" in r]
    assert len(imports) == 1 and re.search(r"\| \d+\.\d\d s \|", imports[0]), imports
    assert "| line (issue 16) | goal | measured | verdict |" in done.stdout
    for line in ("`mlgate --version`", "decide + every format", "`mlgate merge` of 8 shards"):
        assert line in done.stdout
    assert out.is_file()
