"""The lines of issue 16 that no corpus run gives: start-up, many findings, merge, shards.

Each is measured in this run and printed as a PASS/MISS line with its numbers:

- start-up: `mlgate --version` and `mlgate --help` (wall, median of 5) against the goal of
  0.15 s, beside `python -c "import click"` (the command line's only import) measured the
  same way, so a MISS shows how much of it the machine's load explains;
- many findings: deciding and writing every report format (bench/scale.py) for 10k and
  100k synthetic findings: < 5 s, < 1 GB, and linear (CPU per finding at 100k within 1.5x
  of that at 10k); each the run of median wall time of 3;
- merge: `mlgate merge` of 8 shard reports holding 50,000 findings: < 2 s, < 300 MB (the
  run of median wall time of 3);
- shards: `mlgate run --shard I/4` over a generated corpus of `--large-files` Python files
  (20,000 by default), the CPU of the four shards together against one unsharded run
  (`--no-cache`, sast and secrets): <= 1.1x.

`--quick` shrinks each (2 start-ups, 1k/10k findings, 5k merged, 100 files) to check that it runs.
"""

from __future__ import annotations

import json
import random
import resource
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import scale
from bench.common import CHILD, median_run
from bench.corpora import commit_tree
from bench.environment import Env
from bench.synthetic import Synthetic

SEED = 20_261_127
SHARDS = 4


@dataclass
class Line:
    name: str
    goal: str
    value: str
    passed: bool | None  # None: could not be measured
    numbers: dict[str, Any]

    def row(self) -> str:
        verdict = {True: "PASS", False: "MISS", None: "n/a"}[self.passed]
        return f"| {self.name} | {self.goal} | {self.value} | {verdict} |"


def _timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (the process tree) and exit code of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, check=False, timeout=7200
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, cpu, done.returncode


def startup_lines(env: Env, tmp: Path, times: int) -> list[Line]:
    child = env.child_env()
    click = [_timed([env.python, "-c", "import click"], child, tmp)[0] for _ in range(times)]
    base = statistics.median(click)
    lines = []
    for flag in ("--version", "--help"):
        walls = [_timed([env.python, "-m", "mlgate", flag], child, tmp) for _ in range(times)]
        wall = statistics.median(w for w, _, _ in walls)
        cpu = statistics.median(c for _, c, _ in walls)
        lines.append(
            Line(
                f"`mlgate {flag}`",
                "<= 0.15 s",
                f"{wall:.3f} s wall, {cpu:.3f} s CPU (`import click` alone: {base:.3f} s)",
                wall <= 0.15,
                {"wall": wall, "cpu": cpu, "import_click_wall": base},
            )
        )
    return lines


def _wall(run: dict[str, float]) -> float:
    return run["wall"]


def findings_lines(quick: bool, tmp: Path) -> list[Line]:
    small, large = (1_000, 10_000) if quick else (10_000, 100_000)
    times = 1 if quick else 3
    first = median_run(lambda: scale.decide_in_child(small, tmp), times, _wall)
    second = median_run(lambda: scale.decide_in_child(large, tmp), times, _wall)
    per_small = first["cpu"] / small
    per_large = second["cpu"] / large
    linear = per_large <= 1.5 * per_small
    ok = second["wall"] < 5 and second["maxrss_mb"] < 1024 and linear
    value = (
        f"{large:,}: {second['wall']:.2f} s wall, {second['cpu']:.2f} s CPU, "
        f"{second['maxrss_mb']:.0f} MB; {small:,}: {first['cpu']:.2f} s CPU; CPU per finding "
        f"x{per_large / per_small:.2f} for x{large // small} findings"
    )
    goal = "< 5 s, < 1 GB, linear"
    return [Line("decide + every format", goal, value, ok, {"small": first, "large": second})]


def merge_line(quick: bool, tmp: Path) -> Line:
    count = 5_000 if quick else 50_000
    got = median_run(lambda: scale.merge_in_child(count, 8, tmp), 1 if quick else 3, _wall)
    ok = got["wall"] < 2 and got["maxrss_mb"] < 300
    value = (
        f"{int(got['findings']):,} findings: {got['wall']:.2f} s wall, {got['cpu']:.2f} s CPU, "
        f"{got['maxrss_mb']:.0f} MB"
    )
    return Line("`mlgate merge` of 8 shards", "< 2 s, < 300 MB", value, ok, got)


def large_corpus(tmp: Path, files: int) -> Path:
    """The synthetic repository, with enough modules per package for about `files` .py files."""
    root = tmp / "large"
    generator = Synthetic(root, random.Random(SEED), quick=False)  # noqa: S311 (data)
    generator.modules_per_package = max(1, files // 20 - 1)
    generator.write()
    commit_tree(root)
    return root


def shard_line(env: Env, tmp: Path, files: int) -> Line:
    root = large_corpus(tmp, files)
    child = {**env.child_env(), "MLGATE_CACHE_DIR": str(tmp / "shard-cache")}
    child["MLGATE_BENCH_STATS"] = str(tmp / "shard-stats.json")
    base = [env.python, "-c", CHILD, "run", str(root), "sast", "secrets", "--no-cache"]
    base += ["--quiet", "--format", "json"]
    # the unsharded run before and after the shards, their mean the reference: this VM's
    # speed drifts by 10-20% over minutes, and a drift between the two halves of the line
    # would read as a sharding cost
    wall, before, code = _timed([*base, "--output", str(tmp / "whole")], child, tmp)
    split_before = _cpu_split(tmp)
    shards = []
    split: dict[str, dict[str, float]] = {}
    for index in range(1, SHARDS + 1):
        out = str(tmp / f"shard{index}")
        shards.append(_timed([*base, "--shard", f"{index}/{SHARDS}", "--output", out], child, tmp))
        split[f"shard {index}"] = _cpu_split(tmp)
    _, after, code_after = _timed([*base, "--output", str(tmp / "whole")], child, tmp)
    split["unsharded"] = _mean_split(split_before, _cpu_split(tmp))
    whole = (before + after) / 2
    total = sum(cpu for _, cpu, _ in shards)
    codes = {code, code_after, *(c for _, _, c in shards)}
    measured = codes <= {0, 1}
    ratio = total / whole if whole else None
    value = (
        f"{files:,} files: 4 shards {total:.1f} s CPU vs unsharded {whole:.1f} s "
        f"(mean of {before:.1f} s before and {after:.1f} s after the shards) "
        f"(x{ratio:.2f}; exit codes {sorted(codes)}; {_split_text(split)})"
        if ratio is not None
        else "n/a"
    )
    numbers: dict[str, object] = {"files": files, "unsharded_cpu": whole, "unsharded_wall": wall}
    numbers["unsharded_cpu_before_after"] = [before, after]
    numbers["shards_cpu"] = [cpu for _, cpu, _ in shards]
    numbers["cpu_by_process"] = split
    passed = None if not measured or ratio is None else ratio <= 1.1
    return Line(f"`--shard I/{SHARDS}` CPU / unsharded", "<= 1.1x", value, passed, numbers)


def _mean_split(first: dict[str, float], second: dict[str, float]) -> dict[str, float]:
    return {k: (first.get(k, 0.0) + second.get(k, 0.0)) / 2 for k in {*first, *second}}


def _cpu_split(tmp: Path) -> dict[str, float]:
    """CPU seconds of the last run by process: mlgate's own and each tool's (the bench child
    writes them to MLGATE_BENCH_STATS, read once and removed)."""
    stats_file = tmp / "shard-stats.json"
    try:
        stats = json.loads(stats_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    stats_file.unlink()
    split = {"mlgate": float(stats.get("cpu", 0.0))}
    for reaped in stats.get("reaped", []):
        split[reaped["tool"]] = split.get(reaped["tool"], 0.0) + float(reaped["cpu"])
    return split


def _split_text(split: dict[str, dict[str, float]]) -> str:
    """`mlgate 3.1 / 4 shards 9.0 s, bandit ...`: each process's CPU, unsharded vs shards."""
    names = sorted({name for by_name in split.values() for name in by_name})
    sharded = [v for k, v in split.items() if k != "unsharded"]
    parts = []
    for name in names:
        alone = split.get("unsharded", {}).get(name, 0.0)
        together = sum(by_name.get(name, 0.0) for by_name in sharded)
        parts.append(f"{name} {alone:.1f} -> {together:.1f}")
    return "CPU s unsharded -> 4 shards: " + ", ".join(parts)


def measure_lines(env: Env, tmp: Path, quick: bool, large_files: int) -> list[Line]:
    folder = tmp / "speed"
    folder.mkdir(parents=True, exist_ok=True)
    lines = startup_lines(env, folder, 2 if quick else 5)
    lines += findings_lines(quick, folder)
    lines.append(merge_line(quick, folder))
    lines.append(shard_line(env, folder, 100 if quick else large_files))
    return lines


def table(lines: list[Line]) -> str:
    out = ["| line (issue 16) | goal | measured | verdict |", "|---|---|---|---|"]
    out += [line.row() for line in lines]
    return "\n".join(out)
