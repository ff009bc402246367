"""Many findings: deciding and writing every report format, and merging shard reports.

    python -m bench.scale decide N       # decide + every format for N synthetic findings
    python -m bench.scale merge N SHARDS  # `mlgate merge` of SHARDS json reports, N findings

Each measurement runs in a fresh child interpreter, which prints one JSON line: seconds of
wall and CPU for the work (imports excluded) and the child's peak RSS. A report writer it
forks (`bulk.Forked`) is counted in: its CPU added, its peak RSS added to the child's (an
upper bound: the two share their pages until either writes them). Findings are
generated from a fixed seed: six gates, every severity, 1-3 findings per file.
"""

from __future__ import annotations

# mlgate is imported by the measured child interpreter only, inside the functions it calls.
# ruff: noqa: PLC0415
import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SEED = 20_261_127
GATES = ("sast", "secrets", "deps", "models", "data", "model")
SEVERITIES = ("critical", "high", "medium", "low", "info")


def synthetic_findings(count: int, shard: int = 0) -> list[Any]:
    """`count` distinct findings (fingerprints unique), deterministic for (count, shard)."""
    from mlgate.findings import Finding, Severity

    rng = random.Random(SEED + shard)  # noqa: S311 (test data, not secrets)
    out = []
    for index in range(count):
        gate = GATES[index % len(GATES)]
        out.append(
            Finding(
                gate=gate,
                tool="semgrep" if gate == "sast" else "mlgate",
                rule_id=f"rule-{index % 37}",
                severity=Severity(SEVERITIES[rng.randrange(len(SEVERITIES))]),
                message=f"finding {index} of shard {shard}: a hazard was found here",
                path=f"pkg{index % 97}/module_{index // 3}.py",
                line=1 + index % 400,
                column=1,
                cwe="CWE-502",
                fingerprint=f"{shard:02d}{index:014x}",
            )
        )
    return out


def _run(count: int, shard: int, root: Path) -> tuple[Any, Any]:
    """A RunResult with `count` findings over the six gates, and the default policy."""
    from mlgate.gates import GateResult
    from mlgate.policy import load_policy
    from mlgate.repo import Repo
    from mlgate.runner import RunResult

    findings = synthetic_findings(count, shard)
    results = tuple(
        GateResult(  # files_scanned differs per shard: merge drops a report given twice
            gate,
            findings=tuple(f for f in findings if f.gate == gate),
            tools={"t": "1"},
            files_scanned=1000 + shard,
        )
        for gate in GATES
    )
    repo = Repo(root=root, files=(), is_git=True, commit=None)  # merge runs outside a checkout
    run = RunResult(repo, results, "2026-01-01T00:00:00+00:00", 1.0)
    return run, load_policy("default")


def measure_decide(count: int, out: Path) -> dict[str, float]:
    """decide() and every report format's files for `count` findings, written to `out`."""
    from mlgate.policy import decide
    from mlgate.report import FORMATS, Report, write_reports

    run, policy = _run(count, 0, out)
    wall, cpu = time.perf_counter(), time.process_time()
    decision = decide(policy, run.results)
    report = Report(run, policy, decision, {"kind": "full"})
    written = write_reports(report, sorted(FORMATS), out)
    return {
        "findings": len(decision.findings),
        "files": len(written),
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
    }


def write_shards(count: int, shards: int, folder: Path) -> list[Path]:
    """`shards` json reports (as `mlgate run --shard I/N --format json` writes them)."""
    from mlgate.policy import decide
    from mlgate.report import Report

    paths = []
    for shard in range(shards):
        run, policy = _run(count // shards, shard, folder)
        mode = {"kind": "full", "shard": f"{shard + 1}/{shards}"}
        report = Report(run, policy, decide(policy, run.results), mode)
        path = folder / f"shard{shard}.json"
        path.write_text(json.dumps(report.to_dict()), encoding="utf-8")
        paths.append(path)
    return paths


CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from bench import scale
wall, cpu = time.perf_counter(), time.process_time()
result = {call}
result.setdefault("wall", time.perf_counter() - wall)
result.setdefault("cpu", time.process_time() - cpu)
kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # a forked report writer's CPU
result["cpu"] += kids.ru_utime + kids.ru_stime
from mlgate.bulk import Forked  # and its peak RSS (its own, not git's)
result["maxrss_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + Forked.peak_kb) / 1024
print(json.dumps(result))
"""


def _child(call: str, cwd: Path) -> dict[str, float]:
    code = CHILD.format(root=str(Path(__file__).resolve().parents[1]), call=call)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(f"scale child failed: {done.stderr[-2000:]}")
    data: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return data


def decide_in_child(count: int, tmp: Path) -> dict[str, float]:
    out = tmp / f"decide-{count}"
    out.mkdir(parents=True, exist_ok=True)
    return _child(f"scale.measure_decide({count}, __import__('pathlib').Path({str(out)!r}))", tmp)


def merge_in_child(count: int, shards: int, tmp: Path) -> dict[str, float]:
    """Writes the shard reports (not timed), then times `mlgate merge` (its `run_main`, after
    the imports) in a fresh process, whose peak RSS is the merge's."""
    folder = tmp / f"merge-{count}"
    folder.mkdir(parents=True, exist_ok=True)
    target = f"__import__('pathlib').Path({str(folder)!r})"
    _child(f"{{'n': len(scale.write_shards({count}, {shards}, {target}))}}", tmp)
    paths = sorted(str(p) for p in folder.glob("shard*.json"))
    out = folder / "out"
    args = ["merge", *paths, "--format", "json", "--output", str(out)]
    got = _child(f"{{'code': __import__('mlgate.cli').cli.run_main({args!r})}}", tmp)
    if got["code"] not in (0, 1):
        raise RuntimeError(f"mlgate merge failed with exit code {got['code']}")
    merged = json.loads((out / "mlgate.json").read_text(encoding="utf-8"))
    return {**got, "findings": len(merged["findings"])}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="mlgate-scale-") as tmp:
        if args[:1] == ["decide"]:
            print(json.dumps(decide_in_child(int(args[1]), Path(tmp))))
        elif args[:1] == ["merge"]:
            print(json.dumps(merge_in_child(int(args[1]), int(args[2]), Path(tmp))))
        else:
            print(__doc__, file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
